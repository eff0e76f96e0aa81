"""A DynamoDB client for the repository's six operations: signed JSON over keep-alive HTTPS.

Why: creating a botocore DynamoDB client is a large part of every cold start (decoding the
service model and endpoint rules, listing every installed service model, building the
session's handlers), more than the whole budget a handler has above `import boto3`.
DynamoDB's wire protocol is plain JSON whose request and response bodies are exactly the
dicts the botocore client takes and returns, so this client needs no model: it serialises
the parameters, signs the request (SigV4, checked byte for byte against botocore's signer in
the tests) and sends it over urllib3, which `import boto3` has already loaded. So it is
far cheaper to build, and each call costs less CPU than botocore's (docs/PERFORMANCE.md has
the measurements).

Same contract as the botocore client, for what the repository uses:
- `put_item`, `get_item`, `update_item`, `delete_item`, `query`, `batch_write_item` take
  and return the same dicts (with `ResponseMetadata`);
- an error response raises `botocore.exceptions.ClientError` with `Error.Code` and
  `Error.Message` and the body's other fields (e.g. `Item` of a failed condition), so
  `except ClientError` code does not change;
- throttling, 5xx and network errors are retried as botocore's standard mode retries them
  (`retry.RetryPolicy`: 3 attempts, its backoff and retry quota), and a network error that
  persists raises botocore's `HTTPClientError`;
- endpoint from `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` (what the local gateway
  sets), else `https://dynamodb.<region>.amazonaws.com` (`.com.cn` in China).

Not covered, so `dynamodb_client()` falls back to boto3's client for them: FIPS or
dual-stack endpoints (`AWS_USE_FIPS_ENDPOINT`, `AWS_USE_DUALSTACK_ENDPOINT`), the isolated
partitions, and `DYNAMODB_TRANSPORT=boto3`. Not done at all: the `x-amz-crc32` body check
(TLS already protects the body), client-side parameter validation (DynamoDB validates), and
binary attribute values (`B`, `BS`): refused before sending with botocore's
`ParamValidationError`, since the repository stores only S, N and L (see `_refuse_binary`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from wscore.aws.retry import Failure, RetryPolicy, classify
from wscore.aws.sigv4 import LazyCredentials, SigningKey, amz_date
from wscore.aws.tls import ca_bundle
from wscore.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from botocore.exceptions import ClientError

    from wscore.aws.sigv4 import CredentialsProvider

SERVICE = "dynamodb"
TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
TRANSPORTS = ("fast", "boto3")
# botocore's backoff base for DynamoDB's non-throttling errors (its _SERVICE_BACKOFF_CONFIG).
TRANSIENT_BASE_S = 0.025
# Errors DynamoDB's service model marks retryable (botocore reads them from the model).
MODELED_TRANSIENT_CODES = frozenset({"ReplicatedWriteConflictException"})
# Regions of the partitions whose endpoints this client does not build (boto3 knows them).
_ISOLATED_PREFIXES = ("us-iso", "eu-iso")


def endpoint_for(region: str, env: Mapping[str, str]) -> str | None:
    """The DynamoDB endpoint to use, or None when only boto3's resolver knows it."""
    configured = env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL")
    if configured:
        return configured.rstrip("/")
    for flag in ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"):
        if env.get(flag, "").strip().lower() == "true":
            return None
    if not region or region.startswith(_ISOLATED_PREFIXES):
        return None
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://dynamodb.{region}.{suffix}"


class FastDynamoDBClient:
    """DynamoDB's JSON API with hand-made SigV4 over one urllib3 pool (see module docstring)."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        credentials: CredentialsProvider | None = None,
        *,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        pool_size: int = 10,
    ) -> None:
        import urllib3

        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"DynamoDB endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = f"{url.scheme}://{url.netloc}/"
        self._host = _host_header(url.scheme, url.hostname, url.port)
        self._key = SigningKey(region, SERVICE)
        self._creds = LazyCredentials(credentials)
        self._retry = retry or RetryPolicy(transient_base_s=TRANSIENT_BASE_S)
        pool_args: dict[str, Any] = {
            "maxsize": pool_size,
            "retries": False,
            "timeout": urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        }
        if url.scheme == "https":
            pool_args["ca_certs"] = ca_bundle()
        self._http = urllib3.PoolManager(**pool_args)

    # -- the operations the repository uses ------------------------------------------------

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self.call("PutItem", params)

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("GetItem", params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self.call("UpdateItem", params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return self.call("DeleteItem", params)

    def query(self, **params: Any) -> dict[str, Any]:
        return self.call("Query", params)

    def batch_write_item(self, **params: Any) -> dict[str, Any]:
        return self.call("BatchWriteItem", params)

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("BatchGetItem", params)

    # -- the wire ----------------------------------------------------------------------------

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One operation with retries; the parsed body, or ClientError/HTTPClientError."""
        body = json.dumps(params, separators=(",", ":"), default=_refuse_binary).encode()
        result = self._retry.run(lambda: self._attempt(operation, body), _failure)
        if isinstance(result, Exception):
            raise result
        return result

    def _attempt(self, operation: str, body: bytes) -> dict[str, Any] | Exception:
        """One request: the parsed body, or the error to raise if no retry follows.

        Errors are returned, not raised, so that the retry policy sees every outcome; a
        programming error (not a network one) is raised at once and never retried.
        """
        try:
            status, data, request_id = self._send(operation, body)
        except Exception as exc:
            if not _is_network_error(exc):
                raise
            return _http_client_error(exc)
        parsed = _parse(data)
        if status != 200:
            return _client_error(operation, status, parsed, request_id)
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": request_id}
        return parsed

    def headers(self, operation: str, body: bytes, now: float | None = None) -> dict[str, str]:
        """The signed request headers (public for the signature tests)."""
        creds = self._creds()
        date = amz_date(time.time() if now is None else now)
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-Amz-Date": date,
            "X-Amz-Target": TARGET_PREFIX + operation,
        }
        if creds.token:
            headers["X-Amz-Security-Token"] = creds.token
        signed = sorted((name.lower(), value) for name, value in headers.items())
        names = ";".join(name for name, _ in signed)
        canonical = "POST\n/\n\n{}\n{}\n{}".format(
            "".join(f"{name}:{value}\n" for name, value in signed),
            names,
            hashlib.sha256(body).hexdigest(),
        )
        scope = self._key.scope(date[:8])
        to_sign = (
            f"AWS4-HMAC-SHA256\n{date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.digest(self._key(creds.secret_key, date[:8]), to_sign.encode(), "sha256")
        del headers["Host"]  # urllib3 sends it
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
            f"SignedHeaders={names}, Signature={signature.hex()}"
        )
        return headers

    def _send(self, operation: str, body: bytes) -> tuple[int, bytes, str]:
        response = self._http.urlopen(
            "POST",
            self.endpoint,
            body=body,
            headers=self.headers(operation, body),
            redirect=False,
        )
        return response.status, response.data, response.headers.get("x-amzn-RequestId", "")


