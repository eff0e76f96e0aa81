"""Shared fixtures. Keep each one small and say which tests need it."""

from __future__ import annotations

import io
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from wscore.logs import JsonFormatter, get_logger

if TYPE_CHECKING:
    from collections.abc import Iterator

# --------------------------------------------------------------------------- authorizer


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """RSA 2048 signing key (authorizer tests); generated once, it costs ~50 ms."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    """EC P-256 signing key (authorizer tests)."""
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class FakeJwksEndpoint:
    """Stands in for the JWKS URL: serves `keys`, counts fetches, can fail (no network)."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    fetches: int = 0
    timeouts: list[float] = field(default_factory=list)

    def open(self, request: urllib.request.Request, timeout: float) -> io.BytesIO:
        self.fetches += 1
        self.timeouts.append(timeout)
        if self.fail:
            raise urllib.error.URLError("connection refused")
        return io.BytesIO(json.dumps({"keys": self.keys}).encode())


@pytest.fixture
def fake_jwks(monkeypatch: pytest.MonkeyPatch) -> FakeJwksEndpoint:
    """Route PyJWKClient's urllib opener to an in-memory JWKS endpoint."""
    endpoint = FakeJwksEndpoint()
    monkeypatch.setattr(urllib.request, "build_opener", lambda *handlers: endpoint)
    return endpoint


@pytest.fixture
def wscore_logs() -> Iterator[list[str]]:
    """Every line the `wscore` loggers emit, formatted exactly as in CloudWatch."""
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    root = get_logger()
    collector = _Collect()
    collector.setFormatter(JsonFormatter())
    root.addHandler(collector)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(collector)
        root.setLevel(old_level)
