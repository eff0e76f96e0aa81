"""cty values on the wire (msgpack) and the schema walks the stand-in provider needs.

Terraform sends and expects resource values as msgpack, encoded against the schema's
implied type: objects carry every attribute (null when unset), unknown values are the
msgpack extension type 0. Everything here is plain data so it can be tested without gRPC.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

import msgpack  # type: ignore[import-untyped]

Json = dict[str, Any]


class _Unknown:
    """The single unknown value ("known after apply")."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
# cty writes an unknown as fixext1 type 0 (d4 00 00); refined unknowns use type 12.
_UNKNOWN_EXT: Final = msgpack.ExtType(0, b"\x00")
_UNKNOWN_CODES: Final = {0, 12}
DYNAMIC: Final = "dynamic"


def _ext_hook(code: int, data: bytes) -> Any:
    if code in _UNKNOWN_CODES:
        return UNKNOWN
    return msgpack.ExtType(code, data)


def decode(raw: bytes) -> Any:
    """Decode a DynamicValue's msgpack bytes; unknowns become UNKNOWN."""
    if not raw:
        return None
    return msgpack.unpackb(raw, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def _default(obj: Any) -> Any:
    if obj is UNKNOWN:
        return _UNKNOWN_EXT
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode(value: Any) -> bytes:
    """Encode a value (already shaped like the schema) as msgpack for Terraform."""
    return bytes(msgpack.packb(_prepare(value), default=_default, use_bin_type=True))


def _prepare(value: Any) -> Any:
    # Integral floats go out as ints so numbers round-trip the way cty writes them.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_prepare(v) for v in value]
    return value


def is_known(value: Any) -> bool:
    """True when value and everything inside it is known."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    return True


# ---------------------------------------------------------------------------
# Schema-driven walks
# ---------------------------------------------------------------------------


def unknown_computed(block: Json, value: Any) -> Any:
    """Plan for a create: every computed attribute left null becomes unknown.

    Terraform proposes null for a computed attribute the configuration leaves unset; the
    real provider then either fills it during plan or marks it "known after apply".
    """
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, attr in block.get("attributes", {}).items():
        if attr.get("computed") and out.get(name) is None:
            out[name] = UNKNOWN
    for name, nested in block.get("block_types", {}).items():
        out[name] = _map_blocks(nested, out.get(name), unknown_computed)
    return out


def _map_blocks(nested: Json, value: Any, fn: Any) -> Any:
    if value is None or value is UNKNOWN:
        return value
    inner = nested["block"]
    if nested["nesting_mode"] == "single" or nested["nesting_mode"] == "group":
        return fn(inner, value)
    if nested["nesting_mode"] == "map":
        return {k: fn(inner, v) for k, v in value.items()}
    return [fn(inner, v) for v in value]


class Placeholders:
    """Values a real apply would produce, made up consistently for one resource."""

    def __init__(self, type_name: str, region: str, account: str, seed: str) -> None:
        self.type_name = type_name
        self.region = region
        self.account = account
        self.token = hashlib.sha256(f"{type_name}/{seed}".encode()).hexdigest()[:10]

    def service(self) -> str:
        short = self.type_name.removeprefix("aws_")
        svc = short.split("_", 1)[0]
        if short.startswith("cloudwatch_metric"):
            return "cloudwatch"
        return {"apigatewayv2": "apigateway", "cloudwatch": "logs"}.get(svc, svc)

    def arn(self, ident: str) -> str:
        """An ARN in the resource type's own format (account 123456789012)."""
        short = self.type_name.removeprefix("aws_")
        if short.startswith("iam_"):
            kind = short.removeprefix("iam_").split("_", 1)[0]
            return f"arn:aws:iam::{self.account}:{kind}/{ident}"
        resource = {
            "lambda_function": f"function:{ident}",
            "lambda_layer_version": f"layer:{ident}:1",
            "dynamodb_table": f"table/{ident}",
            "cloudwatch_log_group": f"log-group:{ident}",
            "cloudwatch_metric_alarm": f"alarm:{ident}",
            "kms_key": f"key/{self.token}",
        }.get(short, ident)
        return f"arn:aws:{self.service()}:{self.region}:{self.account}:{resource}"

    def string(self, attr: str, obj: dict[str, Any]) -> str:
        """A plausible string for `attr`: ARNs, URLs and ids shaped like AWS's."""
        name = obj.get("name") if isinstance(obj.get("name"), str) else None
        ident = name or f"{self.type_name.removeprefix('aws_')}-{self.token}"
        exact = {
            "execution_arn": f"arn:aws:execute-api:{self.region}:{self.account}:{self.token}",
            "api_endpoint": f"wss://{self.token}.execute-api.{self.region}.amazonaws.com",
            "region": self.region,
            "name": ident,
            "id": name or self.token,
        }
        if self.type_name == "aws_sqs_queue" and attr in ("url", "id"):
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{ident}"
        if attr in exact:
            return exact[attr]
        if attr.endswith("policy"):
            return ""  # unset policy attributes read back empty
        if attr.endswith("arn"):
            return self.arn(ident)
        if attr.endswith(("url", "endpoint")):
            return f"https://{self.token}.{self.region}.amazonaws.com"
        return f"{attr}-{self.token}"

    def fill(self, tf_type: Any, attr: str, obj: dict[str, Any]) -> Any:
        """A placeholder of a Terraform type for attribute `attr` of object `obj`."""
        if tf_type == "string":
            return self.string(attr, obj)
        if isinstance(tf_type, str):
            return {"number": 1, "bool": False, DYNAMIC: None}[tf_type]
        kind = tf_type[0]
        if kind == "object":
            return {k: self.fill(t, k, {}) for k, t in tf_type[1].items()}
        return {"list": [], "set": [], "tuple": [], "map": {}}[kind]

    def resolve(self, block: Json, value: Any) -> Any:
        """Replace every unknown in a planned object with a placeholder (apply)."""
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for name, attr in block.get("attributes", {}).items():
            out[name] = self._resolve_attr(attr["type"], name, out.get(name), out)
        for name, nested in block.get("block_types", {}).items():
            current = out.get(name)
            if current is UNKNOWN:
                current = None if nested["nesting_mode"] == "single" else []
            out[name] = _map_blocks(nested, current, self.resolve)
        return out

    def _resolve_attr(self, tf_type: Any, name: str, value: Any, obj: dict[str, Any]) -> Any:
        if value is UNKNOWN:
            return self.fill(tf_type, name, obj)
        if value is None or isinstance(tf_type, str):
            return value
        kind = tf_type[0]
        if kind in ("list", "set"):
            return [self._resolve_attr(tf_type[1], name, v, obj) for v in value]
        if kind == "map":
            return {k: self._resolve_attr(tf_type[1], k, v, obj) for k, v in value.items()}
        if kind == "object":
            return {k: self._resolve_attr(t, k, value.get(k), value) for k, t in tf_type[1].items()}
        return value


def null_object(block: Json) -> Json:
    """An object with every attribute null and every nested block empty."""
    out: Json = dict.fromkeys(block.get("attributes", {}))
    for name, nested in block.get("block_types", {}).items():
        mode = nested["nesting_mode"]
        out[name] = None if mode in ("single", "group") else ({} if mode == "map" else [])
    return out


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON, the way the provider normalises policy documents."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
