"""Test double: 'allow:<user>:<tenant>' -> Allow, 'deny' -> Deny, anything else -> 401."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = event["queryStringParameters"]["token"]
    if token == "deny":
        effect, user, tenant = "Deny", "nobody", "none"
    elif token.startswith("allow:"):
        effect = "Allow"
        _, user, tenant = token.split(":", 2)
    else:
        raise Exception("Unauthorized")
    return {
        "principalId": user,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": {"userId": user, "tenantId": tenant, "tokenExp": 4102444800, "admin": False},
    }