def _host_header(scheme: str, hostname: str, port: int | None) -> str:
    """The Host header urllib3 sends, hence the one to sign.

    urllib3 writes the host name in lower case and leaves out a default port: signing
    `https://Host:443` as written would fail AWS's signature check on every request.
    """
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port is None or port == {"http": 80, "https": 443}[scheme]:
        return host
    return f"{host}:{port}"


def _refuse_binary(value: object) -> NoReturn:
    """json's hook for what it cannot encode: a binary attribute value gets a clear error.

    botocore base64-encodes B and BS values from the service model, and decodes them in
    responses; without the model, both directions would need a walk of every request and
    response body, for a type the repository never stores. Anything else fails as json does.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        from botocore.exceptions import ParamValidationError

        raise ParamValidationError(
            report="binary attribute values (B, BS) are not supported by the fast DynamoDB "
            "client; set DYNAMODB_TRANSPORT=boto3 to use botocore's client"
        )
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _parse(data: bytes) -> dict[str, Any]:
    if not data:
        return {}
    try:
        parsed = json.loads(data)
    except ValueError:
        return {"message": data[:200].decode("utf-8", "replace")}
    return parsed if isinstance(parsed, dict) else {}


def _client_error(
    operation: str, status: int, body: dict[str, Any], request_id: str
) -> ClientError:
    from botocore.exceptions import ClientError

    code = str(body.pop("__type", "")).rsplit("#", 1)[-1] or f"HTTP{status}"
    message = str(body.pop("message", body.pop("Message", "")))
    response: dict[str, Any] = {
        **body,
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


def _failure(result: dict[str, Any] | Exception) -> Failure | None:
    """How botocore's standard mode judges an attempt: None when it succeeded."""
    from botocore.exceptions import ClientError

    if isinstance(result, ClientError):
        code = result.response["Error"]["Code"]
        if code in MODELED_TRANSIENT_CODES:
            return Failure.TRANSIENT
        return classify(result.response["ResponseMetadata"]["HTTPStatusCode"], code)
    if isinstance(result, Exception):
        return Failure.TRANSIENT  # a network error (HTTPClientError)
    return None


def _is_network_error(exc: Exception) -> bool:
    from urllib3.exceptions import HTTPError

    return isinstance(exc, HTTPError | OSError)


def _http_client_error(exc: Exception) -> Exception:
    """A persistent network error as botocore raises it (so callers see one type)."""
    from botocore.exceptions import HTTPClientError

    error = HTTPClientError(error=exc)
    error.__cause__ = exc
    return error


def dynamodb_client(
    env: Mapping[str, str] | None = None, boto_config: Any = None, *, traced: bool = False
) -> Any:
    """The container's DynamoDB client: this one, or boto3's where it cannot serve.

    boto3's client is used with `DYNAMODB_TRANSPORT=boto3`, for endpoint settings this client
    does not implement, and when the X-Ray SDK is patched in (`traced`), so that traces keep
    their DynamoDB subsegments (the SDK instruments botocore clients, not this one).
    """
    env = os.environ if env is None else env
    choice = env.get("DYNAMODB_TRANSPORT", "fast").strip().lower() or "fast"
    if choice not in TRANSPORTS:
        raise ConfigError(f"DYNAMODB_TRANSPORT must be fast or boto3, got {choice!r}")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    endpoint = endpoint_for(region, env) if choice == "fast" and not traced else None
    if endpoint is not None:
        return FastDynamoDBClient(endpoint, region or "us-east-1")
    import boto3

    return boto3.client("dynamodb", config=boto_config)
