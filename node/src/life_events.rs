//! Life events and the transitions a stored record may make.
//!
//! Two halves, both pure. [`validate`] checks an event on its own (dates, places, referenced IDs)
//! before it is proposed. [`apply`] runs at apply time on every replica against the stored record and
//! the proposal's date, so every replica reaches the same decision: the state a record is in decides
//! which events it accepts (a deceased person does not move; a cancelled ID takes no writes).
//! [`check_put`] applies the same rules to whole-record writes.
//!
//! Cross-partition events are two single-partition writes, each idempotent:
//! - marriage: the lower personal ID's side first, then the other's; a retry re-runs both;
//! - ID correction: [`pb::IdCorrection`] creates the corrected record at the new ID first, then
//!   [`pb::IdCancellation`] marks the old ID, so a reader never follows a pointer to nothing.

use dancu_proto::v1 as pb;
use dancu_proto::v1::{LifeStatus, MaritalStatus};

use crate::citizen::{self, CalendarDate, FieldError};
use crate::personal_id::PersonalId;

/// Why the stored state refuses a write. The whole write is refused; nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no citizen with this personal ID")]
    NotFound,
    #[error("a citizen with this personal ID is already registered")]
    AlreadyExists,
    #[error("the personal ID was cancelled and replaced by {0}; write to the new ID")]
    Replaced(String),
    #[error("the citizen is deceased: {0} refused")]
    Deceased(&'static str),
    #[error("already recorded as deceased")]
    AlreadyDeceased,
    #[error("already married to {0}")]
    MarriedToOther(String),
    #[error("{0}")]
    InvalidDate(String),
}

/// What an accepted event does to the record.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Write this record (revision and timestamp are set by the state machine).
    Write(Box<pb::Citizen>),
    /// The record already reflects the event (an idempotent repeat): nothing to write.
    Unchanged,
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_string(), message: message.into() }
}

fn required_date(field: &str, date: Option<&pb::Date>, today: CalendarDate) -> Result<CalendarDate, FieldError> {
    let Some(date) = date else {
        return Err(field_error(field, "required"));
    };
    let parsed = citizen::calendar_date(field, date)?;
    if parsed > today {
        return Err(field_error(field, format!("{parsed} is in the future")));
    }
    Ok(parsed)
}

fn check_id(field: &str, id: &str) -> Result<(), FieldError> {
    PersonalId::parse(id).map(|_| ()).map_err(|error| field_error(field, error.to_string()))
}

