"""Events shaped like the ones API Gateway and Lambda event sources send.

Field names, nesting and formats follow AWS's documented samples, so a handler tested here
sees the same event in AWS. Ids are random in API Gateway's style (base64-like, '=' end).
"""

from __future__ import annotations

import secrets
import string
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from multidict import MultiMapping

_ID_ALPHABET = string.ascii_letters + string.digits
# moto's default account: the ARNs the gateway makes up match the emulated resources'.
ACCOUNT_ID = "123456789012"


def new_id(length: int = 15) -> str:
    """An id like API Gateway's connection/request ids, e.g. 'L0SM9cOFvHcCIhw='."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length)) + "="


def now_ms() -> int:
    return int(time.time() * 1000)


def request_time(epoch_ms: int) -> str:
    """API Gateway's CLF-style requestTime, e.g. '09/Apr/2020:18:03:45 +0000'."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def iso_time(epoch_ms: int) -> str:
    """ISO 8601 UTC with milliseconds, as the management API returns timestamps."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000))
    return f"{seconds}.{epoch_ms % 1000:03d}Z"


def identity(source_ip: str, user_agent: str | None) -> dict[str, str]:
    """requestContext.identity and GetConnection's identity: no userAgent key when the client
    sent no User-Agent header (as API Gateway's events)."""
    out = {"sourceIp": source_ip}
    if user_agent is not None:
        out["userAgent"] = user_agent
    return out


def views(field: str, pairs: MultiMapping[str]) -> dict[str, Any]:
    """API Gateway's two views of headers or query parameters, under their event keys:
    `field` (last value wins) and `multiValueField` (every value, in order)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs.items():
        single[key] = value
        multi.setdefault(key, []).append(value)
    return {field: single, f"multiValue{field[0].upper()}{field[1:]}": multi}


class EventFactory:
    """Builds requestContext and the per-route events for one API and stage."""

    def __init__(self, api_id: str, stage: str, domain_name: str, region: str) -> None:
        self.api_id = api_id
        self.stage = stage
        self.domain_name = domain_name
        self.region = region

    def request_context(
        self,
        *,
        route_key: str,
        event_type: str,
        connection_id: str,
        connected_at: int,
        source_ip: str,
        user_agent: str | None,
        authorizer: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        integration_latency: int | None = None,
    ) -> dict[str, Any]:
        """requestContext as API Gateway sends it. Like AWS's: `identity.userAgent` only when
        the client sent a User-Agent header, and the authorizer's `integrationLatency` only
        in the $connect event (the one the authorizer ran for)."""
        epoch = now_ms()
        request_id = new_id()
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": request_time(epoch),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": epoch,
            "identity": identity(source_ip, user_agent),
            "requestId": request_id,
            "domainName": self.domain_name,
            "connectionId": connection_id,
            "apiId": self.api_id,
        }
        if message_id is not None:
            context["messageId"] = message_id
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)
            if integration_latency is not None:
                context["authorizer"]["integrationLatency"] = integration_latency
        return context

    def method_arn(self, route_key: str) -> str:
        return (
            f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{self.api_id}/{self.stage}/{route_key}"
        )

    def authorizer_event(
        self,
        context: dict[str, Any],
        headers: MultiMapping[str],
        query: MultiMapping[str],
    ) -> dict[str, Any]:
        """A REQUEST authorizer event for $connect (identity source: the token query)."""
        return {
            "type": "REQUEST",
            "methodArn": self.method_arn("$connect"),
            **views("headers", headers),
            **views("queryStringParameters", query),
            "stageVariables": {},
            "requestContext": context,
        }

    def connect_event(
        self,
        context: dict[str, Any],
        headers: MultiMapping[str],
        query: MultiMapping[str],
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            **views("headers", headers),
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if query:  # API Gateway leaves both query keys out when there is no query string
            event.update(views("queryStringParameters", query))
        return event

    def message_event(self, context: dict[str, Any], data: str) -> dict[str, Any]:
        """A text frame's event (binary frames never reach a route: API Gateway closes the
        connection with 1003)."""
        return {"requestContext": context, "body": data, "isBase64Encoded": False}

    def disconnect_event(
        self, context: dict[str, Any], status_code: int, reason: str
    ) -> dict[str, Any]:
        context = {**context, "disconnectStatusCode": status_code, "disconnectReason": reason}
        headers = {
            "Host": self.domain_name,
            "x-api-key": "",
            "X-Forwarded-For": "",
            "x-restapi": "",
        }
        return {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": context,
            "isBase64Encoded": False,
        }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The SQS event source's batch, from ReceiveMessage results."""
    records = []
    for msg in messages:
        attributes = dict(msg.get("Attributes", {}))
        records.append(
            {
                "messageId": msg["MessageId"],
                "receiptHandle": msg["ReceiptHandle"],
                "body": msg["Body"],
                "attributes": attributes,
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value.get("DataType", "String"),
                    }
                    for name, value in msg.get("MessageAttributes", {}).items()
                },
                "md5OfBody": msg.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A DynamoDB Streams record as Lambda's event source passes it (JSON-safe)."""
    out = dict(record)
    ddb = dict(out.get("dynamodb", {}))
    created = ddb.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, int | float):
        ddb["ApproximateCreationDateTime"] = int(created.timestamp())
    out["dynamodb"] = ddb
    out["eventVersion"] = "1.1"
    out["awsRegion"] = region
    out["eventSourceARN"] = stream_arn
    return out
