//! The JSON form of a citizen record, as `dancuctl` reads and prints it (and the data generator writes it).
//!
//! Field names are the protobuf field names. Enumerations are lower-case words (`"male"`, `"alive"`) except blood
//! types (`"A"`, `"B"`, `"AB"`, `"O"`); dates are `"YYYY-MM-DD"`. Empty fields are left out when printing and may
//! be left out when reading; unknown fields are refused, so a typo never silently drops data. Free text is
//! NFC-normalized on the way in, so input typed on a system that produces decomposed Vietnamese still matches.

use chrono::{Datelike, NaiveDate};
use dancu_proto::v1::{BloodType, Citizen, Consistency, Date, LifeStatus, MaritalStatus, PersonRef, Place, Sex};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// A citizen record in JSON. See the module docs for the conventions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenJson {
    /// 12-digit personal ID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub full_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub other_name: String,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// `male` or `female`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_registration_place: Option<PlaceJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hometown: Option<PlaceJson>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ethnicity: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub religion: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nationality: String,
    /// `A`, `B`, `AB` or `O`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blood_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent_residence: Option<PlaceJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_residence: Option<PlaceJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_residence: Option<PlaceJson>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub household_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub relationship_to_head: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub father: Option<PersonRefJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mother: Option<PersonRefJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spouse: Option<PersonRefJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<PersonRefJson>,
    /// `alive`, `deceased` or `missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_date: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id_card_number: String,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card_issue_date: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub legacy_id_number: String,
    /// `single`, `married`, `divorced` or `widowed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marital_status: Option<String>,
    /// Personal IDs this person held before an ID correction, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_ids: Vec<String>,
    /// Only on the record of a cancelled ID: the ID that replaced it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub replaced_by: String,
    /// Set by the server; accepted on input but ignored by writes.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub revision: u64,
    /// Set by the server; accepted on input but ignored by writes.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub updated_at_unix_ms: i64,
}

/// A place: `{province_code, commune_code, address_line}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceJson {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub province_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commune_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address_line: String,
}

/// A related person: `{full_name, id, nationality}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRefJson {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub full_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nationality: String,
}

/// A JSON field that cannot become a protobuf field. `Display`: `date_of_birth: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CitizenJsonError {
    /// The JSON field, e.g. `date_of_birth` or `father.full_name`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

fn is_zero_i64(value: &i64) -> bool {
    *value == 0
}

fn field_error(field: &str, message: String) -> CitizenJsonError {
    CitizenJsonError { field: field.to_string(), message }
}

fn nfc(text: String) -> String {
    if unicode_normalization::is_nfc(&text) {
        return text;
    }
    text.nfc().collect()
}

fn parse_date(field: &str, text: Option<String>) -> Result<Option<Date>, CitizenJsonError> {
    let Some(text) = text else { return Ok(None) };
    // chrono alone would accept `2024-1-5`; the format is fixed-width so it sorts and diffs cleanly.
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(
            |(idx, byte)| {
                if idx == 4 || idx == 7 {
                    byte == b'-'
                } else {
                    byte.is_ascii_digit()
                }
            },
        );
    let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok().filter(|_| shape_ok);
    let Some(date) = date else {
        return Err(field_error(field, format!("expected a date YYYY-MM-DD, got {text:?}")));
    };
    // The shape check guarantees a four-digit, non-negative year.
    let year = u32::try_from(date.year()).map_err(|_| field_error(field, format!("year out of range: {text:?}")))?;
    Ok(Some(Date { year, month: date.month(), day: date.day() }))
}

pub(crate) fn format_date(date: Option<&Date>) -> Option<String> {
    let date = date.filter(|date| **date != Date::default())?;
    Some(format!("{:04}-{:02}-{:02}", date.year, date.month, date.day))
}

