//! Typed API errors and their gRPC statuses. Every status carries an `ErrorDetail` so clients can
//! route (not leader), report the field (invalid argument) or retry (no quorum).

use dancu_proto::v1::{ErrorDetail, ErrorReason};
use dancu_proto::Message;
use openraft::error::{ClientWriteError, LinearizableReadError, RaftError};
use tonic::{Code, Status};

use crate::citizen::FieldError;
use crate::raft::groups::{Group, Groups};
use crate::raft::types::TypeConfig;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    #[error("partition {partition_id}: this node is not the leader")]
    NotLeader { partition_id: u32, leader_id: Option<u64>, leader_addr: String },
    #[error("partition {partition_id} is not hosted on this node")]
    PartitionNotHosted { partition_id: u32, leader_id: Option<u64>, leader_addr: String },
    #[error("partition {partition_id}: unavailable: {message}")]
    NoQuorum { partition_id: u32, message: String },
    #[error("revision mismatch: the stored revision is {current_revision}")]
    RevisionMismatch { partition_id: u32, current_revision: u64 },
    #[error("citizen not found")]
    NotFound,
    #[error("deadline exceeded: {0}")]
    Deadline(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("personal ID {id} was cancelled and replaced by {replaced_by}")]
    IdReplaced { id: String, replaced_by: String },
    /// A peer's answer to a forwarded part of a scatter-gather query, passed on as it came.
    #[error("{}", .0.message())]
    Forwarded(Status),
    /// Admission refused the write before queueing it (`service::admission`): retry after `retry_after_ms`.
    #[error("partition {partition_id}: overloaded: {message}; retry after {retry_after_ms} ms")]
    Overloaded { partition_id: u32, retry_after_ms: u32, message: String },
    /// The caller may not do this (`service::caller`); the message never says whether a record exists.
    #[error("permission denied: {message}")]
    Denied { denial: Denial, message: String },
    /// The caller's request-rate quota is spent: retry after `retry_after_ms`.
    #[error("quota exceeded for caller {caller}: retry after {retry_after_ms} ms")]
    QuotaExceeded { caller: String, retry_after_ms: u32 },
    #[error("storage error: {0}")]
    Storage(#[from] std::io::Error),
    /// The access audit could not record the request, so it is not served.
    #[error("audit unavailable: {0}")]
    AuditUnavailable(String),
}

/// Why access was denied (`ErrorDetail.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    UnknownCaller,
    OperationNotAllowed,
    PurposeNotAllowed,
    OutOfScope,
    FieldHidden,
}

impl Denial {
    fn reason(self) -> ErrorReason {
        match self {
            Denial::UnknownCaller => ErrorReason::UnknownCaller,
            Denial::OperationNotAllowed => ErrorReason::OperationNotAllowed,
            Denial::PurposeNotAllowed => ErrorReason::PurposeNotAllowed,
            Denial::OutOfScope => ErrorReason::OutOfScope,
            Denial::FieldHidden => ErrorReason::FieldHidden,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::InvalidField { field: error.field, message: error.message }
    }
}

impl ApiError {
    pub fn denied(denial: Denial, message: impl Into<String>) -> ApiError {
        ApiError::Denied { denial, message: message.into() }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::InvalidField { field: field.to_string(), message: message.into() }
    }

    pub fn not_leader_of(groups: &Groups, group: &Group, leader_id: Option<u64>) -> ApiError {
        ApiError::NotLeader {
            partition_id: group.spec.id.0,
            leader_id,
            leader_addr: leader_id.and_then(|id| groups.node_addr(id)).unwrap_or_default(),
        }
    }

    pub fn from_read_error(
        groups: &Groups,
        group: &Group,
        error: RaftError<TypeConfig, LinearizableReadError<TypeConfig>>,
    ) -> ApiError {
        match error {
            RaftError::APIError(LinearizableReadError::ForwardToLeader(forward)) => {
                Self::not_leader_of(groups, group, forward.leader_id)
            }
            other => ApiError::NoQuorum { partition_id: group.spec.id.0, message: other.to_string() },
        }
    }

    pub fn from_write_error(
        groups: &Groups,
        group: &Group,
        error: RaftError<TypeConfig, ClientWriteError<TypeConfig>>,
    ) -> ApiError {
        match error {
            RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                Self::not_leader_of(groups, group, forward.leader_id)
            }
            // Commit status unknown: the caller retries with the same request id, which dedups.
            other => ApiError::NoQuorum { partition_id: group.spec.id.0, message: other.to_string() },
        }
    }

