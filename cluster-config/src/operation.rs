//! The operations a role may be granted: one name per kind of request the node serves.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One kind of request, as `[[roles]] operations` names it (kebab-case: `"batch-get"`).
///
/// Several RPCs share an operation where granting one without the other would make no sense (verifying one
/// citizen or a batch of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// `get`: `GetCitizen`, one record by personal ID.
    Get,
    /// `batch-get`: `BatchGetCitizens`, many records by personal ID.
    BatchGet,
    /// `verify`: `VerifyCitizen` and `BatchVerifyCitizens`: whether a claimed ID, name, date of birth and sex match
    /// the register, answered per field, never with a stored value.
    Verify,
    /// `search`: `SearchCitizens`, citizens by full name and date of birth, optionally in one province.
    Search,
    /// `household`: `ListHousehold`, the members of a household.
    Household,
    /// `legacy`: `LookupLegacyNumber`, the personal ID behind a legacy 9-digit identity card number.
    Legacy,
    /// `scan`: `ScanPartition`, every record of a partition in ID order.
    Scan,
    /// `put`: `PutCitizen`, create or replace one record.
    Put,
    /// `import`: `PutCitizens`, up to 1,000 records of one partition written together (bulk import).
    Import,
    /// `events`: `RecordLifeEvent`: birth, death, move, household change, marriage, ID correction.
    Events,
    /// `admin`: every RPC of the `Admin` service (snapshots, leader transfer, voters, re-adding a node, failpoints).
    Admin,
    /// `audit`: reading the access audit log.
    Audit,
}

impl Operation {
    /// Every operation, in the order the documentation lists them.
    pub const ALL: [Operation; 12] = [
        Operation::Get,
        Operation::BatchGet,
        Operation::Verify,
        Operation::Search,
        Operation::Household,
        Operation::Legacy,
        Operation::Scan,
        Operation::Put,
        Operation::Import,
        Operation::Events,
        Operation::Admin,
        Operation::Audit,
    ];

    /// The name written in configurations (`"batch-get"`); the only place names are spelled, so `Display`,
    /// `FromStr` and serde cannot disagree.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::BatchGet => "batch-get",
            Operation::Verify => "verify",
            Operation::Search => "search",
            Operation::Household => "household",
            Operation::Legacy => "legacy",
            Operation::Scan => "scan",
            Operation::Put => "put",
            Operation::Import => "import",
            Operation::Events => "events",
            Operation::Admin => "admin",
            Operation::Audit => "audit",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Operation::ALL`]; the message lists the names that are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation {name:?}; one of {}", known_names())]
pub struct UnknownOperation {
    /// The name as written.
    pub name: String,
}

fn known_names() -> String {
    Operation::ALL.map(Operation::as_str).join(", ")
}

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(name: &str) -> Result<Operation, UnknownOperation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.as_str() == name)
            .ok_or_else(|| UnknownOperation { name: name.to_string() })
    }
}

impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Operation, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}