/// Checks an event on its own, before it is proposed. Field paths are relative to the request.
pub fn validate(event: &pb::LifeEvent, today: CalendarDate) -> Result<(), FieldError> {
    check_id("event.id", &event.id)?;
    let Some(kind) = &event.kind else {
        return Err(field_error("event.kind", "required: birth, death, move, household_change, marriage, ..."));
    };
    match kind {
        pb::life_event::Kind::Birth(birth) => {
            let record = birth.citizen.as_ref().ok_or_else(|| field_error("event.birth.citizen", "required"))?;
            validate_record("event.birth.citizen", record, today)?;
            if record.id != event.id {
                return Err(field_error("event.birth.citizen.id", "must equal event.id"));
            }
        }
        pb::life_event::Kind::Death(_) => {
            required_date("event.date", event.date.as_ref(), today)?;
        }
        pb::life_event::Kind::Move(moved) => {
            required_date("event.date", event.date.as_ref(), today)?;
            let places = [&moved.permanent_residence, &moved.temporary_residence, &moved.current_residence];
            if places.iter().all(|place| place.is_none()) {
                return Err(field_error("event.move", "names no new place"));
            }
            citizen::check_place("event.move.permanent_residence", moved.permanent_residence.as_ref())?;
            citizen::check_place("event.move.temporary_residence", moved.temporary_residence.as_ref())?;
            citizen::check_place("event.move.current_residence", moved.current_residence.as_ref())?;
        }
        pb::life_event::Kind::HouseholdChange(change) => {
            if let Some(date) = &event.date {
                required_date("event.date", Some(date), today)?;
            }
            citizen::check_short_text("event.household_change.household_id", &change.household_id, true)?;
            citizen::check_short_text(
                "event.household_change.relationship_to_head",
                &change.relationship_to_head,
                false,
            )?;
            citizen::check_place("event.household_change.permanent_residence", change.permanent_residence.as_ref())?;
        }
        pb::life_event::Kind::Marriage(marriage) => {
            required_date("event.date", event.date.as_ref(), today)?;
            let spouse = marriage.spouse.as_ref().ok_or_else(|| field_error("event.marriage.spouse", "required"))?;
            citizen::check_person_ref("event.marriage.spouse", Some(spouse))?;
            check_id("event.marriage.spouse.id", &spouse.id)?;
            if spouse.id == event.id {
                return Err(field_error("event.marriage.spouse.id", "a person cannot marry themself"));
            }
        }
        pb::life_event::Kind::IdCorrection(correction) => {
            check_id("event.id_correction.old_id", &correction.old_id)?;
            let record = correction
                .corrected
                .as_ref()
                .ok_or_else(|| field_error("event.id_correction.corrected", "required"))?;
            validate_record("event.id_correction.corrected", record, today)?;
            if record.id != event.id {
                return Err(field_error("event.id_correction.corrected.id", "must equal event.id"));
            }
            if correction.old_id == event.id {
                return Err(field_error("event.id_correction.old_id", "must differ from the corrected ID"));
            }
        }
        pb::life_event::Kind::IdCancellation(cancellation) => {
            check_id("event.id_cancellation.replaced_by", &cancellation.replaced_by)?;
            if cancellation.replaced_by == event.id {
                return Err(field_error("event.id_cancellation.replaced_by", "must differ from event.id"));
            }
        }
    }
    Ok(())
}

/// Validates an embedded record, naming fields under `path` instead of `citizen`.
fn validate_record(path: &str, record: &pb::Citizen, today: CalendarDate) -> Result<(), FieldError> {
    citizen::validate(record, today)
        .map(|_| ())
        .map_err(|error| FieldError { field: error.field.replacen("citizen", path, 1), message: error.message })
}

fn residences(record: &pb::Citizen) -> [&Option<pb::Place>; 3] {
    [&record.permanent_residence, &record.temporary_residence, &record.current_residence]
}

/// Whole-record writes obey the same state rules as events.
pub fn check_put(current: Option<&pb::Citizen>, new: &pb::Citizen) -> Result<(), Refusal> {
    let Some(current) = current else {
        return Ok(());
    };
    if !current.replaced_by.is_empty() {
        return Err(Refusal::Replaced(current.replaced_by.clone()));
    }
    if current.status == LifeStatus::Deceased as i32 && residences(current) != residences(new) {
        return Err(Refusal::Deceased("a residence change"));
    }
    Ok(())
}

/// A live, current record the event may change.
fn live<'a>(current: Option<&'a pb::Citizen>, what: &'static str) -> Result<&'a pb::Citizen, Refusal> {
    let current = current.ok_or(Refusal::NotFound)?;
    if !current.replaced_by.is_empty() {
        return Err(Refusal::Replaced(current.replaced_by.clone()));
    }
    if current.status == LifeStatus::Deceased as i32 {
        return Err(Refusal::Deceased(what));
    }
    Ok(current)
}

/// The event date must not precede the person's birth.
fn not_before_birth(record: &pb::Citizen, date: Option<&pb::Date>) -> Result<(), Refusal> {
    let (Some(date), Some(dob)) = (date, record.date_of_birth.as_ref()) else {
        return Ok(());
    };
    let key = |d: &pb::Date| (d.year, d.month, d.day);
    if key(date) < key(dob) {
        return Err(Refusal::InvalidDate(format!(
            "event date {:04}-{:02}-{:02} is before the date of birth",
            date.year, date.month, date.day
        )));
    }
    Ok(())
}

