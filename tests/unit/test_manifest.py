"""The manifest is the single source of truth shared by Terraform and the local gateway."""

from __future__ import annotations

from tests.helpers import PROTOCOL_ROUTES
from tools.manifest import read_manifest

MANIFEST = read_manifest()


def test_every_protocol_route_has_exactly_one_function() -> None:
    routes = [f["route"] for f in MANIFEST["functions"].values() if "route" in f]
    assert sorted(routes) == sorted(PROTOCOL_ROUTES)


def test_function_settings_are_complete_and_sane() -> None:
    for name, fn in MANIFEST["functions"].items():
        assert fn["handler"] == f"{name}.handler"
        assert 128 <= fn["memory_mb"] <= 10240
        assert 1 <= fn["timeout_s"] <= 900
        assert fn["dynamodb"] in {"none", "read", "write"}
        assert set(fn["manage_connections"]) <= {"POST", "DELETE", "GET"}
        assert set(fn["sqs_send"]) <= set(MANIFEST["queues"])
        if "route" in fn:
            assert fn["timeout_s"] <= 29, f"{name}: API Gateway integrations time out at 29 s"


def test_queue_consumers_exist() -> None:
    for queue in MANIFEST["queues"].values():
        assert queue["consumer"] in MANIFEST["functions"]
        assert queue["max_receive_count"] >= 5
