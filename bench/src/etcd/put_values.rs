//! Values for puts: real records read back from the cluster, each written under the key it is put to (its
//! `id` rewritten) with a field that makes every put's bytes new, so etcd really writes a new value.
//!
//! Holding every record of a large population in memory to put each key's own record back would cost
//! gigabytes; a sample of real records gives the same value sizes, and etcd's cost of a put does not depend
//! on the value's content (its B-tree is keyed by revision, not by key).

use etcd_client::{KvClient, Txn, TxnOp, TxnOpResponse};

use crate::CompareError;

/// Records sampled, evenly spaced through the IDs.
const SAMPLE_MAX: usize = 1_024;
const READS_PER_TXN: usize = 128;
/// How the generator starts every line: `{"id":"` and 12 digits.
const ID_PREFIX: &[u8] = b"{\"id\":\"";
const ID_BYTES: usize = 12;

#[derive(Debug, Clone)]
pub struct PutValues {
    records: Vec<Vec<u8>>,
}

impl PutValues {
    /// Reads up to [`SAMPLE_MAX`] of the records stored under `ids`.
    pub async fn sample(kv: &mut KvClient, ids: &[String]) -> Result<PutValues, CompareError> {
        if ids.is_empty() {
            return Err(CompareError::etcd("sampling records to put", "no IDs to put to"));
        }
        let n_sample = ids.len().min(SAMPLE_MAX);
        let sampled: Vec<&String> = (0..n_sample).map(|idx| &ids[idx * ids.len() / n_sample]).collect();
        let mut records = Vec::with_capacity(n_sample);
        for keys in sampled.chunks(READS_PER_TXN) {
            let reads: Vec<TxnOp> = keys.iter().map(|key| TxnOp::get(key.as_str(), None)).collect();
            let response = kv
                .txn(Txn::new().and_then(reads))
                .await
                .map_err(|error| CompareError::etcd("sampling records", error))?;
            for (key, read) in keys.iter().zip(response.op_responses()) {
                let TxnOpResponse::Get(read) = read else {
                    return Err(CompareError::etcd("sampling records", "a Txn of gets answered something else"));
                };
                let kv = read
                    .kvs()
                    .first()
                    .ok_or_else(|| CompareError::etcd("sampling records", format!("{key} is not stored")))?;
                records.push(kv.value().to_vec());
            }
        }
        Ok(PutValues { records })
    }

    /// The value of a put to `id` (the `key_idx`-th ID), unique by `tag`.
    pub fn value(&self, key_idx: usize, id: &str, tag: &str) -> Vec<u8> {
        with_id_and_tag(&self.records[key_idx % self.records.len()], id, tag)
    }
}

/// `record` with its ID replaced by `id` (when both look like the generator's) and `,"bench_put":"TAG"` added
/// before the closing brace (appended when there is none).
fn with_id_and_tag(record: &[u8], id: &str, tag: &str) -> Vec<u8> {
    let mut value = Vec::with_capacity(record.len() + tag.len() + 16);
    let body = record.strip_suffix(b"}").unwrap_or(record);
    value.extend_from_slice(body);
    let id_range = ID_PREFIX.len()..ID_PREFIX.len() + ID_BYTES;
    let has_generated_id = body.starts_with(ID_PREFIX)
        && body.get(id_range.clone()).is_some_and(|digits| digits.iter().all(u8::is_ascii_digit));
    if has_generated_id && id.len() == ID_BYTES {
        value[id_range].copy_from_slice(id.as_bytes());
    }
    value.extend_from_slice(b",\"bench_put\":\"");
    value.extend_from_slice(tag.as_bytes());
    value.extend_from_slice(b"\"}");
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_rewritten_and_tag_added() {
        let record = br#"{"id":"001074012859","full_name":"A"}"#;
        let value = with_id_and_tag(record, "079097018983", "7-1-2");
        assert_eq!(value, br#"{"id":"079097018983","full_name":"A","bench_put":"7-1-2"}"#.to_vec());
    }

    #[test]
    fn other_values_only_get_the_tag() {
        assert_eq!(with_id_and_tag(b"{\"x\":1}", "079097018983", "t"), b"{\"x\":1,\"bench_put\":\"t\"}".to_vec());
        assert_eq!(
            with_id_and_tag(b"{\"id\":\"1\"}", "079097018983", "t"),
            b"{\"id\":\"1\",\"bench_put\":\"t\"}".to_vec()
        );
    }
}
