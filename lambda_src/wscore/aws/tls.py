"""The TLS trust of the hand-written clients: the CA bundle botocore would verify with.

Why: both the DynamoDB client and the @connections fast transport replace botocore clients,
so they must trust exactly what those would (a corporate proxy or a local stand-in is often
only reachable through AWS_CA_BUNDLE). One helper keeps the two from drifting apart.
"""

from __future__ import annotations

import os
import ssl


def ca_bundle() -> str:
    """AWS_CA_BUNDLE when set, else botocore's default bundle (what its clients verify with)."""
    configured = os.environ.get("AWS_CA_BUNDLE")
    if configured:
        return configured
    from botocore.httpsession import get_cert_path

    return str(get_cert_path(True))


def client_context() -> ssl.SSLContext:
    """A verifying client context over `ca_bundle()` (hostname checked, system defaults)."""
    return ssl.create_default_context(cafile=ca_bundle())
