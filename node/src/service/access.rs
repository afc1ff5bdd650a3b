//! Who may do what: the configuration's `[[roles]]` and `[[callers]]`, compiled once for the request path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dancu_cluster_config::{ClusterConfig, Operation, RoleConfig, ANY_PURPOSE};

use crate::service::field_mask::{FieldMask, FieldMaskError};
use crate::service::quota::TokenBucket;

/// The name the insecure mode's everything-allowed role shows (`WhoAmI`, audit).
pub const INSECURE_ROLE: &str = "insecure-plaintext";
/// The role of a node's own certificate when it calls for itself.
pub const NODE_ROLE: &str = "node";

/// What one role allows.
#[derive(Debug)]
pub struct Role {
    pub name: String,
    /// A bit per position in `Operation::ALL`.
    operations: u32,
    pub mask: FieldMask,
    /// Three-digit province codes; `None`: every province.
    provinces: Option<Vec<String>>,
    /// `None`: any purpose.
    purposes: Option<Vec<String>>,
    pub requests_per_s: Option<u32>,
    pub burst: Option<u32>,
}

fn bit(operation: Operation) -> u32 {
    let position = Operation::ALL.iter().position(|known| *known == operation).unwrap_or(31);
    1 << position
}

impl Role {
    fn compile(config: &RoleConfig) -> Result<Role, FieldMaskError> {
        let purposes = config.purposes.iter().any(|purpose| purpose == ANY_PURPOSE);
        Ok(Role {
            name: config.name.clone(),
            operations: config.operations().into_iter().fold(0, |bits, operation| bits | bit(operation)),
            mask: FieldMask::from_names(&config.hidden_fields)?,
            provinces: (!config.provinces.is_empty()).then(|| config.provinces.clone()),
            purposes: (!purposes).then(|| config.purposes.clone()),
            requests_per_s: config.requests_per_s,
            burst: config.burst(),
        })
    }

    /// Nodes acting for themselves: no data operations.
    fn node() -> Role {
        Role {
            name: NODE_ROLE.to_string(),
            operations: 0,
            mask: FieldMask::none(),
            provinces: None,
            purposes: Some(Vec::new()),
            requests_per_s: None,
            burst: None,
        }
    }

    /// Everything, for everyone: the cluster runs without TLS (`tls.mode = "insecure-plaintext"`).
    fn insecure() -> Role {
        Role {
            name: INSECURE_ROLE.to_string(),
            operations: Operation::ALL.iter().fold(0, |bits, operation| bits | bit(*operation)),
            mask: FieldMask::none(),
            provinces: None,
            purposes: None,
            requests_per_s: None,
            burst: None,
        }
    }

    pub fn allows(&self, operation: Operation) -> bool {
        self.operations & bit(operation) != 0
    }

    pub fn operations(&self) -> impl Iterator<Item = Operation> + '_ {
        Operation::ALL.into_iter().filter(|operation| self.allows(*operation))
    }

    pub fn allows_purpose(&self, purpose: &str) -> bool {
        self.purposes.as_ref().is_none_or(|allowed| allowed.iter().any(|one| one == purpose))
    }

    pub fn purposes(&self) -> Vec<String> {
        self.purposes.clone().unwrap_or_else(|| vec![ANY_PURPOSE.to_string()])
    }

    pub fn in_scope(&self, province_code: &str) -> bool {
        self.provinces.as_ref().is_none_or(|codes| codes.iter().any(|code| code == province_code))
    }

    /// Empty: every province.
    pub fn provinces(&self) -> &[String] {
        self.provinces.as_deref().unwrap_or_default()
    }

    pub fn is_province_scoped(&self) -> bool {
        self.provinces.is_some()
    }
}

/// A configured caller: its role and its own quota.
#[derive(Debug)]
pub struct CallerEntry {
    pub role: Arc<Role>,
    quota: Option<Mutex<TokenBucket>>,
}

impl CallerEntry {
    /// Takes one request from the caller's quota, or says how long until one is allowed.
    pub fn take_quota(&self, now: Instant) -> Result<(), std::time::Duration> {
        match &self.quota {
            None => Ok(()),
            Some(bucket) => bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take(now),
        }
    }
}

/// The access rules of the whole cluster, as this node enforces them.
#[derive(Debug)]
pub enum AccessPolicy {
    /// No TLS, no identities: every request is allowed (benchmarks' plaintext rows, local development).
    InsecurePlaintext(Arc<CallerEntry>),
    /// Identities from certificates; callers by name. A node acting for itself (not forwarding for a caller) gets
    /// `nodes`: a role with no operations, enough for Status and WhoAmI.
    Mutual { callers: HashMap<String, Arc<CallerEntry>>, nodes: Arc<CallerEntry> },
}

impl AccessPolicy {
    /// From a validated configuration.
    pub fn from_config(config: &ClusterConfig) -> Result<AccessPolicy, FieldMaskError> {
        if !config.requires_tls() {
            return Ok(AccessPolicy::InsecurePlaintext(Arc::new(CallerEntry {
                role: Arc::new(Role::insecure()),
                quota: None,
            })));
        }
        let now = Instant::now();
        let mut roles = HashMap::new();
        for role in &config.roles {
            roles.insert(role.name.as_str(), Arc::new(Role::compile(role)?));
        }
        let callers = config
            .callers
            .iter()
            .filter_map(|caller| {
                let role = roles.get(caller.role.as_str())?.clone();
                let quota =
                    role.requests_per_s.map(|rate| Mutex::new(TokenBucket::new(rate, role.burst.unwrap_or(rate), now)));
                Some((caller.name.clone(), Arc::new(CallerEntry { role, quota })))
            })
            .collect();
        let nodes = Arc::new(CallerEntry { role: Arc::new(Role::node()), quota: None });
        Ok(AccessPolicy::Mutual { callers, nodes })
    }

    pub fn caller(&self, name: &str) -> Option<&Arc<CallerEntry>> {
        match self {
            AccessPolicy::InsecurePlaintext(_) => None,
            AccessPolicy::Mutual { callers, .. } => callers.get(name),
        }
    }

    /// Every role a request may be served under (each configured caller's, the nodes', or the insecure one).
    pub fn roles(&self) -> Vec<&Role> {
        match self {
            AccessPolicy::InsecurePlaintext(everyone) => vec![&everyone.role],
            AccessPolicy::Mutual { callers, nodes } => std::iter::once(&nodes.role)
                .chain(callers.values().map(|caller| &caller.role))
                .map(|role| &**role)
                .collect(),
        }
    }
}