fn parse_sex(text: Option<String>) -> Result<Sex, CitizenJsonError> {
    match text.as_deref() {
        None | Some("") => Ok(Sex::Unspecified),
        Some("male") => Ok(Sex::Male),
        Some("female") => Ok(Sex::Female),
        Some(other) => Err(field_error("sex", format!("expected \"male\" or \"female\", got {other:?}"))),
    }
}

pub(crate) fn format_sex(value: i32) -> Option<String> {
    match Sex::try_from(value).ok()? {
        Sex::Unspecified => None,
        Sex::Male => Some("male".to_string()),
        Sex::Female => Some("female".to_string()),
    }
}

fn parse_blood_type(text: Option<String>) -> Result<BloodType, CitizenJsonError> {
    match text.as_deref() {
        None | Some("") => Ok(BloodType::Unspecified),
        Some("A") => Ok(BloodType::A),
        Some("B") => Ok(BloodType::B),
        Some("AB") => Ok(BloodType::Ab),
        Some("O") => Ok(BloodType::O),
        Some(other) => Err(field_error("blood_type", format!("expected \"A\", \"B\", \"AB\" or \"O\", got {other:?}"))),
    }
}

fn format_blood_type(value: i32) -> Option<String> {
    let text = match BloodType::try_from(value).ok()? {
        BloodType::Unspecified => return None,
        BloodType::A => "A",
        BloodType::B => "B",
        BloodType::Ab => "AB",
        BloodType::O => "O",
    };
    Some(text.to_string())
}

fn parse_status(text: Option<String>) -> Result<LifeStatus, CitizenJsonError> {
    match text.as_deref() {
        None | Some("") => Ok(LifeStatus::Unspecified),
        Some("alive") => Ok(LifeStatus::Alive),
        Some("deceased") => Ok(LifeStatus::Deceased),
        Some("missing") => Ok(LifeStatus::Missing),
        Some(other) => {
            Err(field_error("status", format!("expected \"alive\", \"deceased\" or \"missing\", got {other:?}")))
        }
    }
}

pub(crate) fn format_status(value: i32) -> Option<String> {
    let text = match LifeStatus::try_from(value).ok()? {
        LifeStatus::Unspecified => return None,
        LifeStatus::Alive => "alive",
        LifeStatus::Deceased => "deceased",
        LifeStatus::Missing => "missing",
    };
    Some(text.to_string())
}

fn parse_marital_status(text: Option<String>) -> Result<MaritalStatus, CitizenJsonError> {
    match text.as_deref() {
        None | Some("") => Ok(MaritalStatus::Unspecified),
        Some("single") => Ok(MaritalStatus::Single),
        Some("married") => Ok(MaritalStatus::Married),
        Some("divorced") => Ok(MaritalStatus::Divorced),
        Some("widowed") => Ok(MaritalStatus::Widowed),
        Some(other) => Err(field_error(
            "marital_status",
            format!("expected \"single\", \"married\", \"divorced\" or \"widowed\", got {other:?}"),
        )),
    }
}

fn format_marital_status(value: i32) -> Option<String> {
    let text = match MaritalStatus::try_from(value).ok()? {
        MaritalStatus::Unspecified => return None,
        MaritalStatus::Single => "single",
        MaritalStatus::Married => "married",
        MaritalStatus::Divorced => "divorced",
        MaritalStatus::Widowed => "widowed",
    };
    Some(text.to_string())
}

impl From<PlaceJson> for Place {
    fn from(place: PlaceJson) -> Place {
        Place {
            province_code: place.province_code,
            commune_code: place.commune_code,
            address_line: nfc(place.address_line),
        }
    }
}

impl From<&Place> for PlaceJson {
    fn from(place: &Place) -> PlaceJson {
        PlaceJson {
            province_code: place.province_code.clone(),
            commune_code: place.commune_code.clone(),
            address_line: place.address_line.clone(),
        }
    }
}

impl From<PersonRefJson> for PersonRef {
    fn from(person: PersonRefJson) -> PersonRef {
        PersonRef { full_name: nfc(person.full_name), id: person.id, nationality: nfc(person.nationality) }
    }
}

