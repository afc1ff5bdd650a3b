//! Verification without disclosure: does what a caller claims match the register?
//!
//! The answer is built only from the query and per-field booleans, never from stored values, so
//! no reply can carry a stored name or date (tested: `reply_is_a_function_of_the_query_and_matches`).
//! Names compare exactly after NFC normalization: case, spacing and diacritics count, because a bank
//! verifying an identity must not accept `Nguyen Van An` for `Nguyễn Văn An`.

use std::collections::BTreeMap;

use dancu_cluster_config::PartitionId;
use dancu_proto::v1 as pb;
use dancu_proto::v1::{FieldMatch, IdStatus, Sex};
use unicode_normalization::UnicodeNormalization;

use crate::service::caller::Caller;
use crate::service::errors::ApiError;
use crate::service::registry::RegistryService;
use crate::service::request::{asked_anything, ValidBatchVerify, ValidVerify};

fn field(asked: bool, equal: bool) -> FieldMatch {
    match (asked, equal) {
        (false, _) => FieldMatch::NotAsked,
        (true, true) => FieldMatch::Match,
        (true, false) => FieldMatch::Mismatch,
    }
}

/// Compares a query with the stored record of its ID.
pub fn compare(stored: Option<&pb::Citizen>, query: &pb::VerifyQuery) -> pb::VerifyResult {
    let mut result = pb::VerifyResult { id: query.id.clone(), ..Default::default() };
    let Some(stored) = stored else {
        result.id_status = IdStatus::NotFound as i32;
        return result;
    };
    if !stored.replaced_by.is_empty() {
        result.id_status = IdStatus::Replaced as i32;
        return result;
    }
    result.id_status = IdStatus::Found as i32;
    let name_equal = query.full_name.as_ref().is_some_and(|name| name.nfc().eq(stored.full_name.chars()));
    let dob_equal = query.date_of_birth.is_some() && query.date_of_birth == stored.date_of_birth;
    let sex_equal = query.sex == stored.sex;
    let fields = [
        field(query.full_name.is_some(), name_equal),
        field(query.date_of_birth.is_some(), dob_equal),
        field(query.sex != Sex::Unspecified as i32, sex_equal),
    ];
    result.full_name = fields[0] as i32;
    result.date_of_birth = fields[1] as i32;
    result.sex = fields[2] as i32;
    result.r#match = fields.iter().all(|f| *f != FieldMatch::Mismatch) && asked_anything(query);
    result
}

impl RegistryService {
    pub(super) async fn verify(
        &self,
        _caller: Caller,
        request: ValidVerify,
    ) -> Result<pb::VerifyCitizenResponse, ApiError> {
        let ValidVerify { consistency, query, partition: pid } = request;
        let point = self.read_point(pid, consistency).await?;
        let stored = self.groups.store.get_citizen(pid, &query.id)?;
        Ok(pb::VerifyCitizenResponse {
            result: Some(compare(stored.as_ref(), &query)),
            meta: Some(pb::ReadMeta {
                partition_id: pid.0,
                served_by: self.groups.node_id,
                applied_index: point.applied_index,
                read_index: point.read_index,
            }),
        })
    }

    pub(super) async fn batch_verify(
        &self,
        _caller: Caller,
        request: ValidBatchVerify,
    ) -> Result<pb::BatchVerifyCitizensResponse, ApiError> {
        let consistency = request.consistency;
        let mut by_partition: BTreeMap<PartitionId, Vec<usize>> = BTreeMap::new();
        for (idx, &pid) in request.partitions.iter().enumerate() {
            by_partition.entry(pid).or_default().push(idx);
        }
        // One linearizer round and one multi_get per partition, all partitions in parallel.
        let parts = by_partition.into_iter().map(|(pid, idxs)| {
            let queries = &request.queries;
            async move {
                self.read_point(pid, consistency).await?;
                let ids: Vec<&str> = idxs.iter().map(|&i| queries[i].id.as_str()).collect();
                let stored = self.groups.store.multi_get_citizens(pid, &ids)?;
                Ok::<_, ApiError>((idxs, stored))
            }
        });
        let mut results = vec![pb::VerifyResult::default(); request.queries.len()];
        for part in futures::future::join_all(parts).await {
            let (idxs, stored) = part?;
            for (idx, record) in idxs.into_iter().zip(stored) {
                results[idx] = compare(record.as_ref(), &request.queries[idx]);
            }
        }
        Ok(pb::BatchVerifyCitizensResponse { results })
    }
}

