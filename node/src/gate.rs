//! Checks in front of a gRPC service: a request a check refuses is answered with the check's status and never
//! reaches the service. The node puts two in front of its services: `identity::guard::ClusterCheck` (the request's
//! cluster and sender) and `service::caller::AccessCheck` (whose certificate may use which service).

use std::task::{Context, Poll};

use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::NamedService;
use tonic::Status;

/// A decision about a request from its path, headers and connection extensions (the peer's certificate identity).
pub trait Check {
    fn check(&self, path: &str, extensions: &http::Extensions, headers: &http::HeaderMap) -> Result<(), Status>;
}

/// Both checks, the first one's refusal first.
impl<A: Check, B: Check> Check for (A, B) {
    fn check(&self, path: &str, extensions: &http::Extensions, headers: &http::HeaderMap) -> Result<(), Status> {
        self.0.check(path, extensions, headers)?;
        self.1.check(path, extensions, headers)
    }
}

/// A service behind a check.
#[derive(Clone)]
pub struct Gate<S, C> {
    inner: S,
    check: C,
}

impl<S, C> Gate<S, C> {
    pub fn new(inner: S, check: C) -> Self {
        Gate { inner, check }
    }
}

impl<S: NamedService, C> NamedService for Gate<S, C> {
    const NAME: &'static str = S::NAME;
}

impl<S, C, B> Service<http::Request<B>> for Gate<S, C>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
    C: Check,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match self.check.check(request.uri().path(), request.extensions(), request.headers()) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(status) => {
                let response = status.into_http();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}
