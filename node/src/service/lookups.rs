//! Queries through the secondary indexes: legacy number, household, name + date of birth.
//! Each is a scatter-gather over partitions (`service::scatter`), each part linearized on its own.

use dancu_cluster_config::PartitionId;
use dancu_proto::v1 as pb;
use dancu_proto::v1::registry_client::RegistryClient;
use tonic::transport::Channel;
use tonic::Request;

use crate::limits::{GRPC_MESSAGE_BYTES_MAX, HOUSEHOLD_MEMBERS_MAX, SCATTER_RPC_TIMEOUT};
use crate::service::caller::Caller;
use crate::service::errors::ApiError;
use crate::service::registry::RegistryService;
use crate::service::request::{HouseholdOf, ValidHousehold, ValidLegacy, ValidSearch};

fn peer(channel: Channel) -> RegistryClient<Channel> {
    RegistryClient::new(channel)
        .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
        .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX)
}

impl RegistryService {
    /// A forwarded part: bounded in time and stamped with this cluster's identity, so a node of another cluster at
    /// the leader's address refuses it instead of answering with its data.
    /// The part carries the caller it is for, so the serving node admits that caller again.
    fn forwarded<T>(&self, caller: &Caller, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(SCATTER_RPC_TIMEOUT);
        self.groups.identity.stamp(request.metadata_mut(), None);
        caller.stamp_forwarded(request.metadata_mut());
        request
    }
}

/// The identity fields a household listing or search hit shows, less those the caller may not see.
fn summary_for(caller: &Caller, citizen: &pb::Citizen) -> pb::CitizenSummary {
    if caller.mask().is_empty() {
        return summary(citizen);
    }
    let mut citizen = citizen.clone();
    caller.mask().clear(&mut citizen);
    summary(&citizen)
}

/// The identity fields a household listing or search hit shows.
pub fn summary(citizen: &pb::Citizen) -> pb::CitizenSummary {
    pb::CitizenSummary {
        id: citizen.id.clone(),
        full_name: citizen.full_name.clone(),
        date_of_birth: citizen.date_of_birth,
        sex: citizen.sex,
        household_id: citizen.household_id.clone(),
        relationship_to_head: citizen.relationship_to_head.clone(),
        status: citizen.status,
    }
}

/// Sorted by ID, duplicates (the same record reached twice) removed, at most `limit`; true when cut.
fn gather(parts: Vec<(Vec<pb::CitizenSummary>, bool)>, limit: usize) -> (Vec<pb::CitizenSummary>, bool) {
    let mut truncated = parts.iter().any(|(_, cut)| *cut);
    let mut all: Vec<pb::CitizenSummary> = parts.into_iter().flat_map(|(hits, _)| hits).collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all.dedup_by(|a, b| a.id == b.id);
    if all.len() > limit {
        all.truncate(limit);
        truncated = true;
    }
    (all, truncated)
}

