"""moto-backed fixtures: the real table and queues (from the manifest), fake @connections.

Every test that uses `world` runs twice, once per DynamoDB client the handlers may build
(`wscore.aws.dynamodb`): `fast`, the production default, which speaks HTTP to a moto server in
this process (moto's decorators do not intercept it), and `boto3`, the fallback, which moto
intercepts in-process. Both see the same moto state. A module that only needs the default
overrides `dynamodb_transport`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from local_gateway import moto_atomic
from tests.helpers import HANDLER_FOR_ACTION, FakeTransport
from tools.aws_local import create_queues, create_table, queue_environment
from tools.devtoken import DEV_AUDIENCE, DEV_ISSUER, DEV_SECRET
from tools.ws_events import ws_event

ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"


@dataclass
class World:
    """The emulated deployment a test drives through the real handlers."""

    dynamodb: Any
    sqs: Any
    queues: dict[str, str]
    transport: FakeTransport
    table: str
    who: dict[str, tuple[str, str]] = field(default_factory=dict)

    def handler(self, name: str) -> ModuleType:
        return importlib.import_module(name)

    def call(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler(name).handler(event, None)
        return result

    def connect(self, cid: str, user: str = "alice", tenant: str = "acme", **kw: Any) -> None:
        self.who[cid] = (user, tenant)
        assert self.call("connect", ws_event("connect", cid, user, tenant, **kw)) == {
            "statusCode": 200
        }

    def act(self, cid: str, body: Any, **kw: Any) -> Any:
        """Send a client frame through its route; return the decoded reply frame (or None).

        The identity is the one the connection was opened with, as API Gateway passes it.
        """
        user, tenant = self.who.get(cid, ("alice", "acme"))
        route = body.get("action") if isinstance(body, dict) else None
        module = HANDLER_FOR_ACTION.get(route if isinstance(route, str) else "", "default")
        out = self.call(module, ws_event("message", cid, user, tenant, body, **kw))
        assert out["statusCode"] == 200
        return json.loads(out["body"]) if "body" in out else None

    def disconnect(self, cid: str) -> None:
        user, tenant = self.who.get(cid, ("alice", "acme"))
        assert self.call("disconnect", ws_event("disconnect", cid, user, tenant)) == {
            "statusCode": 200
        }

    def items(self) -> list[dict[str, Any]]:
        """Every item of the emulated table (tests may scan; product code may not)."""
        return list(self.dynamodb.scan(TableName=self.table)["Items"])

    def leftovers(self) -> list[dict[str, Any]]:
        """Items a cleanup leaves: all but rooms' presence counters at zero users (they are
        kept, like a room's seq counter, and expire by TTL)."""
        return [
            item
            for item in self.items()
            if not (item["SK"]["S"] == "PRESENCE" and item.get("members", {}).get("N") == "0")
        ]

    def queue_bodies(self, env: str = "FANOUT_QUEUE_URL") -> list[dict[str, Any]]:
        out = self.sqs.receive_message(QueueUrl=self.queues[env], MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in out.get("Messages", [])]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server in this process (its state is the decorators' state), each DynamoDB
    request atomic as on AWS (the presence races depend on it)."""
    undo = moto_atomic.install()
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    undo()


@pytest.fixture(params=["fast", "boto3"])
def dynamodb_transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch, dynamodb_transport: str, moto_server: str
) -> Iterator[World]:
    from wscore import config, services
    from wscore.aws import management
    from wscore.aws.retry import RetryPolicy

    monkeypatch.setenv("DYNAMODB_TRANSPORT", dynamodb_transport)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "TABLE_NAME": "ws-test",
        "MANAGEMENT_ENDPOINT": ENDPOINT,
        "FANOUT_THRESHOLD": "5",
        "LOG_LEVEL": "INFO",
        # refreshToken verifies tokens as the local gateway's authorizer does
        "JWT_ALGORITHM": "HS256",
        "JWT_ISSUER": DEV_ISSUER,
        "JWT_AUDIENCE": DEV_AUDIENCE,
        "DEV_MODE": "true",
        "JWT_DEV_SECRET": DEV_SECRET,
    }.items():
        monkeypatch.setenv(key, value)
    transport = FakeTransport()
    monkeypatch.setattr(
        services,
        "management_client",
        lambda endpoint: management.ManagementClient(
            transport, endpoint, RetryPolicy(sleep=lambda _s: None)
        ),
    )
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        create_table(dynamodb, "ws-test")
        queues = queue_environment(create_queues(sqs, "ws-test"))
        for env, url in queues.items():
            monkeypatch.setenv(env, url)
        if dynamodb_transport == "fast":  # after the test's own clients: they stay in-process
            monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server)
        config.get_config.cache_clear()
        services.services.cache_clear()
        yield World(dynamodb, sqs, queues, transport, "ws-test")
        config.get_config.cache_clear()
        services.services.cache_clear()


@pytest.fixture
def fresh() -> Callable[[], None]:
    """Rebuild the cached services after changing the environment inside a test."""
    from wscore import config, services

    def reset() -> None:
        config.get_config.cache_clear()
        services.services.cache_clear()

    return reset
