//! Batch gets that hand records back as the bytes the node stored (an encoded `Citizen` each), sliced out of the
//! received reply without a copy: a caller that forwards records, or reads a few of them, skips decoding the rest.
//! The reply is the public `BatchGetCitizensResponse` on the wire, decoded as its twin
//! `BatchGetCitizensResponseEncoded` (see `proto/dancu/v1/encoded.proto`).

use std::time::Duration;

use crate::channels::NodeChannel;
use dancu_proto::v1::{
    BatchGetCitizensRequest, BatchGetCitizensResponseEncoded, BatchGetResult, BatchGetResultEncoded, CallerContext,
    Citizen, Consistency,
};
use http::uri::PathAndQuery;
use prost::Message;
use tonic::{Code, Request, Status};

use super::Stub;
use crate::ClientError;

const BATCH_GET_PATH: &str = "/dancu.v1.Registry/BatchGetCitizens";

/// The `Registry` service with `BatchGetCitizens` decoded as records in stored form.
pub(crate) struct EncodedRegistry {
    channel: NodeChannel,
}

impl Stub for EncodedRegistry {
    fn over(channel: NodeChannel) -> EncodedRegistry {
        EncodedRegistry::new(channel)
    }
}

impl EncodedRegistry {
    pub(crate) fn new(channel: NodeChannel) -> EncodedRegistry {
        EncodedRegistry { channel }
    }

    /// One `BatchGetCitizens` attempt.
    pub(crate) async fn batch_get(
        self,
        ids: Vec<String>,
        consistency: Consistency,
        context: CallerContext,
        timeout: Duration,
    ) -> Result<Vec<BatchGetResultEncoded>, Status> {
        let mut request =
            Request::new(BatchGetCitizensRequest { ids, consistency: consistency.into(), context: Some(context) });
        request.set_timeout(timeout);
        let mut grpc = tonic::client::Grpc::new(self.channel);
        grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
        let codec = tonic_prost::ProstCodec::<BatchGetCitizensRequest, BatchGetCitizensResponseEncoded>::default();
        let reply = grpc.unary(request, PathAndQuery::from_static(BATCH_GET_PATH), codec).await?;
        Ok(reply.into_inner().results)
    }
}

/// The public form of a result: its record decoded.
pub(super) fn decoded(result: BatchGetResultEncoded) -> Result<BatchGetResult, ClientError> {
    let citizen = result
        .citizen
        .map(Citizen::decode)
        .transpose()
        .map_err(|e| ClientError::Server { code: Code::Internal, message: format!("a record does not decode: {e}") })?;
    Ok(BatchGetResult {
        id: result.id,
        found: result.found,
        citizen,
        meta: result.meta,
        replaced_by: result.replaced_by,
    })
}

#[cfg(test)]
mod tests {
    use dancu_proto::v1::{ReadMeta, Sex};

    use super::*;

    #[test]
    fn a_stored_record_decodes_into_the_public_result() {
        let citizen = Citizen {
            id: "001085012345".into(),
            full_name: "Nguyễn Văn An".into(),
            sex: Sex::Male.into(),
            ..Citizen::default()
        };
        let meta = Some(ReadMeta { partition_id: 1, served_by: 2, applied_index: 9, read_index: 8 });
        let stored = BatchGetResultEncoded {
            id: citizen.id.clone(),
            found: true,
            citizen: Some(citizen.encode_to_vec().into()),
            meta,
            replaced_by: String::new(),
        };
        let result = decoded(stored).expect("a valid record");
        let expected = BatchGetResult {
            id: citizen.id.clone(),
            found: true,
            citizen: Some(citizen),
            meta,
            replaced_by: String::new(),
        };
        assert_eq!(result, expected);
        let absent = BatchGetResultEncoded {
            id: "001085000000".into(),
            found: false,
            citizen: None,
            meta,
            replaced_by: String::new(),
        };
        assert_eq!(decoded(absent).expect("absent").citizen, None);
    }

    #[test]
    fn bytes_that_are_no_record_are_a_server_error() {
        let garbage = BatchGetResultEncoded {
            id: "001085012345".into(),
            found: true,
            citizen: Some(vec![0xff; 3].into()),
            meta: None,
            replaced_by: String::new(),
        };
        assert!(matches!(decoded(garbage), Err(ClientError::Server { code: Code::Internal, .. })));
    }
}