    /// The gRPC code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            ApiError::Forwarded(status) => status.code(),
            other => other.code_and_detail().0,
        }
    }

    fn code_and_detail(&self) -> (Code, ErrorDetail) {
        let mut detail = ErrorDetail::default();
        let code = match self {
            ApiError::InvalidField { field, .. } => {
                detail.reason = ErrorReason::InvalidField as i32;
                detail.field = field.clone();
                Code::InvalidArgument
            }
            ApiError::NotLeader { partition_id, leader_id, leader_addr } => {
                detail.reason = ErrorReason::NotLeader as i32;
                (detail.partition_id, detail.leader_id, detail.leader_addr) =
                    (*partition_id, *leader_id, leader_addr.clone());
                Code::FailedPrecondition
            }
            ApiError::PartitionNotHosted { partition_id, leader_id, leader_addr } => {
                detail.reason = ErrorReason::PartitionNotHosted as i32;
                (detail.partition_id, detail.leader_id, detail.leader_addr) =
                    (*partition_id, *leader_id, leader_addr.clone());
                Code::FailedPrecondition
            }
            ApiError::NoQuorum { partition_id, .. } => {
                detail.reason = ErrorReason::NoQuorum as i32;
                detail.partition_id = *partition_id;
                Code::Unavailable
            }
            ApiError::RevisionMismatch { partition_id, current_revision } => {
                detail.reason = ErrorReason::RevisionMismatch as i32;
                (detail.partition_id, detail.current_revision) = (*partition_id, *current_revision);
                Code::Aborted
            }
            ApiError::NotFound => Code::NotFound,
            ApiError::Deadline(_) => Code::DeadlineExceeded,
            ApiError::Refused(_) => {
                detail.reason = ErrorReason::Refused as i32;
                Code::FailedPrecondition
            }
            ApiError::IdReplaced { replaced_by, .. } => {
                detail.reason = ErrorReason::IdReplaced as i32;
                detail.replaced_by = replaced_by.clone();
                Code::NotFound
            }
            ApiError::Overloaded { partition_id, retry_after_ms, .. } => {
                detail.reason = ErrorReason::Overloaded as i32;
                (detail.partition_id, detail.retry_after_ms) = (*partition_id, *retry_after_ms);
                Code::ResourceExhausted
            }
            ApiError::Denied { denial, .. } => {
                detail.reason = denial.reason() as i32;
                Code::PermissionDenied
            }
            ApiError::QuotaExceeded { retry_after_ms, .. } => {
                detail.reason = ErrorReason::QuotaExceeded as i32;
                detail.retry_after_ms = *retry_after_ms;
                Code::ResourceExhausted
            }
            ApiError::Forwarded(_) => Code::Unknown,
            ApiError::Storage(_) => Code::Internal,
            ApiError::AuditUnavailable(_) => {
                detail.reason = ErrorReason::AuditUnavailable as i32;
                Code::Unavailable
            }
        };
        (code, detail)
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        if let ApiError::Forwarded(status) = error {
            return status;
        }
        let (code, detail) = error.code_and_detail();
        Status::with_details(code, error.to_string(), detail.encode_to_vec().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: ApiError, code: Code, reason: ErrorReason) {
        let status = Status::from(error);
        assert_eq!(status.code(), code);
        let detail = ErrorDetail::decode(status.details()).unwrap();
        assert_eq!(detail.reason, reason as i32);
    }

    #[test]
    fn statuses_carry_their_detail() {
        check(ApiError::invalid("citizen.sex", "bad"), Code::InvalidArgument, ErrorReason::InvalidField);
        check(
            ApiError::NotLeader { partition_id: 100, leader_id: Some(2), leader_addr: "h:1".into() },
            Code::FailedPrecondition,
            ErrorReason::NotLeader,
        );
        check(
            ApiError::NoQuorum { partition_id: 100, message: String::new() },
            Code::Unavailable,
            ErrorReason::NoQuorum,
        );
        check(
            ApiError::RevisionMismatch { partition_id: 100, current_revision: 3 },
            Code::Aborted,
            ErrorReason::RevisionMismatch,
        );
        check(ApiError::Refused("deceased".into()), Code::FailedPrecondition, ErrorReason::Refused);
        check(
            ApiError::IdReplaced { id: "001085012345".into(), replaced_by: "001185012345".into() },
            Code::NotFound,
            ErrorReason::IdReplaced,
        );
        let overloaded = Status::from(ApiError::Overloaded {
            partition_id: 100,
            retry_after_ms: 50,
            message: "too many writes waiting for commit".into(),
        });
        assert_eq!(overloaded.code(), Code::ResourceExhausted);
        let detail = ErrorDetail::decode(overloaded.details()).unwrap();
        assert_eq!(
            (detail.reason, detail.partition_id, detail.retry_after_ms),
            (ErrorReason::Overloaded as i32, 100, 50)
        );
    }
}
