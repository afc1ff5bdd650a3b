//! The one step between decoding a request and executing it: who calls, and why.
//!
//! Authorization (roles, field masks, province scopes) and the access audit log will sit here; for
//! now every request must name a bounded `purpose`, and the request id is bounded.

use dancu_proto::v1::CallerContext;

use crate::limits::{PURPOSE_BYTES_MAX, REQUEST_ID_BYTES_MAX};
use crate::service::errors::ApiError;

/// An admitted caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub purpose: String,
    pub request_id: String,
}

pub fn admit(context: Option<&CallerContext>) -> Result<Caller, ApiError> {
    let Some(context) = context else {
        return Err(ApiError::invalid("context.purpose", "every request must name its purpose"));
    };
    if context.purpose.trim().is_empty() {
        return Err(ApiError::invalid("context.purpose", "every request must name its purpose"));
    }
    if context.purpose.len() > PURPOSE_BYTES_MAX {
        return Err(ApiError::invalid("context.purpose", format!("longer than {PURPOSE_BYTES_MAX} bytes")));
    }
    if context.request_id.len() > REQUEST_ID_BYTES_MAX {
        return Err(ApiError::invalid("context.request_id", format!("longer than {REQUEST_ID_BYTES_MAX} bytes")));
    }
    Ok(Caller { purpose: context.purpose.clone(), request_id: context.request_id.clone() })
}
