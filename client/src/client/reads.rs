//! Reads beyond get: verification (single and batch) and the scatter-gather queries (legacy number, household,
//! search), which the node asked fans out itself.

use std::time::Duration;

use crate::channels::NodeChannel;
use dancu_proto::v1::registry_client::RegistryClient;
use dancu_proto::v1::{
    BatchVerifyCitizensRequest, CallerContext, Consistency, Date, ListHouseholdRequest, ListHouseholdResponse,
    LookupLegacyNumberRequest, SearchCitizensRequest, SearchCitizensResponse, Sex, VerifyCitizenRequest,
    VerifyCitizenResponse, VerifyQuery, VerifyResult,
};
use tonic::{Request, Response, Status};

use super::{new_request_id, target_for, Client, Route};
use crate::ClientError;

/// Most queries in one `batch_verify` (the server enforces the same limit).
const BATCH_VERIFY_MAX: usize = 1000;
/// Most hits one search returns (the server's limit).
const SEARCH_LIMIT_MAX: u32 = 100;
/// Digits of a legacy identity card number (CMND).
const LEGACY_NUMBER_DIGITS: usize = 9;

/// What a legacy-number lookup found, and which partitions the caller's province scope left unsearched (a scoped
/// caller's "not found" covers only its own provinces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyLookup {
    pub id: Option<String>,
    pub out_of_scope_partitions: Vec<u32>,
}

/// A search: citizens with this full name (compared case- and diacritic-insensitively by the server) and date
/// of birth, optionally only IDs of one province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub full_name: String,
    pub date_of_birth: Date,
    /// The 3-digit province code of the personal ID (where the birth was registered); `None`: every province.
    pub province_code: Option<String>,
    /// Most hits, 1 to 100; 0 means the server's default (20).
    pub limit: u32,
}

/// A query asks about at least one field, else it is refused (the server refuses it too).
fn check_asked(query: &VerifyQuery, field: &str) -> Result<(), ClientError> {
    let asked = query.full_name.is_some() || query.date_of_birth.is_some() || query.sex != Sex::Unspecified as i32;
    if asked {
        return Ok(());
    }
    Err(ClientError::invalid(field, "ask about at least one of full_name, date_of_birth, sex"))
}

/// One `BatchVerifyCitizens` attempt (the per-node and the per-partition paths send the same request).
async fn send_batch_verify(
    mut registry: RegistryClient<NodeChannel>,
    queries: Vec<VerifyQuery>,
    consistency: Consistency,
    context: CallerContext,
    timeout: Duration,
) -> Result<Vec<VerifyResult>, Status> {
    let message = BatchVerifyCitizensRequest { queries, consistency: consistency.into(), context: Some(context) };
    let mut request = Request::new(message);
    request.set_timeout(timeout);
    registry.batch_verify_citizens(request).await.map(|response| response.into_inner().results)
}

impl SearchQuery {
    fn check(&self) -> Result<(), ClientError> {
        if self.full_name.trim().is_empty() {
            return Err(ClientError::invalid("full_name", "required"));
        }
        if let Some(code) = &self.province_code {
            if code.len() != 3 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(ClientError::invalid("province_code", format!("expected 3 digits, got {code:?}")));
            }
        }
        if self.limit > SEARCH_LIMIT_MAX {
            return Err(ClientError::invalid("limit", format!("{}, at most {SEARCH_LIMIT_MAX}", self.limit)));
        }
        Ok(())
    }
}

impl Client {
    /// Does what a caller claims about `query.id` (name, date of birth, sex: at least one) match the register?
    /// The answer is per field (match / mismatch / not asked) and never carries a stored value. A cancelled ID
    /// answers `id_status: REPLACED` (not an error).
    pub async fn verify(
        &self,
        query: VerifyQuery,
        consistency: Consistency,
    ) -> Result<VerifyCitizenResponse, ClientError> {
        check_asked(&query, "query")?;
        let id = query.id.clone();
        let request_id = new_request_id();
        self.execute(&id, "query.id", target_for(consistency), &request_id, |mut registry, context, timeout| {
            let message = VerifyCitizenRequest {
                query: Some(query.clone()),
                consistency: consistency.into(),
                context: Some(context),
            };
            let mut request = Request::new(message);
            request.set_timeout(timeout);
            async move { registry.verify_citizen(request).await.map(Response::into_inner) }
        })
        .await
    }

    /// Up to 1,000 verifications; one result per query, in request order. Like [`Client::batch_get`], queries
    /// are grouped by the node serving their partition, one request per node, concurrently. Errors name the query by its
    /// index in `queries` (`queries[3].id`).
    pub async fn batch_verify(
        &self,
        queries: &[VerifyQuery],
        consistency: Consistency,
    ) -> Result<Vec<VerifyResult>, ClientError> {
        if queries.len() > BATCH_VERIFY_MAX {
            let message = format!("{} queries, at most {BATCH_VERIFY_MAX} per batch", queries.len());
            return Err(ClientError::invalid("queries", message));
        }
        for (idx, query) in queries.iter().enumerate() {
            check_asked(query, &format!("queries[{idx}]"))?;
        }
        let ids: Vec<String> = queries.iter().map(|query| query.id.clone()).collect();
        let request_id = new_request_id();
        let target = target_for(consistency);
        let send_to = |addr: String, group: Vec<VerifyQuery>| {
            let request_id = &request_id;
            async move {
                self.attempt_at(&addr, request_id, |mut registry: RegistryClient<NodeChannel>, context, timeout| {
                    let message = BatchVerifyCitizensRequest {
                        queries: group,
                        consistency: consistency.into(),
                        context: Some(context),
                    };
                    let mut request = Request::new(message);
                    request.set_timeout(timeout);
                    async move {
                        registry.batch_verify_citizens(request).await.map(|response| response.into_inner().results)
                    }
                })
                .await
            }
        };
        self.per_node(
            queries,
            &ids,
            |idx| format!("queries[{idx}].id"),
            target,
            send_to,
            |group: Vec<VerifyQuery>| {
                let routing_id = group[0].id.clone();
                let request_id = &request_id;
                async move {
                    self.execute(&routing_id, "queries", target, request_id, |registry, context, timeout| {
                        send_batch_verify(registry, group.clone(), consistency, context, timeout)
                    })
                    .await
                }
            },
        )
        .await
    }