/// `next` starts as a clone of `current`, so plain equality means "the event changed nothing".
fn unchanged_or_write(current: &pb::Citizen, next: pb::Citizen) -> Transition {
    if *current == next {
        Transition::Unchanged
    } else {
        Transition::Write(Box::new(next))
    }
}

/// Applies a validated event to the stored record (`current`) of `event.id`.
pub fn apply(current: Option<&pb::Citizen>, event: &pb::LifeEvent) -> Result<Transition, Refusal> {
    let Some(kind) = &event.kind else {
        return Err(Refusal::InvalidDate("event without a kind".into()));
    };
    match kind {
        pb::life_event::Kind::Birth(birth) => {
            if current.is_some() {
                return Err(Refusal::AlreadyExists);
            }
            let mut record = birth.citizen.clone().unwrap_or_default();
            if record.status == LifeStatus::Unspecified as i32 {
                record.status = LifeStatus::Alive as i32;
            }
            Ok(Transition::Write(Box::new(record)))
        }
        pb::life_event::Kind::Death(_) => {
            let current = current.ok_or(Refusal::NotFound)?;
            if !current.replaced_by.is_empty() {
                return Err(Refusal::Replaced(current.replaced_by.clone()));
            }
            if current.status == LifeStatus::Deceased as i32 {
                return if current.status_date == event.date {
                    Ok(Transition::Unchanged)
                } else {
                    Err(Refusal::AlreadyDeceased)
                };
            }
            not_before_birth(current, event.date.as_ref())?;
            let mut next = current.clone();
            next.status = LifeStatus::Deceased as i32;
            next.status_date = event.date;
            Ok(Transition::Write(Box::new(next)))
        }
        pb::life_event::Kind::Move(moved) => {
            let current = live(current, "a residence change")?;
            not_before_birth(current, event.date.as_ref())?;
            let mut next = current.clone();
            for (slot, place) in [
                (&mut next.permanent_residence, &moved.permanent_residence),
                (&mut next.temporary_residence, &moved.temporary_residence),
                (&mut next.current_residence, &moved.current_residence),
            ] {
                if place.is_some() {
                    *slot = place.clone();
                }
            }
            Ok(unchanged_or_write(current, next))
        }
        pb::life_event::Kind::HouseholdChange(change) => {
            let current = live(current, "a household change")?;
            not_before_birth(current, event.date.as_ref())?;
            let mut next = current.clone();
            next.household_id = change.household_id.clone();
            next.relationship_to_head = change.relationship_to_head.clone();
            if change.permanent_residence.is_some() {
                next.permanent_residence = change.permanent_residence.clone();
            }
            Ok(unchanged_or_write(current, next))
        }
        pb::life_event::Kind::Marriage(marriage) => {
            let current = live(current, "a marriage")?;
            not_before_birth(current, event.date.as_ref())?;
            let spouse = marriage.spouse.clone().unwrap_or_default();
            let married = current.marital_status == MaritalStatus::Married as i32;
            if let Some(existing) = current.spouse.as_ref().filter(|s| married && !s.id.is_empty()) {
                if existing.id != spouse.id {
                    return Err(Refusal::MarriedToOther(existing.id.clone()));
                }
            }
            let mut next = current.clone();
            next.spouse = Some(spouse);
            next.marital_status = MaritalStatus::Married as i32;
            Ok(unchanged_or_write(current, next))
        }
        pb::life_event::Kind::IdCorrection(correction) => {
            if let Some(current) = current {
                // A repeat of this correction finds its own result.
                return if current.earlier_ids.contains(&correction.old_id) {
                    Ok(Transition::Unchanged)
                } else {
                    Err(Refusal::AlreadyExists)
                };
            }
            let mut record = correction.corrected.clone().unwrap_or_default();
            if !record.earlier_ids.contains(&correction.old_id) {
                record.earlier_ids.push(correction.old_id.clone());
            }
            if record.status == LifeStatus::Unspecified as i32 {
                record.status = LifeStatus::Alive as i32;
            }
            Ok(Transition::Write(Box::new(record)))
        }
        pb::life_event::Kind::IdCancellation(cancellation) => {
            let current = current.ok_or(Refusal::NotFound)?;
            if current.replaced_by == cancellation.replaced_by {
                return Ok(Transition::Unchanged);
            }
            if !current.replaced_by.is_empty() {
                return Err(Refusal::Replaced(current.replaced_by.clone()));
            }
            let mut next = current.clone();
            next.replaced_by = cancellation.replaced_by.clone();
            Ok(Transition::Write(Box::new(next)))
        }
    }
}

