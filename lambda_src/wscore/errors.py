"""Domain errors, mapped to protocol error codes only at the handler edge."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Protocol v1 error codes (the complete set; clients switch on these)."""

    INVALID_JSON = "invalid_json"
    UNKNOWN_ACTION = "unknown_action"
    INVALID_REQUEST = "invalid_request"
    FORBIDDEN = "forbidden"
    NOT_MEMBER = "not_member"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"


class ConfigError(RuntimeError):
    """The function is misconfigured; raised at cold start so the deploy fails loudly."""


class DomainError(Exception):
    """An expected, client-facing failure. The message is safe to show to the client."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    # How long the client should wait before sending again (`retryAfterMs`), when it should.
    retry_after_ms: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidJson(DomainError):
    code = ErrorCode.INVALID_JSON


class UnknownAction(DomainError):
    code = ErrorCode.UNKNOWN_ACTION


class InvalidRequest(DomainError):
    code = ErrorCode.INVALID_REQUEST


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class NotMember(DomainError):
    code = ErrorCode.NOT_MEMBER


class PayloadTooLarge(DomainError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class RateLimited(DomainError):
    """Over a rate limit: nothing was done; the client may send again in `retry_after_ms`."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, retry_after_ms: int) -> None:
        super().__init__(message)
        self.retry_after_ms = max(1, retry_after_ms)


class TokenExpired(Forbidden):
    """The token the connection was opened with has expired: refuse and close."""


class StaleConnection(Forbidden):
    """The connection item is gone or expired: the socket should not be open any more."""