impl RegistryService {
    fn all_partitions(&self) -> impl Iterator<Item = PartitionId> + '_ {
        self.groups.partition_map.partitions.iter().map(|spec| spec.id)
    }

    pub(super) async fn legacy(
        &self,
        caller: Caller,
        request: ValidLegacy,
    ) -> Result<pb::LookupLegacyNumberResponse, ApiError> {
        let ValidLegacy { consistency, request } = request;
        let number = request.legacy_id_number.as_str();
        let mut plan = self.plan(&caller, &request.partition_ids, self.all_partitions(), consistency)?;
        let out_of_scope_partitions = std::mem::take(&mut plan.out_of_scope);
        let caller = &caller;
        let parts = self
            .scatter(
                plan,
                |pid| async move {
                    self.read_point(pid, consistency).await?;
                    Ok(self.groups.store.legacy_lookup(pid, number)?)
                },
                |channel, partition_ids| {
                    let message = pb::LookupLegacyNumberRequest { partition_ids, ..request.clone() };
                    async move {
                        let reply =
                            peer(channel).lookup_legacy_number(self.forwarded(caller, message)).await?.into_inner();
                        Ok(reply.found.then_some(reply.id))
                    }
                },
            )
            .await?;
        // Uniqueness is enforced per partition; across partitions the lowest ID answers deterministically.
        let id = parts.into_iter().flatten().min();
        Ok(pb::LookupLegacyNumberResponse { found: id.is_some(), id: id.unwrap_or_default(), out_of_scope_partitions })
    }

    pub(super) async fn household(
        &self,
        caller: Caller,
        request: ValidHousehold,
    ) -> Result<pb::ListHouseholdResponse, ApiError> {
        let ValidHousehold { consistency, of, request } = request;
        let household_id = match of {
            HouseholdOf::Member { partition, id } => {
                self.read_point(partition, consistency).await?;
                let citizen = self.current_citizen(partition, &id)?;
                if citizen.household_id.is_empty() {
                    return Ok(pb::ListHouseholdResponse {
                        household_id: String::new(),
                        members: vec![summary_for(&caller, &citizen)],
                        out_of_scope_partitions: Vec::new(),
                    });
                }
                citizen.household_id
            }
            HouseholdOf::Household(household_id) => household_id,
        };
        let mut plan = self.plan(&caller, &request.partition_ids, self.all_partitions(), consistency)?;
        let out_of_scope_partitions = std::mem::take(&mut plan.out_of_scope);
        let household = household_id.as_str();
        let caller = &caller;
        let parts = self
            .scatter(
                plan,
                |pid| async move {
                    self.read_point(pid, consistency).await?;
                    let (members, cut) = self.groups.store.household_members(pid, household, HOUSEHOLD_MEMBERS_MAX)?;
                    Ok((members.iter().map(|member| summary_for(caller, member)).collect(), cut))
                },
                |channel, partition_ids| {
                    let message = pb::ListHouseholdRequest {
                        id: String::new(),
                        household_id: household.to_string(),
                        partition_ids,
                        ..request.clone()
                    };
                    async move {
                        let reply = peer(channel).list_household(self.forwarded(caller, message)).await?.into_inner();
                        Ok((reply.members, false))
                    }
                },
            )
            .await?;
        let (members, _) = gather(parts, HOUSEHOLD_MEMBERS_MAX);
        Ok(pb::ListHouseholdResponse { household_id, members, out_of_scope_partitions })
    }

    pub(super) async fn search(
        &self,
        caller: Caller,
        request: ValidSearch,
    ) -> Result<pb::SearchCitizensResponse, ApiError> {
        let ValidSearch { consistency, key, date_of_birth: dob, limit, request } = request;
        let province = request.province_code.as_str();
        let candidates = self
            .groups
            .partition_map
            .partitions
            .iter()
            .filter(|spec| province.is_empty() || spec.province_code == province)
            .map(|spec| spec.id);
        let mut plan = self.plan(&caller, &request.partition_ids, candidates, consistency)?;
        let out_of_scope_partitions = std::mem::take(&mut plan.out_of_scope);
        let key = key.as_str();
        let caller = &caller;
        let parts = self
            .scatter(
                plan,
                |pid| async move {
                    self.read_point(pid, consistency).await?;
                    let (hits, cut) = self.groups.store.search_name_dob(pid, key, &dob, limit)?;
                    Ok((hits.iter().map(|hit| summary_for(caller, hit)).collect(), cut))
                },
                |channel, partition_ids| {
                    let message = pb::SearchCitizensRequest { partition_ids, ..request.clone() };
                    async move {
                        let reply = peer(channel).search_citizens(self.forwarded(caller, message)).await?.into_inner();
                        Ok((reply.hits, reply.truncated))
                    }
                },
            )
            .await?;
        let (hits, truncated) = gather(parts, limit);
        Ok(pb::SearchCitizensResponse { hits, truncated, out_of_scope_partitions })
    }
}
