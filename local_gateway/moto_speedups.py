"""A faster response path for moto's DynamoDB, used only inside the embedded emulator.

moto 5 serialises every response value by walking botocore's shape model; for DynamoDB
items that costs about 1 ms per item, so a Query returning a 150-member room took ~150 ms
and a room's joins grew quadratically slow. DynamoDB attribute values reach the serialiser
already in their wire form ({"S": ...}, {"M": {...}}), so when a value holds only JSON
types we emit it as is. Binary values (bytes) take the normal path, which base64-encodes
them. The output is identical (tests/integration/test_gateway_units.py checks it).
"""

from __future__ import annotations

from typing import Any

from moto.core import serialize

_WIRE_SHAPES = frozenset({"AttributeValue", "AttributeMap", "Key"})


def _json_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_only(v) for v in value)
    return value is None or isinstance(value, str | bool | int | float)


def install() -> Any:
    """Patch moto's JSON serialiser; returns a callable that undoes it (for tests)."""
    original = serialize.BaseJSONSerializer._serialize

    def _serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name in _WIRE_SHAPES and isinstance(value, dict) and _json_only(value):
            self._default_serialize(serialized, value, shape, key)
            return
        original(self, serialized, value, shape, key)

    serialize.BaseJSONSerializer._serialize = _serialize  # type: ignore[method-assign]

    def undo() -> None:
        serialize.BaseJSONSerializer._serialize = original  # type: ignore[method-assign]

    return undo
