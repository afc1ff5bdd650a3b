//! Secondary indexes of a partition, derived from its records.
//!
//! Architecture Invariant: an index entry exists exactly when a record implies it. Writers call
//! [`update`] in the same WriteBatch as the record; snapshot installs call [`entries`] for every
//! record they load. A cancelled ID's record (`replaced_by` set) implies no entries.
//!
//! | index            | implied by                          | answers                         |
//! |------------------|-------------------------------------|---------------------------------|
//! | household        | `household_id` non-empty            | `ListHousehold`                 |
//! | name + DOB       | always (search key of `full_name`)  | `SearchCitizens`                |
//! | legacy number    | `legacy_id_number` non-empty        | `LookupLegacyNumber`            |
//!
//! Every entry key ends with the personal ID and has an empty value, so no two records ever share a
//! key: removing one record's entries can never remove another's. The legacy number is unique in
//! the real register, but uniqueness across partitions cannot be checked by a single-partition
//! write, so the index does not assume it (a lookup answers the lowest ID holding the number).

use dancu_cluster_config::PartitionId;
use dancu_proto::v1 as pb;

use crate::name_key::search_key;
use crate::storage::keys::{self, INDEX_HOUSEHOLD, INDEX_LEGACY, INDEX_NAME_DOB};

/// One index entry: key and value.
pub type IndexEntry = (Vec<u8>, Vec<u8>);

/// The date part of a name key: 8 ASCII digits, so keys of one name sort by date of birth.
pub fn dob_digits(date: Option<&pb::Date>) -> [u8; 8] {
    let date = date.cloned().unwrap_or_default();
    let text = format!("{:04}{:02}{:02}", date.year % 10_000, date.month % 100, date.day % 100);
    let mut digits = [b'0'; 8];
    digits.copy_from_slice(&text.as_bytes()[..8]);
    digits
}

/// `pid · 0x30 · household id · 0x00`: every member of the household in this partition follows it.
pub fn household_prefix(pid: PartitionId, household_id: &str) -> Vec<u8> {
    let mut key = keys::tagged_key(pid, INDEX_HOUSEHOLD, household_id.as_bytes());
    key.push(0);
    key
}

/// `pid · 0x31 · name key · 0x00 · YYYYMMDD`: every citizen with this search name and birth date follows it.
pub fn name_dob_prefix(pid: PartitionId, name_key: &str, dob: Option<&pb::Date>) -> Vec<u8> {
    let mut key = keys::tagged_key(pid, INDEX_NAME_DOB, name_key.as_bytes());
    key.push(0);
    key.extend_from_slice(&dob_digits(dob));
    key
}

/// `pid · 0x32 · legacy number`: the holders of the number follow it.
pub fn legacy_prefix(pid: PartitionId, legacy_number: &str) -> Vec<u8> {
    keys::tagged_key(pid, INDEX_LEGACY, legacy_number.as_bytes())
}

/// Every index entry `citizen` implies, in key order of index kinds.
pub fn entries(pid: PartitionId, citizen: &pb::Citizen) -> Vec<IndexEntry> {
    let mut entries = Vec::with_capacity(3);
    if !citizen.replaced_by.is_empty() {
        return entries;
    }
    if !citizen.household_id.is_empty() {
        let mut key = household_prefix(pid, &citizen.household_id);
        key.extend_from_slice(citizen.id.as_bytes());
        entries.push((key, Vec::new()));
    }
    let mut key = name_dob_prefix(pid, &search_key(&citizen.full_name), citizen.date_of_birth.as_ref());
    key.extend_from_slice(citizen.id.as_bytes());
    entries.push((key, Vec::new()));
    if !citizen.legacy_id_number.is_empty() {
        let mut key = legacy_prefix(pid, &citizen.legacy_id_number);
        key.extend_from_slice(citizen.id.as_bytes());
        entries.push((key, Vec::new()));
    }
    entries
}

/// The index changes from `old` to `new` (either may be absent): keys to delete, entries to put.
pub fn changes(
    pid: PartitionId,
    old: Option<&pb::Citizen>,
    new: Option<&pb::Citizen>,
) -> (Vec<Vec<u8>>, Vec<IndexEntry>) {
    let old_entries = old.map(|c| entries(pid, c)).unwrap_or_default();
    let new_entries = new.map(|c| entries(pid, c)).unwrap_or_default();
    let deletes = old_entries
        .iter()
        .filter(|(key, _)| !new_entries.iter().any(|(new_key, _)| new_key == key))
        .map(|(key, _)| key.clone())
        .collect();
    let puts = new_entries.into_iter().filter(|entry| !old_entries.contains(entry)).collect();
    (deletes, puts)
}

/// The personal ID at the end of a household or name index key (its last 12 bytes).
pub fn id_of_index_key(key: &[u8]) -> Option<&str> {
    let start = key.len().checked_sub(12)?;
    std::str::from_utf8(&key[start..]).ok()
}

#[cfg(test)]
mod tests {
    use dancu_proto::v1::Date;

    use super::*;

    fn citizen() -> pb::Citizen {
        pb::Citizen {
            id: "001085012345".into(),
            full_name: "Nguyễn Văn An".into(),
            date_of_birth: Some(Date { year: 1985, month: 3, day: 14 }),
            household_id: "HK0000000001".into(),
            legacy_id_number: "012345678".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_record_implies_its_three_entries() {
        let pid = PartitionId(100);
        let all = entries(pid, &citizen());
        assert_eq!(all.len(), 3);
        assert!(all[0].0.starts_with(&household_prefix(pid, "HK0000000001")));
        let name_prefix = name_dob_prefix(pid, "nguyen van an", Some(&Date { year: 1985, month: 3, day: 14 }));
        assert!(all[1].0.starts_with(&name_prefix));
        assert_eq!(id_of_index_key(&all[1].0), Some("001085012345"));
        assert!(all[2].0.starts_with(&legacy_prefix(pid, "012345678")));
        assert!(all.iter().all(|(key, value)| id_of_index_key(key) == Some("001085012345") && value.is_empty()));
        let cancelled = pb::Citizen { replaced_by: "001185012345".into(), ..citizen() };
        assert!(entries(pid, &cancelled).is_empty());
    }

    #[test]
    fn changes_touch_only_what_moved() {
        let pid = PartitionId(100);
        let old = citizen();
        let moved = pb::Citizen { household_id: "HK0000000002".into(), ..citizen() };
        let (deletes, puts) = changes(pid, Some(&old), Some(&moved));
        assert_eq!(deletes.len(), 1);
        assert_eq!(puts.len(), 1);
        assert!(deletes[0].starts_with(&household_prefix(pid, "HK0000000001")));
        assert!(puts[0].0.starts_with(&household_prefix(pid, "HK0000000002")));
        let (deletes, puts) = changes(pid, Some(&old), Some(&old));
        assert!(deletes.is_empty() && puts.is_empty());
    }
}
