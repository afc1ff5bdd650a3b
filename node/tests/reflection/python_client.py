"""An off-the-shelf reflection client (PyPI's grpcio + grpcio-reflection, not dancu code) against a dancu node.

usage: python_client.py ADDR VERSION PERSONAL_ID
  VERSION: v1alpha (grpcio-reflection's own client, as Python services, Postman and Evans use it), v1 (the same
  client pointed at grpc.reflection.v1, whose messages are byte-for-byte those of v1alpha), or v9 (a version no
  server serves: must fail, which shows the version argument reaches the wire).

Lists the services, fetches the file descriptors of dancu.v1.Registry, builds a GetCitizen request from them alone
(no generated code) and prints one JSON line: {"services": [...], "citizen": {...}} with the record as the server
sent it.
"""

import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_reflection.v1alpha.reflection_pb2 import ServerReflectionRequest, ServerReflectionResponse

REGISTRY = "dancu.v1.Registry"


def reflection_database(channel, version):
    database = ProtoReflectionDescriptorDatabase(channel)
    if version != "v1alpha":
        database._stub.ServerReflectionInfo = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=ServerReflectionRequest.SerializeToString,
            response_deserializer=ServerReflectionResponse.FromString,
        )
    return database


def main():
    addr, version, personal_id = sys.argv[1:4]
    with grpc.insecure_channel(addr) as channel:
        database = reflection_database(channel, version)
        services = sorted(database.get_services())
        pool = descriptor_pool.DescriptorPool(database)
        method = pool.FindServiceByName(REGISTRY).FindMethodByName("GetCitizen")
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        request = request_class()
        request.id = personal_id
        request.context.purpose = "reflection test"
        get_citizen = channel.unary_unary(
            f"/{REGISTRY}/GetCitizen",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        response = get_citizen(request, timeout=30)
        citizen = json_format.MessageToDict(response.citizen, preserving_proto_field_name=True)
        print(json.dumps({"services": services, "citizen": citizen}))


if __name__ == "__main__":
    main()
