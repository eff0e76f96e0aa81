"""$connect REQUEST authorizer: verifies the JWT from the `token` query parameter.

API Gateway contract: raising `Exception("Unauthorized")` answers 401; a Deny policy
answers 403; an Allow policy's flat `context` reaches every route as
`requestContext.authorizer`. Any other exception answers 500 (used for key-store outages,
so they show up in the function's error metric instead of looking like bad tokens).
"""

from __future__ import annotations

import os
from typing import Any

from wscore.auth import (
    Authorizer,
    AuthorizerRequest,
    AuthRejectedError,
    AuthSettings,
    AuthUnavailableError,
    Decision,
)
from wscore.logs import get_logger

logger = get_logger("wscore.authorizer")

_authorizer: Authorizer | None = None


def get_authorizer() -> Authorizer:
    """Build the authorizer once per container (settings validated, nothing fetched yet)."""
    global _authorizer  # noqa: PLW0603 - the per-container singleton is the point
    if _authorizer is None:
        _authorizer = Authorizer.from_settings(AuthSettings.from_env(os.environ))
    return _authorizer


def reset() -> None:
    """Forget the per-container authorizer (tests change the environment between cases)."""
    global _authorizer  # noqa: PLW0603
    _authorizer = None


def _evaluate(authorizer: Authorizer, event: dict[str, Any]) -> tuple[Decision | None, str, str]:
    """Return (decision, reason, method_arn); decision is None when the caller gets 401.

    Exceptions are turned into values here so that the handler raises its own exception
    outside any `except` block: nothing from PyJWT is chained into the Lambda error report.
    """
    try:
        request = AuthorizerRequest.from_event(event)
    except ValueError:
        return None, "bad_event", ""
    try:
        decision = authorizer.decide(request)
    except AuthRejectedError as exc:
        return None, exc.reason, request.method_arn
    except AuthUnavailableError as exc:
        return None, f"unavailable:{exc.reason}", request.method_arn
    return decision, decision.reason, request.method_arn


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point for the REQUEST authorizer."""
    decision, reason, method_arn = _evaluate(get_authorizer(), event)
    request_context = event.get("requestContext")
    connection_id = (
        request_context.get("connectionId") if isinstance(request_context, dict) else None
    )
    log_fields: dict[str, Any] = {"reason": reason, "connectionId": connection_id}
    if decision is None:
        if reason.startswith("unavailable:"):
            logger.error("authorizer.unavailable", extra=log_fields)
            raise RuntimeError("authorizer unavailable")
        logger.info("authorizer.reject", extra=log_fields)
        raise Exception("Unauthorized")  # the exact message API Gateway maps to 401
    log_fields.update(tenantId=decision.identity.tenant_id, userId=decision.identity.user_id)
    if decision.allowed:
        logger.info("authorizer.allow", extra=log_fields)
    else:
        logger.info("authorizer.deny", extra=log_fields)
    return decision.response(method_arn)
