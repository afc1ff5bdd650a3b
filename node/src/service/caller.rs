//! The one step between decoding a request and executing it: who calls, whether they may, and why.
//!
//! Identity comes from the connection's verified certificate (`dancu_tls::PeerInfo`), never from a field the caller
//! fills in. Every Registry RPC passes [`admit`] (identity → role → operation → purpose → quota) and gets a
//! [`Caller`], which the handlers need to read anything: it checks each record's province against the role's scope
//! and carries the role's field mask to the reply. The Raft and Admin services pass [`AccessCheck`] instead, which
//! admits only nodes (Raft) or nodes and admin callers (Admin).
//!
//! A scatter-gather part forwarded by a node names the caller it is for (`dancu-on-behalf-of`); only a node's
//! certificate may do so, and the serving node checks that caller's role again.

use std::sync::Arc;
use std::time::Instant;

use dancu_cluster_config::Operation;
use dancu_proto::v1 as pb;
use dancu_proto::v1::CallerContext;
use dancu_tls::{PeerIdentity, PeerInfo};
use tonic::codegen::http;
use tonic::metadata::{MetadataMap, MetadataValue};

use crate::identity::FROM_NODE_HEADER;
use crate::limits::{PURPOSE_BYTES_MAX, REQUEST_ID_BYTES_MAX};
use crate::service::access::{AccessPolicy, CallerEntry, Role};
use crate::service::errors::{ApiError, Denial};
use crate::service::field_mask::FieldMask;

/// The caller a node's forwarded scatter-gather part is for.
pub const ON_BEHALF_OF_HEADER: &str = "dancu-on-behalf-of";

/// What a request needs from the caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The role must include the operation, and the request must name an allowed purpose.
    Operation(Operation),
    /// Any identified caller (Status, WhoAmI: no personal data).
    AnyCaller,
}

/// A request message of the Registry service: what it needs and the caller context it carries.
pub trait Rpc {
    const ACCESS: Access;
    fn context(&self) -> Option<&CallerContext>;
}

macro_rules! rpc {
    ($($message:ty => $operation:ident),* $(,)?) => {$(
        impl Rpc for $message {
            const ACCESS: Access = Access::Operation(Operation::$operation);
            fn context(&self) -> Option<&CallerContext> {
                self.context.as_ref()
            }
        }
    )*};
}

rpc! {
    pb::GetCitizenRequest => Get,
    pb::BatchGetCitizensRequest => BatchGet,
    pb::VerifyCitizenRequest => Verify,
    pb::BatchVerifyCitizensRequest => Verify,
    pb::SearchCitizensRequest => Search,
    pb::ListHouseholdRequest => Household,
    pb::LookupLegacyNumberRequest => Legacy,
    pb::ScanPartitionRequest => Scan,
    pb::PutCitizenRequest => Put,
    pb::PutCitizensRequest => Import,
    pb::RecordLifeEventRequest => Events,
    pb::QueryAccessesRequest => Audit,
    pb::ReadChainRequest => Audit,
}

impl Rpc for pb::StatusRequest {
    const ACCESS: Access = Access::AnyCaller;
    fn context(&self) -> Option<&CallerContext> {
        None
    }
}

impl Rpc for pb::WhoAmIRequest {
    const ACCESS: Access = Access::AnyCaller;
    fn context(&self) -> Option<&CallerContext> {
        None
    }
}

/// An admitted caller: handlers cannot read without one.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `None` when the cluster runs without TLS.
    pub identity: Option<PeerIdentity>,
    entry: Arc<CallerEntry>,
    pub purpose: String,
    pub request_id: String,
    /// The node that forwarded this part (the caller was admitted and charged there).
    pub forwarded_by: Option<u64>,
}

impl Caller {
    pub fn role(&self) -> &Role {
        &self.entry.role
    }

    pub fn mask(&self) -> &FieldMask {
        &self.entry.role.mask
    }

    /// Refuses a record of a province outside the role's scope, before anything is looked up: the answer is the
    /// same whether or not the record exists.
    pub fn check_scope(&self, province_code: &str) -> Result<(), ApiError> {
        if self.role().in_scope(province_code) {
            Ok(())
        } else {
            Err(ApiError::denied(
                Denial::OutOfScope,
                format!("province {province_code} is outside the scope of role {}", self.role().name),
            ))
        }
    }

    /// Marks a part forwarded to another node with the caller it is for.
    pub fn stamp_forwarded(&self, metadata: &mut MetadataMap) {
        if let Some(PeerIdentity::Caller(name)) = &self.identity {
            if let Ok(value) = MetadataValue::try_from(name.as_str()) {
                metadata.insert(ON_BEHALF_OF_HEADER, value);
            }
        }
    }
}

