"""Stand-in `registry.terraform.io/hashicorp/aws` provider plugin (tfplugin6 over gRPC).

Terraform launches this program through the filesystem mirror that `toolchain.py` writes.
It serves the schema rebuilt by `gen_schema.py`, so Terraform itself checks argument names,
required arguments, types and block counts against the real provider's schema. Everything
the real provider does with AWS is faked: validation accepts, plan marks unset computed
attributes unknown, apply invents placeholders, data sources return fixed values.

go-plugin protocol: print `1|6|tcp|127.0.0.1:PORT|grpc|<base64 DER cert>` on stdout and
serve gRPC with that certificate. Terraform's automatic mutual TLS fails against grpcio
(PEER_DID_NOT_RETURN_A_CERTIFICATE), so no client certificate is requested.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from tfplugin_proto import tfplugin6_5_pb2 as pb
from tfplugin_proto import tfplugin6_5_pb2_grpc as pb_grpc

from tools.selfsigned import make_certificate
from tools.terraform import datasources
from tools.terraform.values import (
    UNKNOWN,
    Json,
    Placeholders,
    decode,
    encode,
    null_object,
    unknown_computed,
)

if TYPE_CHECKING:
    from collections.abc import Callable

SCHEMA_FILE = Path(__file__).with_name("aws_schema.json")
PROVIDER_ADDR = "registry.terraform.io/hashicorp/aws"
DEFAULT_REGION = "us-east-1"

_NESTING = {
    "single": pb.Schema.NestedBlock.SINGLE,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
    "group": pb.Schema.NestedBlock.GROUP,
}


def load_schema(path: Path = SCHEMA_FILE) -> Json:
    doc: Json = json.loads(path.read_text())
    schemas: Json = doc["provider_schemas"][PROVIDER_ADDR]
    return schemas


def block_proto(block: Json) -> pb.Schema.Block:
    """Convert one block of `providers schema -json` to its tfplugin6 message."""
    attributes = [
        pb.Schema.Attribute(
            name=name,
            type=json.dumps(attr["type"]).encode(),
            required=bool(attr.get("required")),
            optional=bool(attr.get("optional")),
            computed=bool(attr.get("computed")),
            sensitive=bool(attr.get("sensitive")),
        )
        for name, attr in sorted(block.get("attributes", {}).items())
    ]
    nested = [
        pb.Schema.NestedBlock(
            type_name=name,
            block=block_proto(nb["block"]),
            nesting=_NESTING[nb["nesting_mode"]],
            min_items=int(nb.get("min_items", 0)),
            max_items=int(nb.get("max_items", 0)),
        )
        for name, nb in sorted(block.get("block_types", {}).items())
    ]
    return pb.Schema.Block(attributes=attributes, block_types=nested)


def schema_proto(schema: Json) -> pb.Schema:
    return pb.Schema(version=int(schema.get("version", 0)), block=block_proto(schema["block"]))


def _dv(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=encode(value))


def _error(summary: str, detail: str = "") -> pb.Diagnostic:
    return pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)


class StandInProvider(pb_grpc.ProviderServicer):
    """The tfplugin6 Provider service, answered from the schema file alone."""

    def __init__(self, schemas: Json, on_stop: Callable[[], None]) -> None:
        self.schemas = schemas
        self.region = DEFAULT_REGION
        self.default_tags: dict[str, str] = {}
        self.on_stop = on_stop
        self._schema_response = pb.GetProviderSchema.Response(
            provider=schema_proto(schemas["provider"]),
            resource_schemas={k: schema_proto(v) for k, v in schemas["resource_schemas"].items()},
            data_source_schemas={
                k: schema_proto(v) for k, v in schemas["data_source_schemas"].items()
            },
            server_capabilities=pb.ServerCapabilities(plan_destroy=False),
        )

    # -- schema and validation -------------------------------------------------

    def GetMetadata(self, request: Any, context: Any) -> Any:
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(plan_destroy=False),
            resources=[
                pb.GetMetadata.ResourceMetadata(type_name=n)
                for n in self.schemas["resource_schemas"]
            ],
            data_sources=[
                pb.GetMetadata.DataSourceMetadata(type_name=n)
                for n in self.schemas["data_source_schemas"]
            ],
        )

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        return self._schema_response

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        cfg = decode(request.config.msgpack) or {}
        region = cfg.get("region")
        if isinstance(region, str) and region:
            self.region = region
        for blk in cfg.get("default_tags") or []:
            tags = blk.get("tags") if isinstance(blk, dict) else None
            if isinstance(tags, dict):
                self.default_tags.update({k: v for k, v in tags.items() if isinstance(v, str)})
        return pb.ConfigureProvider.Response()

    # -- resources -------------------------------------------------------------

    def _block(self, type_name: str, data: bool = False) -> Json:
        key = "data_source_schemas" if data else "resource_schemas"
        block: Json = self.schemas[key][type_name]["block"]
        return block

    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        raw = request.raw_state
        state = json.loads(raw.json) if raw.json else null_object(self._block(request.type_name))
        return pb.UpgradeResourceState.Response(upgraded_state=_dv(state))

    def ReadResource(self, request: Any, context: Any) -> Any:
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        proposed = decode(request.proposed_new_state.msgpack)
        prior = decode(request.prior_state.msgpack)
        if proposed is None:  # destroy
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        block = self._block(request.type_name)
        planned = proposed if prior is not None else unknown_computed(block, proposed)
        attrs = block.get("attributes", {})
        if "region" in attrs and planned.get("region") is UNKNOWN:
            planned["region"] = self.region
        if "tags_all" in attrs and prior is None:
            tags = planned.get("tags")
            if tags is None or (isinstance(tags, dict) and UNKNOWN not in tags.values()):
                planned["tags_all"] = {**self.default_tags, **(tags or {})}
        return pb.PlanResourceChange.Response(
            planned_state=_dv(planned), planned_private=request.prior_private
        )

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        planned = decode(request.planned_state.msgpack)
        if planned is None:
            return pb.ApplyResourceChange.Response(new_state=request.planned_state)
        block = self._block(request.type_name)
        filler = Placeholders(
            request.type_name, self.region, datasources.ACCOUNT_ID, str(planned.get("name"))
        )
        return pb.ApplyResourceChange.Response(
            new_state=_dv(filler.resolve(block, planned)), private=request.planned_private
        )

    def ImportResourceState(self, request: Any, context: Any) -> Any:
        return pb.ImportResourceState.Response(
            diagnostics=[_error("Import is not supported by the offline stand-in provider")]
        )

    def ReadDataSource(self, request: Any, context: Any) -> Any:
        cfg = decode(request.config.msgpack) or {}
        block = self._block(request.type_name, data=True)
        try:
            state = datasources.read(request.type_name, block, cfg, self.region)
        except (KeyError, TypeError, ValueError) as exc:
            return pb.ReadDataSource.Response(
                diagnostics=[_error(f"stand-in cannot read {request.type_name}", str(exc))]
            )
        return pb.ReadDataSource.Response(state=_dv(state))

    def StopProvider(self, request: Any, context: Any) -> Any:
        return pb.StopProvider.Response()

    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()


# ---------------------------------------------------------------------------
# go-plugin plumbing: TLS, handshake, controller and health services
# ---------------------------------------------------------------------------


def _identity(data: bytes) -> bytes:
    return data


def plumbing_handlers(stop: Callable[[], None]) -> list[grpc.GenericRpcHandler]:
    """go-plugin's controller (Shutdown) and the gRPC health service, without extra deps."""

    def shutdown(request: bytes, context: Any) -> bytes:
        threading.Thread(target=stop, daemon=True).start()
        return b""

    def health(request: bytes, context: Any) -> bytes:
        return b"\x08\x01"  # HealthCheckResponse{status: SERVING}

    def unary(fn: Callable[[bytes, Any], bytes]) -> grpc.RpcMethodHandler[bytes, bytes]:
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=_identity, response_serializer=_identity
        )

    return [
        grpc.method_handlers_generic_handler(
            "plugin.GRPCController", {"Shutdown": unary(shutdown)}
        ),
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": unary(health)}),
    ]


def _exit_with_parent(parent: int, stop: Callable[[], None]) -> None:
    """Stop when Terraform dies without calling Shutdown (we get re-parented)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    stop()


def serve() -> int:
    """Start the server, print the handshake, and block until Terraform shuts us down."""
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("TF_STANDIN_LOG", "WARNING"))
    done = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))

    def stop() -> None:
        server.stop(grace=0.5)
        done.set()

    provider = StandInProvider(load_schema(), stop)
    pb_grpc.add_ProviderServicer_to_server(provider, server)  # type: ignore[no-untyped-call]
    server.add_generic_rpc_handlers(plumbing_handlers(stop))
    key_pem, cert_pem, cert_der = make_certificate()
    creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], require_client_auth=False)
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(), stop), daemon=True).start()
    cert = base64.b64encode(cert_der).decode().rstrip("=")
    sys.stdout.write(f"1|6|tcp|127.0.0.1:{port}|grpc|{cert}\n")
    sys.stdout.flush()
    server.wait_for_termination()
    done.set()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