#[cfg(test)]
mod tests {
    use dancu_proto::v1::Date;
    use dancu_proto::Message;
    use proptest::prelude::*;

    use super::*;

    fn stored() -> pb::Citizen {
        pb::Citizen {
            id: "001085012345".into(),
            full_name: "Nguyễn Văn An".into(),
            date_of_birth: Some(Date { year: 1985, month: 3, day: 14 }),
            sex: Sex::Male as i32,
            ..Default::default()
        }
    }

    fn query(name: Option<&str>, dob: Option<Date>, sex: Sex) -> pb::VerifyQuery {
        pb::VerifyQuery {
            id: "001085012345".into(),
            full_name: name.map(str::to_string),
            date_of_birth: dob,
            sex: sex as i32,
        }
    }

    #[test]
    fn match_needs_every_asked_field() {
        let dob = Some(Date { year: 1985, month: 3, day: 14 });
        let ok = compare(Some(&stored()), &query(Some("Nguyễn Văn An"), dob, Sex::Male));
        assert!(ok.r#match);
        assert_eq!(ok.full_name, FieldMatch::Match as i32);
        let decomposed: String = "Nguyễn Văn An".nfd().collect();
        assert!(compare(Some(&stored()), &query(Some(&decomposed), dob, Sex::Unspecified)).r#match);
        let unaccented = compare(Some(&stored()), &query(Some("Nguyen Van An"), dob, Sex::Unspecified));
        assert!(!unaccented.r#match);
        assert_eq!(unaccented.full_name, FieldMatch::Mismatch as i32);
        assert_eq!(unaccented.date_of_birth, FieldMatch::Match as i32);
        assert_eq!(unaccented.sex, FieldMatch::NotAsked as i32);
        let wrong_sex = compare(Some(&stored()), &query(None, None, Sex::Female));
        assert!(!wrong_sex.r#match);
        let missing = compare(None, &query(Some("Nguyễn Văn An"), dob, Sex::Male));
        assert_eq!((missing.id_status, missing.r#match), (IdStatus::NotFound as i32, false));
        let cancelled = pb::Citizen { replaced_by: "001185012345".into(), ..stored() };
        let replaced = compare(Some(&cancelled), &query(Some("Nguyễn Văn An"), dob, Sex::Male));
        assert_eq!((replaced.id_status, replaced.r#match), (IdStatus::Replaced as i32, false));
        assert_eq!(replaced.full_name, FieldMatch::NotAsked as i32);
    }

    proptest! {
        /// The reply is determined by the query and three booleans: two stored records that agree on
        /// which asked fields match give byte-identical replies, so nothing else can leak.
        #[test]
        fn reply_is_a_function_of_the_query_and_matches(
            stored_name in "\\PC{1,30}", other_name in "\\PC{1,30}", asked_name in proptest::option::of("\\PC{1,30}"),
            y in 1900u32..2026, m in 1u32..=12, d in 1u32..=28, ask_dob in any::<bool>(), female in any::<bool>(),
        ) {
            let dob = Date { year: y, month: m, day: d };
            let a = pb::Citizen { full_name: stored_name.clone(), date_of_birth: Some(dob), ..stored() };
            let q = pb::VerifyQuery {
                id: a.id.clone(),
                full_name: asked_name.clone(),
                date_of_birth: ask_dob.then_some(dob),
                sex: if female { Sex::Female as i32 } else { Sex::Male as i32 },
            };
            let reply = compare(Some(&a), &q).encode_to_vec();
            // The stored name never appears in the reply unless the caller sent it.
            if asked_name.as_deref() != Some(stored_name.as_str()) && stored_name.len() >= 4 {
                prop_assert!(!reply.windows(stored_name.len()).any(|w| w == stored_name.as_bytes()));
            }
            // Another record with the same match pattern gives the same bytes.
            let name_matches = asked_name.as_deref().is_some_and(|n| n.nfc().eq(stored_name.chars()));
            let b_name = if name_matches || asked_name.is_none() { stored_name.clone() } else { other_name.clone() };
            let b = pb::Citizen { full_name: b_name, ..a.clone() };
            let b_matches = asked_name.as_deref().is_some_and(|n| n.nfc().eq(b.full_name.chars()));
            prop_assume!(b_matches == name_matches);
            prop_assert_eq!(compare(Some(&b), &q).encode_to_vec(), reply);
        }
    }
}