impl From<&PersonRef> for PersonRefJson {
    fn from(person: &PersonRef) -> PersonRefJson {
        PersonRefJson {
            full_name: person.full_name.clone(),
            id: person.id.clone(),
            nationality: person.nationality.clone(),
        }
    }
}

fn place_json(place: Option<&Place>) -> Option<PlaceJson> {
    place.filter(|place| **place != Place::default()).map(PlaceJson::from)
}

fn person_json(person: Option<&PersonRef>) -> Option<PersonRefJson> {
    person.filter(|person| **person != PersonRef::default()).map(PersonRefJson::from)
}

impl TryFrom<CitizenJson> for Citizen {
    type Error = CitizenJsonError;

    fn try_from(json: CitizenJson) -> Result<Citizen, CitizenJsonError> {
        Ok(Citizen {
            id: json.id,
            full_name: nfc(json.full_name),
            other_name: nfc(json.other_name),
            date_of_birth: parse_date("date_of_birth", json.date_of_birth)?,
            sex: parse_sex(json.sex)?.into(),
            birth_registration_place: json.birth_registration_place.map(Place::from),
            hometown: json.hometown.map(Place::from),
            ethnicity: nfc(json.ethnicity),
            religion: nfc(json.religion),
            nationality: nfc(json.nationality),
            blood_type: parse_blood_type(json.blood_type)?.into(),
            permanent_residence: json.permanent_residence.map(Place::from),
            temporary_residence: json.temporary_residence.map(Place::from),
            current_residence: json.current_residence.map(Place::from),
            household_id: json.household_id,
            relationship_to_head: nfc(json.relationship_to_head),
            father: json.father.map(PersonRef::from),
            mother: json.mother.map(PersonRef::from),
            spouse: json.spouse.map(PersonRef::from),
            legal_representative: json.legal_representative.map(PersonRef::from),
            status: parse_status(json.status)?.into(),
            status_date: parse_date("status_date", json.status_date)?,
            id_card_number: json.id_card_number,
            id_card_issue_date: parse_date("id_card_issue_date", json.id_card_issue_date)?,
            legacy_id_number: json.legacy_id_number,
            earlier_ids: json.earlier_ids,
            replaced_by: json.replaced_by,
            marital_status: parse_marital_status(json.marital_status)?.into(),
            revision: json.revision,
            updated_at_unix_ms: json.updated_at_unix_ms,
        })
    }
}

impl From<&Citizen> for CitizenJson {
    fn from(citizen: &Citizen) -> CitizenJson {
        CitizenJson {
            id: citizen.id.clone(),
            full_name: citizen.full_name.clone(),
            other_name: citizen.other_name.clone(),
            date_of_birth: format_date(citizen.date_of_birth.as_ref()),
            sex: format_sex(citizen.sex),
            birth_registration_place: place_json(citizen.birth_registration_place.as_ref()),
            hometown: place_json(citizen.hometown.as_ref()),
            ethnicity: citizen.ethnicity.clone(),
            religion: citizen.religion.clone(),
            nationality: citizen.nationality.clone(),
            blood_type: format_blood_type(citizen.blood_type),
            permanent_residence: place_json(citizen.permanent_residence.as_ref()),
            temporary_residence: place_json(citizen.temporary_residence.as_ref()),
            current_residence: place_json(citizen.current_residence.as_ref()),
            household_id: citizen.household_id.clone(),
            relationship_to_head: citizen.relationship_to_head.clone(),
            father: person_json(citizen.father.as_ref()),
            mother: person_json(citizen.mother.as_ref()),
            spouse: person_json(citizen.spouse.as_ref()),
            legal_representative: person_json(citizen.legal_representative.as_ref()),
            status: format_status(citizen.status),
            status_date: format_date(citizen.status_date.as_ref()),
            id_card_number: citizen.id_card_number.clone(),
            id_card_issue_date: format_date(citizen.id_card_issue_date.as_ref()),
            legacy_id_number: citizen.legacy_id_number.clone(),
            marital_status: format_marital_status(citizen.marital_status),
            earlier_ids: citizen.earlier_ids.clone(),
            replaced_by: citizen.replaced_by.clone(),
            revision: citizen.revision,
            updated_at_unix_ms: citizen.updated_at_unix_ms,
        }
    }
}