    /// The personal ID that a legacy 9-digit identity card number (CMND) belongs to; `id: None` when no record
    /// the caller may see has it. The node asked searches every partition in the caller's scope.
    pub async fn lookup_legacy_number(
        &self,
        legacy_id_number: &str,
        consistency: Consistency,
    ) -> Result<LegacyLookup, ClientError> {
        let well_formed = legacy_id_number.len() == LEGACY_NUMBER_DIGITS
            && legacy_id_number.bytes().all(|byte| byte.is_ascii_digit());
        if !well_formed {
            let message = format!("a legacy ID number is {LEGACY_NUMBER_DIGITS} digits");
            return Err(ClientError::invalid("legacy_id_number", message));
        }
        let route = Route::AnyNode { target: target_for(consistency) };
        let response = self
            .execute_routed(route, &new_request_id(), |mut registry: RegistryClient<NodeChannel>, context, timeout| {
                let message = LookupLegacyNumberRequest {
                    legacy_id_number: legacy_id_number.to_string(),
                    consistency: consistency.into(),
                    context: Some(context),
                    partition_ids: Vec::new(),
                };
                let mut request = Request::new(message);
                request.set_timeout(timeout);
                async move { registry.lookup_legacy_number(request).await.map(Response::into_inner) }
            })
            .await?;
        Ok(LegacyLookup {
            id: response.found.then_some(response.id),
            out_of_scope_partitions: response.out_of_scope_partitions,
        })
    }

    /// The household of citizen `id` (every member, from every partition, sorted by ID); `Ok(None)` when there
    /// is no such citizen. Sent to the node serving `id`'s partition, which reads the household id there first.
    pub async fn list_household(
        &self,
        id: &str,
        consistency: Consistency,
    ) -> Result<Option<ListHouseholdResponse>, ClientError> {
        let message =
            ListHouseholdRequest { id: id.to_string(), consistency: consistency.into(), ..Default::default() };
        let route = Route::Id { id, field: "id", target: target_for(consistency) };
        match self.list_household_routed(route, message).await {
            Ok(response) => Ok(Some(response)),
            Err(ClientError::NotFound) => Ok(None),
            Err(error) => Err(error.with_replaced_id(id)),
        }
    }

    /// The members of household `household_id`, from every partition, sorted by ID (none: an empty list).
    pub async fn list_household_by_id(
        &self,
        household_id: &str,
        consistency: Consistency,
    ) -> Result<ListHouseholdResponse, ClientError> {
        if household_id.trim().is_empty() {
            return Err(ClientError::invalid("household_id", "required"));
        }
        let message = ListHouseholdRequest {
            household_id: household_id.to_string(),
            consistency: consistency.into(),
            ..Default::default()
        };
        self.list_household_routed(Route::AnyNode { target: target_for(consistency) }, message).await
    }

    async fn list_household_routed(
        &self,
        route: Route<'_>,
        message: ListHouseholdRequest,
    ) -> Result<ListHouseholdResponse, ClientError> {
        self.execute_routed(route, &new_request_id(), |mut registry: RegistryClient<NodeChannel>, context, timeout| {
            let mut request = Request::new(ListHouseholdRequest { context: Some(context), ..message.clone() });
            request.set_timeout(timeout);
            async move { registry.list_household(request).await.map(Response::into_inner) }
        })
        .await
    }

    /// Citizens by full name and date of birth (optionally in one province), sorted by ID, at most
    /// `query.limit`; `truncated` says more matched. The node asked searches every partition concerned.
    pub async fn search(
        &self,
        query: &SearchQuery,
        consistency: Consistency,
    ) -> Result<SearchCitizensResponse, ClientError> {
        query.check()?;
        let message = SearchCitizensRequest {
            full_name: query.full_name.clone(),
            date_of_birth: Some(query.date_of_birth),
            province_code: query.province_code.clone().unwrap_or_default(),
            limit: query.limit,
            consistency: consistency.into(),
            context: None,
            partition_ids: Vec::new(),
        };
        let route = Route::AnyNode { target: target_for(consistency) };
        self.execute_routed(route, &new_request_id(), |mut registry: RegistryClient<NodeChannel>, context, timeout| {
            let mut request = Request::new(SearchCitizensRequest { context: Some(context), ..message.clone() });
            request.set_timeout(timeout);
            async move { registry.search_citizens(request).await.map(Response::into_inner) }
        })
        .await
    }
}
