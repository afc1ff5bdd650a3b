//! The client's typed errors, and how a gRPC status from a node is turned into one (or into a retry).

use std::time::Duration;

use dancu_proto::v1::{ErrorDetail, ErrorReason};
use prost::Message;
use tonic::{Code, Status};

/// Why a client call failed. `Display` is one line meant for an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A request field is invalid (found locally or by the server); never retried.
    #[error("invalid argument: {field}: {message}")]
    InvalidArgument {
        /// The offending field, e.g. `citizen.date_of_birth` or `ids[3]`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The record does not exist (only returned where "absent" is not an ordinary answer).
    #[error("not found")]
    NotFound,
    /// `expected_revision` did not match the stored record; never retried.
    #[error("revision mismatch: the stored revision is {current_revision}")]
    RevisionMismatch {
        /// The revision the server holds (0 = no record).
        current_revision: u64,
    },
    /// Retries were exhausted within the deadline (no quorum, no leader, overload, nodes unreachable).
    #[error("unavailable: {message}")]
    Unavailable {
        /// What the last attempt saw.
        message: String,
    },
    /// The call's deadline passed while the last attempt was still waiting for an answer.
    #[error("deadline exceeded")]
    DeadlineExceeded,
    /// No endpoint could be reached to learn the cluster's layout.
    #[error("cannot connect to {endpoint}: {message}")]
    Connect {
        /// The endpoint (or endpoints, comma-separated) that were tried.
        endpoint: String,
        /// What went wrong with the last one.
        message: String,
    },
    /// The server answered with an error this client does not retry or interpret.
    #[error("server error ({code:?}): {message}")]
    Server {
        /// The gRPC status code.
        code: Code,
        /// The server's message.
        message: String,
    },
    /// The client was given an unusable configuration (no endpoints, a bad address, an inconsistent map).
    #[error("configuration: {0}")]
    Config(String),
    /// A write was refused by the record's current state (e.g. a move of a deceased person); nothing was
    /// written, never retried.
    #[error("refused: {message}")]
    Refused {
        /// The server's reason.
        message: String,
    },
    /// A node refused the call as overloaded and the client was told not to retry such refusals
    /// ([`ClientOptions::retry_overloaded`](crate::ClientOptions::retry_overloaded) off): nothing was written.
    #[error("overloaded: {message} (retry after {} ms)", retry_after.as_millis())]
    Overloaded {
        /// The node's reason.
        message: String,
        /// How long the node asked the caller to wait.
        retry_after: Duration,
    },
    /// The caller's certificate identity may not do this (unknown caller, operation or purpose not allowed by its
    /// role, record outside its province scope, a hidden field asked about); never retried. Says nothing about
    /// whether a record exists.
    #[error("permission denied ({reason}): {message}")]
    PermissionDenied {
        /// `unknown_caller`, `operation_not_allowed`, `purpose_not_allowed`, `out_of_scope` or `field_hidden`.
        reason: String,
        /// The server's explanation.
        message: String,
    },
    /// The personal ID was cancelled by an ID correction; `replaced_by` is the ID that replaced it.
    #[error("personal ID {id} was cancelled and replaced by {replaced_by}")]
    IdReplaced {
        /// The cancelled ID (empty when the call did not name a single ID).
        id: String,
        /// The ID that replaced it.
        replaced_by: String,
    },
}

impl ClientError {
    /// An invalid-argument error for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ClientError {
        ClientError::InvalidArgument { field: field.into(), message: message.into() }
    }

    /// Names the cancelled ID in an [`ClientError::IdReplaced`] that lacks it (the server's detail carries only
    /// the replacement); other errors pass unchanged.
    pub(crate) fn with_replaced_id(self, id: &str) -> ClientError {
        match self {
            ClientError::IdReplaced { id: cancelled, replaced_by } if cancelled.is_empty() => {
                ClientError::IdReplaced { id: id.to_string(), replaced_by }
            }
            other => other,
        }
    }
}

/// What the retry loop should do with a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// The node does not lead (or does not host) the partition; `leader_id` / `leader_addr` say who does when
    /// known. Re-route, at once when a leader is named.
    Redirect {
        /// The partition the hint is about (0: not said). A node fanning out a query passes on a peer's
        /// NOT_LEADER, which may concern another partition than the one the call was routed by.
        partition_id: u32,
        leader_id: Option<u64>,
        leader_addr: String,
        message: String,
    },
    /// Transient trouble on the server side (no quorum, overload): back off and try again; an overloaded node says
    /// how long to wait at least (`retry_after`).
    Backoff { message: String, retry_after: Option<Duration> },
    /// The node could not be reached or did not answer in time: suspect it and try another replica.
    Unreachable { message: String, timed_out: bool },
    /// Final: give this error to the caller.
    Fail(ClientError),
}