/// Admits `request` under `policy`, or says why not.
pub fn admit<Q: Rpc>(policy: &AccessPolicy, request: &tonic::Request<Q>) -> Result<Caller, ApiError> {
    let (purpose, request_id) = match Q::ACCESS {
        Access::Operation(_) => checked_context(request.get_ref().context())?,
        Access::AnyCaller => (String::new(), String::new()),
    };
    let (identity, entry, forwarded_by) = identify(policy, request.extensions(), request.metadata())?;
    let caller = Caller { identity, entry, purpose, request_id, forwarded_by };
    let Access::Operation(operation) = Q::ACCESS else {
        return Ok(caller);
    };
    let role = caller.role();
    if !role.allows(operation) {
        return Err(ApiError::denied(
            Denial::OperationNotAllowed,
            format!("role {} does not allow {operation}", role.name),
        ));
    }
    if !role.allows_purpose(&caller.purpose) {
        return Err(ApiError::denied(
            Denial::PurposeNotAllowed,
            format!("role {} does not allow the purpose {:?}", role.name, caller.purpose),
        ));
    }
    if caller.forwarded_by.is_none() {
        if let Err(wait) = caller.entry.take_quota(Instant::now()) {
            return Err(ApiError::QuotaExceeded {
                caller: caller.identity.as_ref().map_or_else(String::new, |identity| identity.file_stem()),
                retry_after_ms: wait.as_millis().clamp(1, u128::from(u32::MAX)) as u32,
            });
        }
    }
    Ok(caller)
}

fn checked_context(context: Option<&CallerContext>) -> Result<(String, String), ApiError> {
    let Some(context) = context.filter(|context| !context.purpose.trim().is_empty()) else {
        return Err(ApiError::invalid("context.purpose", "every request must name its purpose"));
    };
    if context.purpose.len() > PURPOSE_BYTES_MAX {
        return Err(ApiError::invalid("context.purpose", format!("longer than {PURPOSE_BYTES_MAX} bytes")));
    }
    if context.request_id.len() > REQUEST_ID_BYTES_MAX {
        return Err(ApiError::invalid("context.request_id", format!("longer than {REQUEST_ID_BYTES_MAX} bytes")));
    }
    Ok((context.purpose.clone(), context.request_id.clone()))
}

type Identified = (Option<PeerIdentity>, Arc<CallerEntry>, Option<u64>);

fn identify(
    policy: &AccessPolicy,
    extensions: &http::Extensions,
    metadata: &MetadataMap,
) -> Result<Identified, ApiError> {
    let (callers, nodes) = match policy {
        AccessPolicy::InsecurePlaintext(everyone) => return Ok((None, everyone.clone(), None)),
        AccessPolicy::Mutual { callers, nodes } => (callers, nodes),
    };
    let unknown = |message: String| ApiError::denied(Denial::UnknownCaller, message);
    let Some(peer) = extensions.get::<PeerInfo>() else {
        return Err(unknown("no verified client certificate".into()));
    };
    let (name, forwarded_by) = match &peer.identity {
        PeerIdentity::Caller(name) => (name.as_str(), None),
        PeerIdentity::Node(node) => {
            let on_behalf = metadata.get(ON_BEHALF_OF_HEADER).and_then(|value| value.to_str().ok());
            let Some(name) = on_behalf else {
                // For itself: the node role allows no data operation, so only Status and WhoAmI pass.
                return Ok((Some(PeerIdentity::Node(*node)), nodes.clone(), None));
            };
            (name, Some(*node))
        }
    };
    let entry = callers.get(name).ok_or_else(|| unknown(format!("{name} is not a configured caller")))?;
    let identity = PeerIdentity::Caller(name.to_string());
    Ok((Some(identity), entry.clone(), forwarded_by))
}

const RAFT_PREFIX: &str = "/dancu.v1.Raft/";
const ADMIN_PREFIX: &str = "/dancu.v1.Admin/";

/// The service-level half of admission, in front of every service (a [`crate::gate::Check`]): the internal Raft
/// service admits only nodes (each as the node it claims to be in `dancu-from-node`), the Admin service nodes and
/// callers whose role allows `admin`. Registry RPCs are admitted one by one by [`admit`]; health and reflection take
/// any verified identity.
#[derive(Clone)]
pub struct AccessCheck(pub Arc<AccessPolicy>);

impl crate::gate::Check for AccessCheck {
    fn check(&self, path: &str, extensions: &http::Extensions, headers: &http::HeaderMap) -> Result<(), tonic::Status> {
        gate(&self.0, path, extensions, headers).map_err(tonic::Status::from)
    }
}

/// The access check's decision.
pub fn gate(
    policy: &AccessPolicy,
    path: &str,
    extensions: &http::Extensions,
    headers: &http::HeaderMap,
) -> Result<(), ApiError> {
    let AccessPolicy::Mutual { callers, .. } = policy else {
        return Ok(());
    };
    let Some(peer) = extensions.get::<PeerInfo>() else {
        return Err(ApiError::denied(Denial::UnknownCaller, "no verified client certificate"));
    };
    let denied = |message: String| Err(ApiError::denied(Denial::OperationNotAllowed, message));
    match &peer.identity {
        PeerIdentity::Node(node) => {
            let claimed = headers.get(FROM_NODE_HEADER).and_then(|value| value.to_str().ok());
            match claimed {
                Some(claimed) if claimed.parse::<u64>().ok() != Some(*node) => {
                    denied(format!("node {node}'s certificate sent a message as node {claimed}"))
                }
                _ => Ok(()),
            }
        }
        PeerIdentity::Caller(name) if path.starts_with(RAFT_PREFIX) => {
            denied(format!("caller {name}: the Raft service is for nodes only"))
        }
        PeerIdentity::Caller(name) if path.starts_with(ADMIN_PREFIX) => match callers.get(name.as_str()) {
            Some(entry) if entry.role.allows(Operation::Admin) => Ok(()),
            Some(entry) => denied(format!("role {} does not allow admin", entry.role.name)),
            None => Err(ApiError::denied(Denial::UnknownCaller, format!("{name} is not a configured caller"))),
        },
        PeerIdentity::Caller(_) => Ok(()),
    }
}
