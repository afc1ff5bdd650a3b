//! The audit hook of the request pipeline (`RegistryService::serve`): one event per admitted or refused request.
//!
//! For now each event goes to the log at debug level under the target `dancu::access`, with who (identity, role),
//! what (operation), why (purpose, request id) and the outcome (gRPC code) — never a citizen's ID or any field. The
//! durable, tamper-evident access log replaces this (issue 20).

use tonic::Code;

use crate::service::caller::{Access, Caller};
use crate::service::errors::ApiError;

fn operation(access: Access) -> String {
    match access {
        Access::Operation(operation) => operation.to_string(),
        Access::AnyCaller => "status".to_string(),
    }
}

/// A request that passed admission, and how it ended.
pub fn served(caller: &Caller, access: Access, error: Option<&ApiError>) {
    let code = error.map_or(Code::Ok, ApiError::code);
    tracing::debug!(
        target: "dancu::access",
        identity = caller.identity.as_ref().map(ToString::to_string),
        role = %caller.role().name,
        operation = %operation(access),
        purpose = %caller.purpose,
        request_id = %caller.request_id,
        forwarded_by = caller.forwarded_by,
        code = ?code,
        "served"
    );
}

/// A request that admission refused.
pub fn refused<Q>(request: &tonic::Request<Q>, access: Access, error: &ApiError) {
    let identity = request.extensions().get::<dancu_tls::PeerInfo>().map(|peer| peer.identity.to_string());
    tracing::debug!(target: "dancu::access", identity, operation = %operation(access), %error, "refused");
}
