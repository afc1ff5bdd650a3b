//! The keys a run draws from: personal IDs, and for the workloads that need them the whole records.

use std::path::Path;

use dancu_proto::v1::Citizen;
use dancu_synthetic::Population;
use prost::Message;

use super::BenchError;

/// Bytes of a personal ID (`PPPGYYNNNNNN`).
const ID_BYTES: usize = 12;

/// The keys of a run, indexed `0..len()`. IDs are packed in one string (12 bytes each); records, when kept, are
/// protobuf-encoded back to back (about 600 B each) and decoded per request, so a million of them stay well
/// under a gigabyte.
#[derive(Debug, Clone)]
pub struct KeySet {
    ids: String,
    records: Option<EncodedRecords>,
}

/// Records as their protobuf encodings, one after another; `ends[idx]` is where record `idx` ends.
#[derive(Debug, Clone, Default)]
struct EncodedRecords {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl KeySet {
    /// The IDs of a synthetic population (the one `dancuctl gen --seed S --count N` writes), with the records
    /// themselves when `keep_records` (needed by verify, put and mixed).
    pub fn from_population(population: &Population, keep_records: bool) -> Result<KeySet, BenchError> {
        let count = usize::try_from(population.count()).map_err(|_| BenchError::InvalidConfig {
            field: "population_count",
            message: format!("{} records do not fit in memory", population.count()),
        })?;
        let mut ids = String::with_capacity(count * ID_BYTES);
        let mut records = keep_records.then(EncodedRecords::default);
        for citizen in population.citizens() {
            assert!(is_personal_id(&citizen.id), "the generator made an ID that is not 12 digits");
            ids.push_str(&citizen.id);
            if let Some(records) = &mut records {
                citizen.encode(&mut records.bytes).map_err(|error| BenchError::InvalidConfig {
                    field: "population",
                    message: format!("cannot encode a record: {error}"),
                })?;
                records.ends.push(records.bytes.len());
            }
        }
        KeySet::new(ids, records)
    }

    /// IDs read from a file, one per line (blank lines skipped); no records, so only get and batch-get can use it.
    pub fn from_ids_file(path: &Path) -> Result<KeySet, BenchError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| BenchError::ReadIds { path: path.to_path_buf(), source })?;
        let mut ids = String::new();
        for (line_idx, line) in text.lines().enumerate() {
            let id = line.trim();
            if id.is_empty() {
                continue;
            }
            if !is_personal_id(id) {
                return Err(BenchError::BadId { path: path.to_path_buf(), line_no: line_idx + 1 });
            }
            ids.push_str(id);
        }
        KeySet::new(ids, None)
    }

    fn new(ids: String, records: Option<EncodedRecords>) -> Result<KeySet, BenchError> {
        assert_eq!(ids.len() % ID_BYTES, 0, "IDs are packed 12 bytes each");
        if ids.is_empty() {
            return Err(BenchError::NoKeys);
        }
        if let Some(records) = &records {
            assert_eq!(records.ends.len() * ID_BYTES, ids.len(), "one record per ID");
        }
        Ok(KeySet { ids, records })
    }

    /// Number of keys (never 0).
    pub fn len(&self) -> usize {
        self.ids.len() / ID_BYTES
    }

    /// Always false: a key set has at least one key.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ID of key `idx`.
    pub fn id(&self, idx: usize) -> &str {
        // IDs are ASCII digits, so every 12-byte slice lies on character boundaries.
        &self.ids[idx * ID_BYTES..(idx + 1) * ID_BYTES]
    }

    /// Whether whole records are kept (see [`KeySet::from_population`]).
    pub fn has_records(&self) -> bool {
        self.records.is_some()
    }

    /// The record of key `idx`; `None` when only IDs are kept.
    pub fn record(&self, idx: usize) -> Option<Citizen> {
        let records = self.records.as_ref()?;
        let start = if idx == 0 { 0 } else { records.ends[idx - 1] };
        let encoded = &records.bytes[start..records.ends[idx]];
        // The bytes were encoded from a `Citizen` by `from_population`; failing to decode them is a bug.
        Some(Citizen::decode(encoded).expect("a record encoded by this key set decodes"))
    }
}

fn is_personal_id(text: &str) -> bool {
    text.len() == ID_BYTES && text.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_keys_and_records_line_up() {
        let population = Population::new(3, 50).expect("population");
        let keys = KeySet::from_population(&population, true).expect("keys");
        let citizens: Vec<Citizen> = population.citizens().collect();
        assert_eq!(keys.len(), 50);
        for (idx, citizen) in citizens.iter().enumerate() {
            assert_eq!(keys.id(idx), citizen.id);
            assert_eq!(keys.record(idx).as_ref(), Some(citizen));
        }
        let ids_only = KeySet::from_population(&population, false).expect("keys");
        assert!(!ids_only.has_records());
        assert_eq!(ids_only.record(0), None);
    }

    #[test]
    fn id_files_skip_blank_lines_and_name_bad_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ids.txt");
        std::fs::write(&path, "001085012345\n\n  079190000001 \n").expect("write");
        let keys = KeySet::from_ids_file(&path).expect("keys");
        assert_eq!((keys.len(), keys.id(1)), (2, "079190000001"));

        std::fs::write(&path, "001085012345\n0010850123\n").expect("write");
        let error = KeySet::from_ids_file(&path).expect_err("a short ID");
        assert!(matches!(error, BenchError::BadId { line_no: 2, .. }), "{error}");

        std::fs::write(&path, "\n").expect("write");
        assert!(matches!(KeySet::from_ids_file(&path), Err(BenchError::NoKeys)));
    }
}
