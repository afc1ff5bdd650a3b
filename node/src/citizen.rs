//! Validation of a citizen record before it is proposed (DESIGN.md "The citizen record").
//!
//! Validation is pure: "today" is passed in, so the same record validates the same way in tests.
//! A rejected record names the offending field with its path in the request (`citizen.sex`).

use dancu_cluster_config::provinces;
use dancu_proto::v1::{BloodType, Citizen, Date, LifeStatus, MaritalStatus, PersonRef, Place, Sex};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::limits::{ADDRESS_LINE_CHARS_MAX, BIRTH_YEAR_MIN, EARLIER_IDS_MAX, NAME_CHARS_MAX, SHORT_TEXT_CHARS_MAX};
use crate::personal_id::{IdSex, PersonalId, PersonalIdError};

/// A record field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the field in the request, e.g. `citizen.date_of_birth`.
    pub field: String,
    pub message: String,
}

fn fail<T>(field: &str, message: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError { field: field.to_string(), message: message.into() })
}

/// A calendar date with a total order, for comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CalendarDate {
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl CalendarDate {
    pub fn today_utc() -> CalendarDate {
        use chrono::Datelike;
        let now = chrono::Utc::now().date_naive();
        CalendarDate { year: now.year() as u32, month: now.month(), day: now.day() }
    }
}

impl std::fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn parse_date(field: &str, date: Option<&Date>) -> Result<CalendarDate, FieldError> {
    let Some(date) = date else {
        return fail(field, "required");
    };
    let valid = i32::try_from(date.year)
        .ok()
        .and_then(|year| chrono::NaiveDate::from_ymd_opt(year, date.month, date.day))
        .is_some();
    if !valid {
        return fail(field, format!("{:04}-{:02}-{:02} is not a calendar date", date.year, date.month, date.day));
    }
    Ok(CalendarDate { year: date.year, month: date.month, day: date.day })
}

/// A required, valid calendar date (any range).
pub fn calendar_date(field: &str, date: &Date) -> Result<CalendarDate, FieldError> {
    parse_date(field, Some(date))
}

/// Short text (household id, relationship, ...): NFC, bounded, no control characters.
pub fn check_short_text(field: &str, text: &str, required: bool) -> Result<(), FieldError> {
    check_text(field, text, SHORT_TEXT_CHARS_MAX, required)
}

/// Checks an optional date: valid, not before `not_before`, not after `today`.
fn check_optional_date(
    field: &str,
    date: Option<&Date>,
    not_before: CalendarDate,
    today: CalendarDate,
) -> Result<(), FieldError> {
    if date.is_none() {
        return Ok(());
    }
    let parsed = parse_date(field, date)?;
    if parsed < not_before {
        return fail(field, format!("{parsed} is before {not_before}"));
    }
    if parsed > today {
        return fail(field, format!("{parsed} is in the future"));
    }
    Ok(())
}

/// Names and free text: NFC, bounded, no control characters. `required` rejects empty text.
fn check_text(field: &str, text: &str, chars_max: usize, required: bool) -> Result<(), FieldError> {
    if text.is_empty() {
        return if required { fail(field, "required") } else { Ok(()) };
    }
    if text.trim() != text {
        return fail(field, "leading or trailing whitespace");
    }
    if text.chars().any(char::is_control) {
        return fail(field, "contains a control character");
    }
    let n_chars = text.chars().count();
    if n_chars > chars_max {
        return fail(field, format!("{n_chars} characters, at most {chars_max} allowed"));
    }
    let is_nfc = match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => true,
        IsNormalized::No => false,
        IsNormalized::Maybe => text.nfc().eq(text.chars()),
    };
    if !is_nfc {
        return fail(field, "not NFC-normalized UTF-8");
    }
    Ok(())
}

fn check_digits(field: &str, text: &str, n_digits: usize) -> Result<(), FieldError> {
    if text.is_empty() {
        return Ok(());
    }
    if text.len() != n_digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return fail(field, format!("must be exactly {n_digits} ASCII digits"));
    }
    Ok(())
}

fn check_province_code(field: &str, code: &str) -> Result<(), FieldError> {
    if code.is_empty() || provinces::province(code).is_some() {
        return Ok(());
    }
    fail(field, format!("province code {code:?} does not exist"))
}

pub fn check_place(field: &str, place: Option<&Place>) -> Result<(), FieldError> {
    let Some(place) = place else {
        return Ok(());
    };
    check_province_code(&format!("{field}.province_code"), &place.province_code)?;
    check_digits(&format!("{field}.commune_code"), &place.commune_code, 5)?;
    check_text(&format!("{field}.address_line"), &place.address_line, ADDRESS_LINE_CHARS_MAX, false)
}

pub fn check_person_ref(field: &str, person: Option<&PersonRef>) -> Result<(), FieldError> {
    let Some(person) = person else {
        return Ok(());
    };
    check_text(&format!("{field}.full_name"), &person.full_name, NAME_CHARS_MAX, false)?;
    check_text(&format!("{field}.nationality"), &person.nationality, SHORT_TEXT_CHARS_MAX, false)?;
    if !person.id.is_empty() {
        if let Err(error) = PersonalId::parse(&person.id) {
            return fail(&format!("{field}.id"), error.to_string());
        }
    }
    Ok(())
}

