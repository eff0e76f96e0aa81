"""$connect REQUEST authorizer: verifies the JWT from the `token` query parameter.

API Gateway contract: raising `Exception("Unauthorized")` answers 401; a Deny policy
answers 403; an Allow policy's flat `context` reaches every route as
`requestContext.authorizer`. Any other exception answers 500.

Lambda counts every raised exception in the function's `Errors` metric, so that metric
mixes ordinary client mistakes (bad or expired tokens: 401) with outages. Each outcome is
therefore also written as an embedded metric (wscore.logs.metric): `AuthorizerAllowed`,
`AuthorizerDenied`, `AuthorizerRejected` (401, with the reason as a property: no paging)
and `AuthorizerUnavailable` (secret store or JWKS unreachable, configuration error: a 500,
what the outage alarm watches).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from wscore.auth.authorizer import Authorizer, AuthorizerRequest, Decision
from wscore.auth.settings import AuthSettings
from wscore.auth.verify import AuthRejectedError, AuthUnavailableError
from wscore.errors import ConfigError
from wscore.logs import get_logger, metric

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


@dataclass(frozen=True)
class _Outcome:
    """What happened, as a value: the handler raises its own exception outside any
    `except` block, so nothing from PyJWT is chained into the Lambda error report."""

    request: AuthorizerRequest | None
    decision: Decision | None  # None: 401 (or 500 when `unavailable`)
    reason: str
    unavailable: bool = False


def _evaluate(authorizer: Authorizer, event: dict[str, Any]) -> _Outcome:
    try:
        request = AuthorizerRequest.from_event(event)
    except ValueError:
        return _Outcome(None, None, "bad_event")
    try:
        decision = authorizer.decide(request)
    except AuthRejectedError as exc:
        return _Outcome(request, None, exc.reason)
    except AuthUnavailableError as exc:
        return _Outcome(request, None, exc.reason, unavailable=True)
    return _Outcome(request, decision, decision.reason)


OUTCOME_METRICS = {
    "allow": "AuthorizerAllowed",
    "deny": "AuthorizerDenied",
    "reject": "AuthorizerRejected",
    "unavailable": "AuthorizerUnavailable",
}


def _count(outcome: str, reason: str) -> None:
    metric(logger, "authorizer", properties={"reason": reason}, **{OUTCOME_METRICS[outcome]: 1})


def _configured() -> Authorizer:
    try:
        return get_authorizer()
    except ConfigError as exc:  # names the variable; never holds a secret value
        logger.error("authorizer.config_error", extra={"error": str(exc)})
        _count("unavailable", "config_error")
        raise


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point for the REQUEST authorizer."""
    outcome = _evaluate(_configured(), event)
    request, decision = outcome.request, outcome.decision
    log_fields: dict[str, Any] = {
        "reason": outcome.reason,
        "connectionId": request.connection_id if request else None,
        "apiRequestId": request.request_id if request else None,
    }
    if decision is None or request is None:
        if outcome.unavailable:
            logger.error("authorizer.unavailable", extra=log_fields)
            _count("unavailable", outcome.reason)
            raise RuntimeError("authorizer unavailable")
        logger.info("authorizer.reject", extra=log_fields)
        _count("reject", outcome.reason)
        raise Exception("Unauthorized")  # the exact message API Gateway maps to 401
    log_fields.update(tenantId=decision.identity.tenant_id, userId=decision.identity.user_id)
    kind = "allow" if decision.allowed else "deny"
    logger.info(f"authorizer.{kind}", extra=log_fields)
    _count(kind, outcome.reason)
    return decision.response(request.method_arn)