/// Decodes the `ErrorDetail` a dancu node attaches to every error status, if there is one.
pub(crate) fn error_detail(status: &Status) -> Option<ErrorDetail> {
    if status.details().is_empty() {
        return None;
    }
    ErrorDetail::decode(status.details()).ok()
}

/// Classifies a failed attempt by the server error contract (see the crate docs).
pub(crate) fn classify(status: &Status) -> Disposition {
    let detail = error_detail(status);
    let reason = detail.as_ref().and_then(|detail| ErrorReason::try_from(detail.reason).ok());
    let message = status.message().to_string();
    match status.code() {
        Code::FailedPrecondition => match (reason, detail) {
            (Some(ErrorReason::NotLeader | ErrorReason::PartitionNotHosted), Some(detail)) => {
                let (partition_id, leader_id, leader_addr) =
                    (detail.partition_id, detail.leader_id, detail.leader_addr);
                Disposition::Redirect { partition_id, leader_id, leader_addr, message }
            }
            // A node of another cluster answers at this address: it is as good as unreachable for this client.
            (Some(ErrorReason::ClusterMismatch), _) => Disposition::Unreachable { message, timed_out: false },
            (Some(ErrorReason::Refused), _) => {
                Disposition::Fail(ClientError::Refused { message: strip_prefix_once(&message, "refused: ") })
            }
            _ => Disposition::Fail(server_error(status)),
        },
        Code::InvalidArgument => {
            let field = detail.map(|detail| detail.field).filter(|field| !field.is_empty());
            let field = field.unwrap_or_else(|| "request".to_string());
            let message = strip_field_prefix(&message, &field).to_string();
            Disposition::Fail(ClientError::InvalidArgument { field, message })
        }
        Code::Aborted => match (reason, detail) {
            (Some(ErrorReason::RevisionMismatch), Some(detail)) => {
                Disposition::Fail(ClientError::RevisionMismatch { current_revision: detail.current_revision })
            }
            _ => Disposition::Fail(server_error(status)),
        },
        Code::NotFound => match (reason, detail) {
            (Some(ErrorReason::IdReplaced), Some(detail)) if !detail.replaced_by.is_empty() => {
                Disposition::Fail(ClientError::IdReplaced { id: String::new(), replaced_by: detail.replaced_by })
            }
            _ => Disposition::Fail(ClientError::NotFound),
        },
        // A node that answers with a reason (no quorum, no leader) is alive; one without a detail is a
        // transport failure tonic reported as UNAVAILABLE (connection refused, reset, no route).
        Code::Unavailable if detail.is_some() => Disposition::Backoff { message, retry_after: None },
        Code::Unavailable => Disposition::Unreachable { message, timed_out: false },
        Code::PermissionDenied => {
            let reason = match reason {
                Some(ErrorReason::UnknownCaller) => "unknown_caller",
                Some(ErrorReason::OperationNotAllowed) => "operation_not_allowed",
                Some(ErrorReason::PurposeNotAllowed) => "purpose_not_allowed",
                Some(ErrorReason::OutOfScope) => "out_of_scope",
                Some(ErrorReason::FieldHidden) => "field_hidden",
                _ => "unspecified",
            };
            let message = strip_prefix_once(&message, "permission denied: ");
            Disposition::Fail(ClientError::PermissionDenied { reason: reason.to_string(), message })
        }
        Code::ResourceExhausted => {
            let retry_after = detail.map(|detail| Duration::from_millis(detail.retry_after_ms.into()));
            Disposition::Backoff { message, retry_after: retry_after.filter(|after| !after.is_zero()) }
        }
        // A dancu node attaches a detail to every error it returns, so UNKNOWN / INTERNAL without one come from
        // the transport: hyper reports a connection that died mid-call (a killed node) this way.
        Code::Unknown | Code::Internal if detail.is_none() => Disposition::Unreachable { message, timed_out: false },
        // tonic reports an expired per-attempt timeout as CANCELLED ("Timeout expired"); a node reports it as
        // DEADLINE_EXCEEDED. Either way this attempt was too slow: the caller's deadline decides whether to retry.
        Code::Cancelled | Code::DeadlineExceeded => Disposition::Unreachable { message, timed_out: true },
        _ => Disposition::Fail(server_error(status)),
    }
}

fn server_error(status: &Status) -> ClientError {
    ClientError::Server { code: status.code(), message: status.message().to_string() }
}

/// The server's message without a prefix the error's `Display` adds again.
fn strip_prefix_once(message: &str, prefix: &str) -> String {
    message.strip_prefix(prefix).unwrap_or(message).to_string()
}