fn check_identity(citizen: &Citizen, today: CalendarDate) -> Result<PersonalId, FieldError> {
    let id = match PersonalId::parse(&citizen.id) {
        Ok(id) => id,
        Err(PersonalIdError::Format) => return fail("citizen.id", "must be exactly 12 ASCII digits"),
        Err(error) => return fail("citizen.id", error.to_string()),
    };
    let dob = parse_date("citizen.date_of_birth", citizen.date_of_birth.as_ref())?;
    let earliest = CalendarDate { year: BIRTH_YEAR_MIN, month: 1, day: 1 };
    if dob < earliest {
        return fail("citizen.date_of_birth", format!("date of birth {dob} is before {earliest}"));
    }
    if dob > today {
        return fail("citizen.date_of_birth", format!("date of birth {dob} is in the future"));
    }
    let sex = match Sex::try_from(citizen.sex) {
        Ok(Sex::Male) => IdSex::Male,
        Ok(Sex::Female) => IdSex::Female,
        _ => return fail("citizen.sex", "must be male or female"),
    };
    if sex != id.sex() {
        return fail("citizen.sex", "disagrees with the sex/century digit of the personal ID");
    }
    if id.birth_year() != dob.year {
        return fail(
            "citizen.date_of_birth",
            format!("birth year {} disagrees with the personal ID (which encodes {})", dob.year, id.birth_year()),
        );
    }
    Ok(id)
}