impl CitizenJson {
    /// Parses one JSON record and converts it; errors name the field (or give serde's line and column).
    pub fn parse_citizen(text: &str) -> Result<Citizen, CitizenJsonError> {
        let json: CitizenJson = serde_json::from_str(text)
            .map_err(|error| CitizenJsonError { field: "record".to_string(), message: error.to_string() })?;
        Citizen::try_from(json)
    }
}

/// Parses a date as records and the CLI spell it, `YYYY-MM-DD`.
pub fn parse_date_text(text: &str) -> Result<Date, String> {
    match parse_date("date", Some(text.to_string())) {
        Ok(Some(date)) => Ok(date),
        Ok(None) => Err("a date is required".to_string()),
        Err(error) => Err(error.message),
    }
}

/// Parses a sex as records and the CLI spell it: `male` or `female`.
pub fn parse_sex_text(text: &str) -> Result<Sex, String> {
    match parse_sex(Some(text.to_string())) {
        Ok(Sex::Unspecified) => Err("expected \"male\" or \"female\"".to_string()),
        Ok(sex) => Ok(sex),
        Err(error) => Err(error.message),
    }
}

/// Parses a consistency level as the CLI spells it: `linearizable`, `read-index`, `follower` or `stale`.
pub fn parse_consistency(text: &str) -> Result<Consistency, String> {
    match text {
        "linearizable" => Ok(Consistency::Linearizable),
        "read-index" | "read_index" => Ok(Consistency::ReadIndex),
        "follower" => Ok(Consistency::Follower),
        "stale" => Ok(Consistency::Stale),
        other => Err(format!("unknown consistency {other:?}: expected linearizable, read-index, follower or stale")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record shipped in `examples/citizen.json`.
    const EXAMPLE: &str = include_str!("../examples/citizen.json");

    #[test]
    fn example_round_trips() {
        let citizen = CitizenJson::parse_citizen(EXAMPLE).expect("the example is valid");
        assert_eq!(citizen.id, "001085012345");
        assert_eq!(citizen.date_of_birth, Some(Date { year: 1985, month: 3, day: 14 }));
        assert_eq!(Sex::try_from(citizen.sex), Ok(Sex::Male));
        let json = CitizenJson::from(&citizen);
        let again = Citizen::try_from(json.clone()).expect("printed JSON parses back");
        assert_eq!(again, citizen);
        // Text round trip: print, parse, compare with the original JSON value.
        let printed = serde_json::to_string_pretty(&json).expect("serializable");
        let original: serde_json::Value = serde_json::from_str(EXAMPLE).expect("json");
        let reprinted: serde_json::Value = serde_json::from_str(&printed).expect("json");
        assert_eq!(reprinted, original);
    }

    #[test]
    fn every_field_round_trips() {
        let place = |code: &str| Place {
            province_code: code.to_string(),
            commune_code: "00001".to_string(),
            address_line: "Số 1 phố Tràng Tiền".to_string(),
        };
        let person = |name: &str, id: &str| PersonRef {
            full_name: name.to_string(),
            id: id.to_string(),
            nationality: "Việt Nam".to_string(),
        };
        let citizen = Citizen {
            id: "079305000123".to_string(),
            full_name: "Trần Thị Bích".to_string(),
            other_name: "Bé Ba".to_string(),
            date_of_birth: Some(Date { year: 2005, month: 2, day: 28 }),
            sex: Sex::Female.into(),
            birth_registration_place: Some(place("079")),
            hometown: Some(place("036")),
            ethnicity: "Kinh".to_string(),
            religion: "Không".to_string(),
            nationality: "Việt Nam".to_string(),
            blood_type: BloodType::Ab.into(),
            permanent_residence: Some(place("079")),
            temporary_residence: Some(place("001")),
            current_residence: Some(place("001")),
            household_id: "HK0790001".to_string(),
            relationship_to_head: "Con".to_string(),
            father: Some(person("Trần Văn Cường", "036080001234")),
            mother: Some(person("Lê Thị Dung", "")),
            spouse: None,
            legal_representative: Some(person("Trần Văn Cường", "036080001234")),
            status: LifeStatus::Missing.into(),
            status_date: Some(Date { year: 2024, month: 12, day: 31 }),
            id_card_number: "079305000123".to_string(),
            id_card_issue_date: Some(Date { year: 2021, month: 6, day: 1 }),
            legacy_id_number: "025123456".to_string(),
            earlier_ids: vec!["079105000999".to_string()],
            replaced_by: String::new(),
            marital_status: MaritalStatus::Married.into(),
            revision: 4,
            updated_at_unix_ms: 1_735_000_000_000,
        };
        let json = CitizenJson::from(&citizen);
        assert_eq!(Citizen::try_from(json), Ok(citizen));
    }

    /// One helper for conversion errors: `json` is a record, `expected` the error text.
    fn check_error(json: &str, expected: &str) {
        let got = CitizenJson::parse_citizen(json).map(|_| ()).map_err(|error| error.to_string());
        assert_eq!(got, Err(expected.to_string()), "for {json}");
    }

    #[test]
    fn bad_fields_are_named() {
        check_error(
            r#"{"date_of_birth": "1985-02-30"}"#,
            "date_of_birth: expected a date YYYY-MM-DD, got \"1985-02-30\"",
        );
        check_error(r#"{"status_date": "2024-1-5"}"#, "status_date: expected a date YYYY-MM-DD, got \"2024-1-5\"");
        check_error(r#"{"sex": "m"}"#, "sex: expected \"male\" or \"female\", got \"m\"");
        check_error(r#"{"blood_type": "a"}"#, "blood_type: expected \"A\", \"B\", \"AB\" or \"O\", got \"a\"");
        check_error(r#"{"status": "dead"}"#, "status: expected \"alive\", \"deceased\" or \"missing\", got \"dead\"");
        let unknown = CitizenJson::parse_citizen(r#"{"fullname": "X"}"#).unwrap_err();
        assert_eq!(unknown.field, "record");
        assert!(unknown.message.contains("unknown field `fullname`"), "{unknown}");
    }

    #[test]
    fn names_are_nfc_normalized() {
        let decomposed: String = "Nguyễn Văn An".nfd().collect();
        assert_ne!(decomposed, "Nguyễn Văn An");
        let json = CitizenJson { full_name: decomposed, ..CitizenJson::default() };
        let citizen = Citizen::try_from(json).expect("valid");
        assert_eq!(citizen.full_name, "Nguyễn Văn An");
    }

    #[test]
    fn empty_fields_are_left_out() {
        let json = CitizenJson::from(&Citizen { id: "001085012345".to_string(), ..Citizen::default() });
        assert_eq!(serde_json::to_string(&json).expect("serializable"), r#"{"id":"001085012345"}"#);
    }

    #[test]
    fn command_line_dates_and_sexes() {
        assert_eq!(parse_date_text("1985-03-14"), Ok(Date { year: 1985, month: 3, day: 14 }));
        assert_eq!(parse_date_text("1985-3-14"), Err("expected a date YYYY-MM-DD, got \"1985-3-14\"".to_string()));
        assert_eq!(parse_sex_text("female"), Ok(Sex::Female));
        assert!(parse_sex_text("").is_err());
        assert!(parse_sex_text("f").is_err());
    }

    #[test]
    fn consistency_names() {
        assert_eq!(parse_consistency("linearizable"), Ok(Consistency::Linearizable));
        assert_eq!(parse_consistency("read-index"), Ok(Consistency::ReadIndex));
        assert_eq!(parse_consistency("follower"), Ok(Consistency::Follower));
        assert_eq!(parse_consistency("stale"), Ok(Consistency::Stale));
        assert!(parse_consistency("strong").is_err());
    }
}
