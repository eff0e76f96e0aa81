"""Fixtures for the client tests: a fake protocol v1 gateway and the client package on the path."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.clients.fake_protocol_server import FakeGateway

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

CLIENTS_PYTHON = Path(__file__).resolve().parents[2] / "clients" / "python"
# pyproject's pytest pythonpath should list clients/python; this keeps the tests runnable alone.
if str(CLIENTS_PYTHON) not in sys.path:
    sys.path.insert(0, str(CLIENTS_PYTHON))


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    async with FakeGateway() as gw:
        yield gw