/// Validates a record as received from a caller. Server-set fields (revision, updated_at) are ignored.
pub fn validate(citizen: &Citizen, today: CalendarDate) -> Result<PersonalId, FieldError> {
    let id = check_identity(citizen, today)?;
    let dob = parse_date("citizen.date_of_birth", citizen.date_of_birth.as_ref())?;
    check_text("citizen.full_name", &citizen.full_name, NAME_CHARS_MAX, true)?;
    check_text("citizen.other_name", &citizen.other_name, NAME_CHARS_MAX, false)?;
    check_place("citizen.birth_registration_place", citizen.birth_registration_place.as_ref())?;
    check_place("citizen.hometown", citizen.hometown.as_ref())?;
    check_place("citizen.permanent_residence", citizen.permanent_residence.as_ref())?;
    check_place("citizen.temporary_residence", citizen.temporary_residence.as_ref())?;
    check_place("citizen.current_residence", citizen.current_residence.as_ref())?;
    check_text("citizen.ethnicity", &citizen.ethnicity, SHORT_TEXT_CHARS_MAX, false)?;
    check_text("citizen.religion", &citizen.religion, SHORT_TEXT_CHARS_MAX, false)?;
    check_text("citizen.nationality", &citizen.nationality, SHORT_TEXT_CHARS_MAX, false)?;
    if BloodType::try_from(citizen.blood_type).is_err() {
        return fail("citizen.blood_type", "unknown blood type");
    }
    check_text("citizen.household_id", &citizen.household_id, SHORT_TEXT_CHARS_MAX, false)?;
    check_text("citizen.relationship_to_head", &citizen.relationship_to_head, SHORT_TEXT_CHARS_MAX, false)?;
    check_person_ref("citizen.father", citizen.father.as_ref())?;
    check_person_ref("citizen.mother", citizen.mother.as_ref())?;
    check_person_ref("citizen.spouse", citizen.spouse.as_ref())?;
    check_person_ref("citizen.legal_representative", citizen.legal_representative.as_ref())?;
    if LifeStatus::try_from(citizen.status).is_err() {
        return fail("citizen.status", "unknown status");
    }
    check_optional_date("citizen.status_date", citizen.status_date.as_ref(), dob, today)?;
    check_digits("citizen.id_card_number", &citizen.id_card_number, 12)?;
    check_optional_date("citizen.id_card_issue_date", citizen.id_card_issue_date.as_ref(), dob, today)?;
    check_digits("citizen.legacy_id_number", &citizen.legacy_id_number, 9)?;
    if MaritalStatus::try_from(citizen.marital_status).is_err() {
        return fail("citizen.marital_status", "unknown marital status");
    }
    if citizen.earlier_ids.len() > EARLIER_IDS_MAX {
        return fail("citizen.earlier_ids", format!("at most {EARLIER_IDS_MAX} earlier IDs"));
    }
    for (idx, earlier) in citizen.earlier_ids.iter().enumerate() {
        if let Err(error) = PersonalId::parse(earlier) {
            return fail(&format!("citizen.earlier_ids[{idx}]"), error.to_string());
        }
    }
    if !citizen.replaced_by.is_empty() {
        return fail("citizen.replaced_by", "set only by an ID correction (RecordLifeEvent id_cancellation)");
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TODAY: CalendarDate = CalendarDate { year: 2026, month: 11, day: 24 };

    fn date(year: u32, month: u32, day: u32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    fn valid() -> Citizen {
        Citizen {
            id: "001085012345".into(),
            full_name: "Nguyễn Văn An".into(),
            date_of_birth: date(1985, 3, 14),
            sex: Sex::Male as i32,
            ..Default::default()
        }
    }

    fn check(edit: impl FnOnce(&mut Citizen), expected_field: Option<&str>) {
        let mut citizen = valid();
        edit(&mut citizen);
        let got = validate(&citizen, TODAY).err().map(|e| e.field);
        assert_eq!(got.as_deref(), expected_field, "{citizen:?}");
    }

    #[test]
    fn each_rule_names_its_field() {
        check(|_| {}, None);
        check(|c| c.id = "00108501234".into(), Some("citizen.id"));
        check(|c| c.id = "003085012345".into(), Some("citizen.id"));
        check(|c| c.sex = Sex::Female as i32, Some("citizen.sex"));
        check(|c| c.sex = Sex::Unspecified as i32, Some("citizen.sex"));
        check(|c| c.sex = 17, Some("citizen.sex"));
        check(|c| c.date_of_birth = date(1986, 3, 14), Some("citizen.date_of_birth"));
        check(|c| c.date_of_birth = date(1850, 1, 1), Some("citizen.date_of_birth"));
        check(|c| c.date_of_birth = date(1985, 13, 1), Some("citizen.date_of_birth"));
        check(|c| c.date_of_birth = date(1985, 2, 30), Some("citizen.date_of_birth"));
        check(|c| c.date_of_birth = None, Some("citizen.date_of_birth"));
        check(
            |c| {
                c.id = "001227012345".into();
                c.date_of_birth = date(2027, 1, 1);
            },
            Some("citizen.date_of_birth"),
        );
        check(|c| c.full_name = String::new(), Some("citizen.full_name"));
        check(|c| c.full_name = "Nguye\u{0302}\u{0303}n Văn An".into(), Some("citizen.full_name"));
        check(|c| c.full_name = "a".repeat(NAME_CHARS_MAX + 1), Some("citizen.full_name"));
        check(|c| c.full_name = "a".repeat(NAME_CHARS_MAX), None);
        check(|c| c.full_name = "An\u{0007}".into(), Some("citizen.full_name"));
        check(|c| c.full_name = " An".into(), Some("citizen.full_name"));
        check(
            |c| c.permanent_residence = Some(Place { province_code: "099".into(), ..Default::default() }),
            Some("citizen.permanent_residence.province_code"),
        );
        check(|c| c.father = Some(PersonRef { id: "12".into(), ..Default::default() }), Some("citizen.father.id"));
        check(|c| c.legacy_id_number = "12345678".into(), Some("citizen.legacy_id_number"));
        check(|c| c.legacy_id_number = "123456789".into(), None);
        check(|c| c.status_date = date(1984, 1, 1), Some("citizen.status_date"));
        check(|c| c.blood_type = 9, Some("citizen.blood_type"));
        check(|c| c.status = 9, Some("citizen.status"));
    }

    fn valid_id_strategy() -> impl Strategy<Value = (Citizen, u32)> {
        let codes: Vec<&'static str> = provinces::PROVINCES.iter().map(|p| p.code).collect();
        (prop::sample::select(codes), 0u32..=2, any::<bool>(), 0u32..100, 0u32..1_000_000, 1u32..=12, 1u32..=28)
            .prop_filter_map("birth in the past", |(code, century_idx, female, yy, serial, month, day)| {
                let year = 1900 + century_idx * 100 + yy;
                let dob = CalendarDate { year, month, day };
                if dob > TODAY {
                    return None;
                }
                let digit = century_idx * 2 + u32::from(female);
                let citizen = Citizen {
                    id: format!("{code}{digit}{yy:02}{serial:06}"),
                    full_name: "Trần Thị Bình".into(),
                    date_of_birth: date(year, month, day),
                    sex: if female { Sex::Female as i32 } else { Sex::Male as i32 },
                    ..Default::default()
                };
                Some((citizen, digit))
            })
    }

    proptest! {
        #[test]
        fn valid_ids_always_pass((citizen, _digit) in valid_id_strategy()) {
            prop_assert_eq!(validate(&citizen, TODAY).err(), None);
        }

        #[test]
        fn changing_the_century_digit_fails((citizen, digit) in valid_id_strategy(), other in 0u32..10) {
            prop_assume!(other != digit);
            let mut changed = citizen;
            changed.id.replace_range(3..4, &other.to_string());
            prop_assert!(validate(&changed, TODAY).is_err());
        }

        #[test]
        fn changing_the_year_fails((citizen, _digit) in valid_id_strategy(), delta in 1u32..99) {
            let mut changed = citizen;
            let yy: u32 = changed.id[4..6].parse().unwrap();
            let new_yy = (yy + delta) % 100;
            changed.id.replace_range(4..6, &format!("{new_yy:02}"));
            prop_assert!(validate(&changed, TODAY).is_err());
        }
    }
}
