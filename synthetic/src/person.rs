//! The compact form of a generated record and its conversion to the protobuf `Citizen`.
//!
//! Generation fills `Person`s (numbers and table indices, no strings) so that writing JSON never allocates; a
//! `Citizen` with its strings is built only when a caller asks for records.

use dancu_proto::v1::{BloodType, Citizen, Date, LifeStatus, MaritalStatus, PersonRef, Place as ProtoPlace, Sex};

use crate::calendar::Day;
use crate::ethnicity::{ETHNIC_GROUPS, RELIGIONS};
use crate::geography::Place;
use crate::names::Name;

/// Every synthetic citizen is Vietnamese.
pub(crate) const NATIONALITY: &str = "Việt Nam";

/// Relationship to the head of the household, as the register writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relationship {
    Head,
    Wife,
    Husband,
    Child,
    Grandchild,
    Father,
    Mother,
    OlderBrother,
    OlderSister,
    YoungerSibling,
}

impl Relationship {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Relationship::Head => "Chủ hộ",
            Relationship::Wife => "Vợ",
            Relationship::Husband => "Chồng",
            Relationship::Child => "Con",
            Relationship::Grandchild => "Cháu",
            Relationship::Father => "Bố",
            Relationship::Mother => "Mẹ",
            Relationship::OlderBrother => "Anh",
            Relationship::OlderSister => "Chị",
            Relationship::YoungerSibling => "Em",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marital {
    Single,
    Married,
    Divorced,
    Widowed,
}

impl Marital {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Marital::Single => "single",
            Marital::Married => "married",
            Marital::Divorced => "divorced",
            Marital::Widowed => "widowed",
        }
    }

    fn proto(self) -> MaritalStatus {
        match self {
            Marital::Single => MaritalStatus::Single,
            Marital::Married => MaritalStatus::Married,
            Marital::Divorced => MaritalStatus::Divorced,
            Marital::Widowed => MaritalStatus::Widowed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blood {
    A,
    B,
    Ab,
    O,
}

/// Blood groups in the order of [`BLOOD_SHARES_PER_MILLE`].
pub(crate) const BLOOD_GROUPS: [Blood; 4] = [Blood::O, Blood::B, Blood::A, Blood::Ab];
/// Shares in Vietnam: O ≈ 42 %, B ≈ 31 %, A ≈ 21 %, AB ≈ 6 %.
pub(crate) const BLOOD_SHARES_PER_MILLE: [u32; 4] = [420, 310, 210, 60];

impl Blood {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Blood::A => "A",
            Blood::B => "B",
            Blood::Ab => "AB",
            Blood::O => "O",
        }
    }

    fn proto(self) -> BloodType {
        match self {
            Blood::A => BloodType::A,
            Blood::B => BloodType::B,
            Blood::Ab => BloodType::Ab,
            Blood::O => BloodType::O,
        }
    }
}

/// A related person: another record of the same chunk, or someone known only by name (not in the register).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    None,
    /// Index of the person in the chunk.
    Member(u32),
    External(Name),
}

/// One generated record. Links and `household` are indices into the same chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Person {
    /// The 12-digit personal ID as a number.
    pub(crate) id: u64,
    pub(crate) name: Name,
    pub(crate) birth: Day,
    pub(crate) birth_place: Place,
    pub(crate) hometown: Place,
    pub(crate) ethnicity: u8,
    pub(crate) religion: u8,
    pub(crate) blood: Blood,
    pub(crate) household: u32,
    pub(crate) relationship: Relationship,
    pub(crate) father: Link,
    pub(crate) mother: Link,
    pub(crate) spouse: Link,
    pub(crate) legal_representative: Link,
    /// Date of death; `None` for the living.
    pub(crate) death: Option<Day>,
    /// Issue date of the identity card (whose number is the personal ID).
    pub(crate) id_card_issue: Option<Day>,
    pub(crate) legacy_number: Option<u32>,
    pub(crate) marital: Marital,
    /// Where the person actually lives when it is not the household's residence (also the temporary residence).
    pub(crate) away: Option<Place>,
}

impl Person {
    pub(crate) fn female(&self) -> bool {
        self.name.female
    }
}

/// A household: its number (written `HK` + 10 digits) and the permanent residence all members share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Household {
    pub(crate) number: u64,
    pub(crate) residence: Place,
}

/// The records of one chunk, in output order.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub(crate) people: Vec<Person>,
    pub(crate) households: Vec<Household>,
}

impl Chunk {
    pub(crate) fn clear(&mut self) {
        self.people.clear();
        self.households.clear();
    }

    pub(crate) fn household_of(&self, person: &Person) -> &Household {
        &self.households[person.household as usize]
    }

    /// The protobuf record of person `idx`.
    pub(crate) fn citizen(&self, idx: usize) -> Citizen {
        let person = &self.people[idx];
        let household = self.household_of(person);
        let current = person.away.unwrap_or(household.residence);
        Citizen {
            id: format!("{:012}", person.id),
            full_name: person.name.full(),
            other_name: String::new(),
            date_of_birth: Some(date(person.birth)),
            sex: if person.female() { Sex::Female } else { Sex::Male }.into(),
            birth_registration_place: Some(proto_place(person.birth_place)),
            hometown: Some(proto_place(person.hometown)),
            ethnicity: ETHNIC_GROUPS[usize::from(person.ethnicity)].0.to_string(),
            religion: RELIGIONS[usize::from(person.religion)].0.to_string(),
            nationality: NATIONALITY.to_string(),
            blood_type: person.blood.proto().into(),
            permanent_residence: Some(proto_place(household.residence)),
            temporary_residence: person.away.map(proto_place),
            current_residence: Some(proto_place(current)),
            household_id: format!("HK{:010}", household.number),
            relationship_to_head: person.relationship.text().to_string(),
            father: self.person_ref(person.father),
            mother: self.person_ref(person.mother),
            spouse: self.person_ref(person.spouse),
            legal_representative: self.person_ref(person.legal_representative),
            status: if person.death.is_some() { LifeStatus::Deceased } else { LifeStatus::Alive }.into(),
            status_date: person.death.map(date),
            id_card_number: person.id_card_issue.map(|_| format!("{:012}", person.id)).unwrap_or_default(),
            id_card_issue_date: person.id_card_issue.map(date),
            legacy_id_number: person.legacy_number.map(|number| format!("{number:09}")).unwrap_or_default(),
            earlier_ids: Vec::new(),
            replaced_by: String::new(),
            marital_status: person.marital.proto().into(),
            revision: 0,
            updated_at_unix_ms: 0,
        }
    }

    fn person_ref(&self, link: Link) -> Option<PersonRef> {
        let (name, id) = match link {
            Link::None => return None,
            Link::Member(idx) => {
                let member = &self.people[idx as usize];
                (member.name, format!("{:012}", member.id))
            }
            Link::External(name) => (name, String::new()),
        };
        Some(PersonRef { full_name: name.full(), id, nationality: NATIONALITY.to_string() })
    }
}

fn date(day: Day) -> Date {
    Date { year: u32::from(day.year), month: u32::from(day.month), day: u32::from(day.day) }
}

fn proto_place(place: Place) -> ProtoPlace {
    ProtoPlace {
        province_code: place.province().code.to_string(),
        commune_code: format!("{:05}", place.commune),
        address_line: place.address_line(),
    }
}