/// Servers may already start their message with the field name; don't print it twice.
fn strip_field_prefix<'a>(message: &'a str, field: &str) -> &'a str {
    message.strip_prefix(field).and_then(|rest| rest.strip_prefix(": ")).unwrap_or(message)
}

/// An error's message followed by each of its sources' (tonic's transport error alone says only "transport error",
/// not why), skipping a source whose message the text already holds.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::codegen::Bytes;

    fn status_with(code: Code, message: &str, detail: ErrorDetail) -> Status {
        Status::with_details(code, message, Bytes::from(detail.encode_to_vec()))
    }

    #[test]
    fn not_leader_redirects_with_hint() {
        let detail = ErrorDetail {
            reason: ErrorReason::NotLeader.into(),
            partition_id: 100,
            leader_id: Some(2),
            leader_addr: "10.0.0.2:7000".to_string(),
            ..Default::default()
        };
        let got = classify(&status_with(Code::FailedPrecondition, "not leader", detail));
        let want = Disposition::Redirect {
            partition_id: 100,
            leader_id: Some(2),
            leader_addr: "10.0.0.2:7000".to_string(),
            message: "not leader".to_string(),
        };
        assert_eq!(got, want);
    }

    #[test]
    fn invalid_field_is_final_and_named() {
        let detail = ErrorDetail {
            reason: ErrorReason::InvalidField.into(),
            field: "citizen.date_of_birth".to_string(),
            ..Default::default()
        };
        let status = status_with(Code::InvalidArgument, "citizen.date_of_birth: before 1900-01-01", detail);
        let Disposition::Fail(error) = classify(&status) else { panic!("an invalid field must not be retried") };
        assert_eq!(error.to_string(), "invalid argument: citizen.date_of_birth: before 1900-01-01");
    }

    #[test]
    fn unavailable_with_and_without_detail() {
        let detail = ErrorDetail { reason: ErrorReason::NoQuorum.into(), ..Default::default() };
        let no_quorum = status_with(Code::Unavailable, "no quorum", detail);
        assert!(matches!(classify(&no_quorum), Disposition::Backoff { .. }));
        let transport = Status::unavailable("tcp connect error");
        assert!(matches!(classify(&transport), Disposition::Unreachable { timed_out: false, .. }));
        let closed = Status::unknown("connection closed before message completed");
        assert!(matches!(classify(&closed), Disposition::Unreachable { timed_out: false, .. }));
        let timed_out = Status::cancelled("Timeout expired");
        assert!(matches!(classify(&timed_out), Disposition::Unreachable { timed_out: true, .. }));
    }

    #[test]
    fn an_overloaded_node_says_how_long_to_wait() {
        let detail = ErrorDetail {
            reason: ErrorReason::Overloaded.into(),
            partition_id: 100,
            retry_after_ms: 50,
            ..Default::default()
        };
        let overloaded = status_with(Code::ResourceExhausted, "overloaded", detail);
        let Disposition::Backoff { retry_after, .. } = classify(&overloaded) else { panic!("overload is retried") };
        assert_eq!(retry_after, Some(Duration::from_millis(50)));
        let bare = Status::resource_exhausted("h2 protocol error");
        assert!(matches!(classify(&bare), Disposition::Backoff { retry_after: None, .. }));
    }

    #[test]
    fn refused_and_replaced_are_final_and_typed() {
        let detail = ErrorDetail { reason: ErrorReason::Refused.into(), ..Default::default() };
        let got = classify(&status_with(Code::FailedPrecondition, "refused: the person is deceased", detail));
        let want = ClientError::Refused { message: "the person is deceased".to_string() };
        assert_eq!(got, Disposition::Fail(want.clone()));
        assert_eq!(want.to_string(), "refused: the person is deceased");
        let detail = ErrorDetail {
            reason: ErrorReason::IdReplaced.into(),
            replaced_by: "001185012345".to_string(),
            ..Default::default()
        };
        let Disposition::Fail(error) = classify(&status_with(Code::NotFound, "replaced", detail)) else {
            panic!("a replaced ID is final")
        };
        assert_eq!(
            error.with_replaced_id("001085012345").to_string(),
            "personal ID 001085012345 was cancelled and replaced by 001185012345"
        );
        let plain = classify(&status_with(Code::NotFound, "no such citizen", ErrorDetail::default()));
        assert_eq!(plain, Disposition::Fail(ClientError::NotFound));
    }

    #[test]
    fn revision_mismatch_carries_current_revision() {
        let detail =
            ErrorDetail { reason: ErrorReason::RevisionMismatch.into(), current_revision: 7, ..Default::default() };
        let got = classify(&status_with(Code::Aborted, "revision mismatch", detail));
        assert_eq!(got, Disposition::Fail(ClientError::RevisionMismatch { current_revision: 7 }));
    }
}