#[cfg(test)]
mod tests {
    use dancu_proto::v1::{Date, PersonRef, Place, Sex};

    use super::*;

    const TODAY: CalendarDate = CalendarDate { year: 2026, month: 11, day: 24 };

    fn person() -> pb::Citizen {
        pb::Citizen {
            id: "001085012345".into(),
            full_name: "Nguyễn Văn An".into(),
            date_of_birth: Some(Date { year: 1985, month: 3, day: 14 }),
            sex: Sex::Male as i32,
            status: LifeStatus::Alive as i32,
            permanent_residence: Some(Place { province_code: "001".into(), ..Default::default() }),
            revision: 3,
            ..Default::default()
        }
    }

    fn event(kind: pb::life_event::Kind, date: Option<Date>) -> pb::LifeEvent {
        pb::LifeEvent { id: "001085012345".into(), date, kind: Some(kind) }
    }

    fn date(year: u32, month: u32, day: u32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    fn moved_to(code: &str) -> pb::life_event::Kind {
        pb::life_event::Kind::Move(pb::Move {
            current_residence: Some(Place { province_code: code.into(), ..Default::default() }),
            ..Default::default()
        })
    }

    #[test]
    fn a_deceased_person_does_not_move() {
        let death = event(pb::life_event::Kind::Death(pb::Death {}), date(2020, 1, 2));
        assert_eq!(validate(&death, TODAY), Ok(()));
        let Ok(Transition::Write(dead)) = apply(Some(&person()), &death) else { panic!("death applies") };
        assert_eq!(dead.status, LifeStatus::Deceased as i32);
        assert_eq!(dead.status_date, date(2020, 1, 2));
        let relocation = event(moved_to("079"), date(2021, 1, 1));
        assert_eq!(apply(Some(&dead), &relocation), Err(Refusal::Deceased("a residence change")));
        // The same rule holds for a whole-record put.
        let mut put = dead.clone();
        put.current_residence = Some(Place { province_code: "079".into(), ..Default::default() });
        assert_eq!(check_put(Some(&dead), &put), Err(Refusal::Deceased("a residence change")));
        assert_eq!(check_put(Some(&dead), &dead), Ok(()));
        // A repeated death with the same date is idempotent; another date is refused.
        assert_eq!(apply(Some(&dead), &death), Ok(Transition::Unchanged));
        let other = event(pb::life_event::Kind::Death(pb::Death {}), date(2020, 1, 3));
        assert_eq!(apply(Some(&dead), &other), Err(Refusal::AlreadyDeceased));
    }

    #[test]
    fn events_before_birth_or_in_the_future_are_refused() {
        let early = event(pb::life_event::Kind::Death(pb::Death {}), date(1980, 1, 1));
        assert!(matches!(apply(Some(&person()), &early), Err(Refusal::InvalidDate(_))));
        let future = event(pb::life_event::Kind::Death(pb::Death {}), date(2030, 1, 1));
        assert_eq!(validate(&future, TODAY).map_err(|e| e.field), Err("event.date".to_string()));
        let undated = event(moved_to("079"), None);
        assert_eq!(validate(&undated, TODAY).map_err(|e| e.field), Err("event.date".to_string()));
    }

    #[test]
    fn marriage_is_idempotent_and_exclusive() {
        let spouse =
            PersonRef { full_name: "Trần Thị Bình".into(), id: "001187000001".into(), ..Default::default() };
        let marriage = event(pb::life_event::Kind::Marriage(pb::Marriage { spouse: Some(spouse) }), date(2010, 5, 1));
        assert_eq!(validate(&marriage, TODAY), Ok(()));
        let Ok(Transition::Write(married)) = apply(Some(&person()), &marriage) else { panic!("marriage applies") };
        assert_eq!(married.marital_status, MaritalStatus::Married as i32);
        assert_eq!(apply(Some(&married), &marriage), Ok(Transition::Unchanged));
        let other = PersonRef { full_name: "Lê Thị Cúc".into(), id: "001190000002".into(), ..Default::default() };
        let second = event(pb::life_event::Kind::Marriage(pb::Marriage { spouse: Some(other) }), date(2012, 5, 1));
        assert_eq!(apply(Some(&married), &second), Err(Refusal::MarriedToOther("001187000001".into())));
        let own = PersonRef { id: "001085012345".into(), ..Default::default() };
        let selfie = event(pb::life_event::Kind::Marriage(pb::Marriage { spouse: Some(own) }), date(2012, 5, 1));
        assert!(validate(&selfie, TODAY).is_err());
    }

    #[test]
    fn id_correction_creates_then_cancels() {
        let mut corrected = person();
        corrected.id = "001185012345".into();
        corrected.sex = Sex::Female as i32;
        corrected.revision = 0;
        let create = pb::LifeEvent {
            id: corrected.id.clone(),
            date: None,
            kind: Some(pb::life_event::Kind::IdCorrection(pb::IdCorrection {
                old_id: "001085012345".into(),
                corrected: Some(corrected.clone()),
            })),
        };
        assert_eq!(validate(&create, TODAY), Ok(()));
        let Ok(Transition::Write(new_record)) = apply(None, &create) else { panic!("correction applies") };
        assert_eq!(new_record.earlier_ids, vec!["001085012345".to_string()]);
        assert_eq!(apply(Some(&new_record), &create), Ok(Transition::Unchanged));

        let cancel =
            event(pb::life_event::Kind::IdCancellation(pb::IdCancellation { replaced_by: corrected.id.clone() }), None);
        let Ok(Transition::Write(old)) = apply(Some(&person()), &cancel) else { panic!("cancellation applies") };
        assert_eq!(old.replaced_by, "001185012345");
        assert_eq!(apply(Some(&old), &cancel), Ok(Transition::Unchanged));
        // The cancelled ID takes no further writes.
        assert_eq!(
            apply(Some(&old), &event(moved_to("079"), date(2021, 1, 1))),
            Err(Refusal::Replaced(old.replaced_by.clone()))
        );
        assert_eq!(check_put(Some(&old), &person()), Err(Refusal::Replaced(old.replaced_by.clone())));
    }

    #[test]
    fn birth_needs_a_new_id() {
        let mut baby = person();
        baby.revision = 0;
        let birth = event(pb::life_event::Kind::Birth(pb::Birth { citizen: Some(baby.clone()) }), None);
        assert_eq!(validate(&birth, TODAY), Ok(()));
        assert!(matches!(apply(None, &birth), Ok(Transition::Write(_))));
        assert_eq!(apply(Some(&person()), &birth), Err(Refusal::AlreadyExists));
        let mut wrong = birth.clone();
        wrong.id = "001085099999".into();
        assert_eq!(validate(&wrong, TODAY).map_err(|e| e.field), Err("event.birth.citizen.id".to_string()));
    }
}
