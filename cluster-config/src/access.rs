//! Access control as operators write it: whether connections use mutual TLS (`[tls]`), what each role may do
//! (`[[roles]]`), and which role each caller certificate gets (`[[callers]]`).
//!
//! This crate only describes and validates it; the node enforces it in the one admission step every request passes
//! (identity → role → operation → purpose → scope → quota), and masks the role's hidden fields in the reply.

use serde::{Deserialize, Serialize};

use crate::{ClusterConfig, Operation};

/// The purpose that stands for every purpose, allowed only as a role's single purpose.
pub const ANY_PURPOSE: &str = "*";

/// The top-level fields of the `dancu.v1.Citizen` message, in field-number order: what `hidden_fields` may name.
///
/// The node's tests check this list against the protobuf descriptor, so a field added to the message must be added
/// here too (this crate does not depend on the protobuf code).
pub const CITIZEN_FIELDS: &[&str] = &[
    "id",
    "full_name",
    "other_name",
    "date_of_birth",
    "sex",
    "birth_registration_place",
    "hometown",
    "ethnicity",
    "religion",
    "nationality",
    "blood_type",
    "permanent_residence",
    "temporary_residence",
    "current_residence",
    "household_id",
    "relationship_to_head",
    "father",
    "mother",
    "spouse",
    "legal_representative",
    "status",
    "status_date",
    "id_card_number",
    "id_card_issue_date",
    "legacy_id_number",
    "revision",
    "updated_at_unix_ms",
    "earlier_ids",
    "replaced_by",
    "marital_status",
];

/// The field no role may hide: every reply must say which citizen it is about.
pub(crate) const CITIZEN_ID_FIELD: &str = "id";

/// `[tls]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Whether connections are plaintext or mutual TLS; plaintext when absent.
    pub mode: TlsMode,
}

impl TlsConfig {
    /// Plaintext, as when the table is absent (so a file without `[tls]` round-trips without one).
    pub fn is_default(&self) -> bool {
        *self == TlsConfig::default()
    }
}

/// How nodes and callers connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// `"insecure-plaintext"`: no encryption and no identities (benchmarks and local development). Named so
    /// that nobody chooses it by accident.
    #[default]
    InsecurePlaintext,
    /// `"mutual"`: every connection, node to node and client to node, is mutual TLS; plaintext is refused and a
    /// caller's identity is the name in its certificate.
    Mutual,
}

/// One role (`[[roles]]`): what its callers may do, for which purposes, over which provinces, how often.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Unique name that callers refer to: `[a-z0-9][a-z0-9-]*`, at most 64 bytes.
    pub name: String,
    /// Names of the granted [`Operation`]s. Kept as written so that validation can report an unknown name with its
    /// path; [`RoleConfig::operations`] gives them typed.
    pub operations: Vec<String>,
    /// Top-level `Citizen` fields (see [`CITIZEN_FIELDS`]) left out of every reply to this role; never `id`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_fields: Vec<String>,
    /// Three-digit province codes whose citizens this role may touch; empty means every province.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provinces: Vec<String>,
    /// Purposes a request may name; [`ANY_PURPOSE`] alone allows any.
    pub purposes: Vec<String>,
    /// Requests per second allowed to each caller of this role; no quota when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<u32>,
    /// Requests a caller may make at once after being idle; `requests_per_s` when absent (see [`RoleConfig::burst`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

/// One caller (`[[callers]]`): a certificate identity and the role it gets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CallerConfig {
    /// The identity in the caller's certificate: `[a-z0-9][a-z0-9-]*`, at most 64 bytes, unique.
    pub name: String,
    /// The name of one of the `[[roles]]`.
    pub role: String,
}

impl RoleConfig {
    /// The granted operations, typed; names that are not operations are skipped (validation reports them).
    pub fn operations(&self) -> Vec<Operation> {
        self.operations.iter().filter_map(|name| name.parse().ok()).collect()
    }

    /// Whether the role may perform `operation`.
    pub fn allows(&self, operation: Operation) -> bool {
        self.operations.iter().any(|name| name == operation.as_str())
    }

    /// Whether a request may name `purpose`. A blank purpose is never allowed, not even by [`ANY_PURPOSE`]: every
    /// request must say why it is made.
    pub fn allows_purpose(&self, purpose: &str) -> bool {
        !purpose.trim().is_empty() && self.purposes.iter().any(|allowed| allowed == ANY_PURPOSE || allowed == purpose)
    }

    /// Whether the role may touch citizens of the province with this three-digit code.
    pub fn in_scope(&self, province_code: &str) -> bool {
        self.provinces.is_empty() || self.provinces.iter().any(|code| code == province_code)
    }

    /// The token bucket's size: `burst`, or `requests_per_s` when absent; `None` when the role has no quota.
    pub fn burst(&self) -> Option<u32> {
        self.requests_per_s.map(|rate| self.burst.unwrap_or(rate))
    }
}

impl ClusterConfig {
    /// Whether every connection must be mutual TLS (`tls.mode = "mutual"`).
    pub fn requires_tls(&self) -> bool {
        self.tls.mode == TlsMode::Mutual
    }

    /// The caller whose certificate names this identity, if any.
    pub fn caller(&self, name: &str) -> Option<&CallerConfig> {
        self.callers.iter().find(|caller| caller.name == name)
    }

    /// The role with this name, if any.
    pub fn role(&self, name: &str) -> Option<&RoleConfig> {
        self.roles.iter().find(|role| role.name == name)
    }

    /// The role of the caller whose certificate names this identity; `None` for an unknown caller.
    pub fn role_of_caller(&self, name: &str) -> Option<&RoleConfig> {
        self.caller(name).and_then(|caller| self.role(&caller.role))
    }
}
