//! Point reads answered with the records' stored bytes.
//!
//! RocksDB holds each record as an encoded `Citizen`. The generated server would make `GetCitizen` and
//! `BatchGetCitizens` decode every record into a `Citizen` only to encode it again for the reply: per record a
//! dozen allocations and string checks, most of a batch read's CPU on the node. [`RegistryRoutes`] stands in front
//! of the generated `RegistryServer`: it answers these two methods itself with the encoded twins of their replies
//! (`dancu/v1/encoded.proto`, the same wire format, so clients see the public messages) and hands every other
//! method to the generated server.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use dancu_proto::v1 as pb;
use dancu_proto::v1::registry_server::RegistryServer;
use tonic::codegen::{http, Body, BoxFuture, Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::limits::GRPC_MESSAGE_BYTES_MAX;
use crate::service::registry::RegistryService;

const GET_CITIZEN: &str = "/dancu.v1.Registry/GetCitizen";
const BATCH_GET_CITIZENS: &str = "/dancu.v1.Registry/BatchGetCitizens";

/// The `dancu.v1.Registry` service as a node serves it.
#[derive(Clone)]
pub struct RegistryRoutes {
    service: Arc<RegistryService>,
    generated: RegistryServer<RegistryService>,
}

impl RegistryRoutes {
    pub fn new(service: RegistryService) -> RegistryRoutes {
        let service = Arc::new(service);
        let generated = RegistryServer::from_arc(service.clone())
            .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
            .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX);
        RegistryRoutes { service, generated }
    }

    /// The service behind the routes (the Audit service runs its pipeline too).
    pub fn service(&self) -> Arc<RegistryService> {
        self.service.clone()
    }
}

impl NamedService for RegistryRoutes {
    const NAME: &'static str = <RegistryServer<RegistryService> as NamedService>::NAME;
}

struct GetEncoded(Arc<RegistryService>);

impl UnaryService<pb::GetCitizenRequest> for GetEncoded {
    type Response = pb::GetCitizenResponseEncoded;
    type Future = BoxFuture<Response<Self::Response>, Status>;

    fn call(&mut self, request: Request<pb::GetCitizenRequest>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move { service.serve(request, |caller, message| service.get_encoded(caller, message)).await })
    }
}

struct BatchGetEncoded(Arc<RegistryService>);

impl UnaryService<pb::BatchGetCitizensRequest> for BatchGetEncoded {
    type Response = pb::BatchGetCitizensResponseEncoded;
    type Future = BoxFuture<Response<Self::Response>, Status>;

    fn call(&mut self, request: Request<pb::BatchGetCitizensRequest>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(
            async move { service.serve(request, |caller, message| service.batch_get_encoded(caller, message)).await },
        )
    }
}

/// A gRPC unary handler for `method`: decodes `Q`, encodes `method`'s reply, with the node's message limits.
async fn serve_unary<Q, M, B>(method: M, request: http::Request<B>) -> http::Response<tonic::body::Body>
where
    Q: prost::Message + Default + Send + 'static,
    M: UnaryService<Q>,
    M::Response: prost::Message + Send + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    let codec = tonic_prost::ProstCodec::<M::Response, Q>::default();
    let mut grpc =
        Grpc::new(codec).apply_max_message_size_config(Some(GRPC_MESSAGE_BYTES_MAX), Some(GRPC_MESSAGE_BYTES_MAX));
    grpc.unary(method, request).await
}

impl<B> Service<http::Request<B>> for RegistryRoutes
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match request.uri().path() {
            GET_CITIZEN => {
                let method = GetEncoded(self.service.clone());
                Box::pin(async move { Ok(serve_unary(method, request).await) })
            }
            BATCH_GET_CITIZENS => {
                let method = BatchGetEncoded(self.service.clone());
                Box::pin(async move { Ok(serve_unary(method, request).await) })
            }
            _ => self.generated.call(request),
        }
    }
}
