"""Assertions on the offline plan of terraform/dev: the settings the module promises.

Values come from the state after applying the plan to the stand-in provider, where every
value is known (ARNs are placeholders); a few checks read the plan itself.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from tests.helpers import PROTOCOL_ROUTES
from tools.manifest import ROOT

if TYPE_CHECKING:
    from conftest import DevPlan, Resource


def _statements(policy: str) -> list[dict[str, Any]]:
    statements = json.loads(policy)["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _single_block(resource: Resource, name: str) -> dict[str, Any]:
    blocks = resource.values.get(name) or []
    assert len(blocks) == 1, f"{resource.address}: expected one {name} block, got {blocks}"
    block: dict[str, Any] = blocks[0]
    return block


def _function_by_name(dev_plan: DevPlan, name_or_arn: str) -> Resource:
    for fn in dev_plan.of_type("aws_lambda_function"):
        if name_or_arn in (fn.values["function_name"], fn.values["arn"]):
            return fn
    raise AssertionError(f"no function {name_or_arn}")


def _sqs_mappings(dev_plan: DevPlan) -> list[tuple[Resource, Resource]]:
    queues = {q.values["arn"]: q for q in dev_plan.of_type("aws_sqs_queue")}
    return [
        (m, queues[m.values["event_source_arn"]])
        for m in dev_plan.of_type("aws_lambda_event_source_mapping")
        if m.values["event_source_arn"] in queues
    ]


def test_plan_only_creates(dev_plan: DevPlan) -> None:
    actions = {tuple(rc["change"]["actions"]) for rc in dev_plan.plan["resource_changes"]}
    assert actions <= {("create",), ("read",)}, actions
    assert len(dev_plan.planned()) >= 40


def test_websocket_api_routes_on_the_action_field(dev_plan: DevPlan) -> None:
    api = dev_plan.one("aws_apigatewayv2_api")
    assert api.values["protocol_type"] == "WEBSOCKET"
    assert api.values["route_selection_expression"] == "$request.body.action"


def test_the_eight_protocol_routes_exist_on_the_api(dev_plan: DevPlan) -> None:
    api = dev_plan.one("aws_apigatewayv2_api")
    routes = dev_plan.of_type("aws_apigatewayv2_route")
    assert {r.values["route_key"] for r in routes} == PROTOCOL_ROUTES
    assert all(r.values["api_id"] == api.values["id"] for r in routes)
    integrations = {i.values["id"]: i for i in dev_plan.of_type("aws_apigatewayv2_integration")}
    for route in routes:
        target = route.values["target"]
        assert target.startswith("integrations/"), route.address
        integration = integrations[target.removeprefix("integrations/")]
        assert integration.values["integration_type"] == "AWS_PROXY"


def test_connect_uses_the_request_authorizer_on_the_token_parameter(dev_plan: DevPlan) -> None:
    authorizer = dev_plan.one("aws_apigatewayv2_authorizer")
    assert authorizer.values["authorizer_type"] == "REQUEST"
    assert authorizer.values["identity_sources"] == ["route.request.querystring.token"]
    connect = next(
        r for r in dev_plan.of_type("aws_apigatewayv2_route") if r.values["route_key"] == "$connect"
    )
    assert connect.values["authorization_type"] == "CUSTOM"
    assert connect.values["authorizer_id"] == authorizer.values["id"]


def test_table_has_both_indexes_ttl_stream_and_pitr(dev_plan: DevPlan) -> None:
    table = dev_plan.one("aws_dynamodb_table")
    v = table.values
    assert (v["hash_key"], v["range_key"]) == ("PK", "SK")
    assert v["billing_mode"] == "PAY_PER_REQUEST"
    indexes = {g["name"]: g for g in v["global_secondary_index"]}
    assert set(indexes) == {"GSI1", "GSI2"}
    for name, gsi in indexes.items():
        keys = (gsi["hash_key"], gsi["range_key"])
        key_schema = {k["key_type"]: k["attribute_name"] for k in gsi.get("key_schema") or []}
        if key_schema:  # provider 6.x also accepts key_schema blocks instead of hash/range_key
            keys = (key_schema.get("HASH"), key_schema.get("RANGE"))
        assert keys == (f"{name}PK", f"{name}SK")
    assert _single_block(table, "ttl") == {"attribute_name": "expiresAt", "enabled": True}
    assert v["stream_enabled"] is True
    assert v["stream_view_type"] == "NEW_AND_OLD_IMAGES"
    assert _single_block(table, "point_in_time_recovery")["enabled"] is True
    assert _single_block(table, "server_side_encryption")["enabled"] is True


def test_consumed_queues_have_dead_letter_queues(dev_plan: DevPlan) -> None:
    queues = {q.values["arn"]: q for q in dev_plan.of_type("aws_sqs_queue")}
    mappings = _sqs_mappings(dev_plan)
    assert len(mappings) == 2, [m.address for m, _ in mappings]
    for _, queue in mappings:
        policy = json.loads(queue.values["redrive_policy"])
        dlq = queues[policy["deadLetterTargetArn"]]
        assert dlq.values["arn"] != queue.values["arn"]
        assert 1 <= int(policy["maxReceiveCount"]) <= 10
        assert dlq.values["message_retention_seconds"] >= queue.values["message_retention_seconds"]
    for queue in queues.values():
        encrypted = queue.values["sqs_managed_sse_enabled"] or queue.values["kms_master_key_id"]
        assert encrypted, f"{queue.address} is not encrypted"


def test_sqs_mappings_report_batch_item_failures_with_bounded_concurrency(
    dev_plan: DevPlan,
) -> None:
    for mapping, _ in _sqs_mappings(dev_plan):
        assert mapping.values["function_response_types"] == ["ReportBatchItemFailures"]
        concurrency = _single_block(mapping, "scaling_config")["maximum_concurrency"]
        assert 2 <= concurrency <= 1000, mapping.address


def test_queue_visibility_timeout_is_at_least_six_times_the_consumer_timeout(
    dev_plan: DevPlan,
) -> None:
    for mapping, queue in _sqs_mappings(dev_plan):
        consumer = _function_by_name(dev_plan, mapping.values["function_name"])
        visibility = queue.values["visibility_timeout_seconds"]
        assert visibility >= 6 * consumer.values["timeout"], (queue.address, consumer.address)


def test_stream_mapping_only_sees_ttl_deletions(dev_plan: DevPlan) -> None:
    table = dev_plan.one("aws_dynamodb_table")
    stream = [
        m
        for m in dev_plan.of_type("aws_lambda_event_source_mapping")
        if m.values["event_source_arn"] == table.values["stream_arn"]
    ]
    assert len(stream) == 1
    mapping = stream[0]
    filters = _single_block(mapping, "filter_criteria")["filter"]
    assert [json.loads(f["pattern"]) for f in filters] == [
        {
            "eventName": ["REMOVE"],
            "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
            # only connections: history and memberships expire by the thousand, silently
            "dynamodb": {"OldImage": {"type": {"S": ["connection"]}}},
        }
    ]
    assert mapping.values["bisect_batch_on_function_error"] is True
    assert 0 <= mapping.values["maximum_retry_attempts"] <= 10
    on_failure = _single_block(mapping, "destination_config")["on_failure"]
    assert len(on_failure) == 1
    assert on_failure[0]["destination_arn"].startswith("arn:aws:sqs:")


def test_no_iam_statement_grants_a_wildcard_action(dev_plan: DevPlan) -> None:
    policies = [p.values["policy"] for p in dev_plan.of_type("aws_iam_role_policy")]
    policies += [r.values["assume_role_policy"] for r in dev_plan.of_type("aws_iam_role")]
    assert len(policies) >= 2 * len(dev_plan.of_type("aws_lambda_function"))
    for policy in policies:
        for statement in _statements(policy):
            assert "NotAction" not in statement, statement
            for action in _as_list(statement.get("Action", [])):
                assert "*" not in action, statement


# AWS client calls in lambda_src, by service: `<client>.<snake_case_operation>(`.
_CALLS = {
    "dynamodb": re.compile(r"\b_db\.([a-z_]+)\("),
    "sqs": re.compile(r"\b_sqs\.([a-z_]+)\("),
}
# SendMessageBatch is authorised by sqs:SendMessage.
_AUTHORISED_BY = {"sqs:SendMessageBatch": "sqs:SendMessage"}
# Called with the function's role by Lambda itself, not by the code: the SQS poller of an
# event source mapping, the stream poller, the runtime's log and trace agents.
_CALLED_BY_LAMBDA = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:SendMessage",  # also the stream mapping's on-failure destination
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}


def _called_actions() -> set[str]:
    actions: set[str] = set()
    for path in (ROOT / "lambda_src").rglob("*.py"):
        text = path.read_text()
        for service, pattern in _CALLS.items():
            for operation in pattern.findall(text):
                name = f"{service}:{''.join(w.capitalize() for w in operation.split('_'))}"
                actions.add(_AUTHORISED_BY.get(name, name))
    return actions


def test_roles_grant_no_data_action_the_code_never_calls(dev_plan: DevPlan) -> None:
    """Least privilege: every DynamoDB and SQS action granted is one the code (or Lambda's
    pollers on its behalf) calls; every one the code calls is granted."""
    called = _called_actions()
    assert {"dynamodb:Query", "dynamodb:BatchWriteItem", "sqs:SendMessage"} <= called
    granted: set[str] = set()
    for policy in dev_plan.of_type("aws_iam_role_policy"):
        for statement in _statements(policy.values["policy"]):
            granted.update(
                a for a in _as_list(statement["Action"]) if a.startswith(("dynamodb:", "sqs:"))
            )
    assert granted - called - _CALLED_BY_LAMBDA == set()
    assert called - granted == set()


def test_every_function_has_its_own_role(dev_plan: DevPlan) -> None:
    functions = dev_plan.of_type("aws_lambda_function")
    roles = [f.values["role"] for f in functions]
    assert len(set(roles)) == len(functions)


def test_stage_access_logs_carry_no_query_string_and_no_data_trace(dev_plan: DevPlan) -> None:
    stage = dev_plan.one("aws_apigatewayv2_stage")
    assert stage.values["auto_deploy"] is True
    log_format = _single_block(stage, "access_log_settings")["format"]
    fields = json.loads(log_format)
    assert "$context.connectionId" in fields.values()
    assert "querystring" not in log_format.lower()
    assert "token" not in log_format.lower()
    settings = [_single_block(stage, "default_route_settings")]
    settings += stage.values.get("route_settings") or []
    for s in settings:
        assert s["data_trace_enabled"] is False


def test_functions_trace_log_json_and_use_the_layer(dev_plan: DevPlan) -> None:
    """One logging path: wscore.logs writes the JSON lines and applies LOG_LEVEL; Lambda's
    format is Text so that it neither re-wraps them nor drops the level-less metric lines."""
    layer = dev_plan.one("aws_lambda_layer_version")
    for fn in dev_plan.of_type("aws_lambda_function"):
        assert _single_block(fn, "tracing_config")["mode"] == "Active"
        logging_config = _single_block(fn, "logging_config")
        assert logging_config["log_format"] == "Text", fn.address
        assert not logging_config.get("application_log_level"), fn.address
        assert layer.values["arn"] in fn.values["layers"], fn.address


def test_function_environment_matches_what_the_code_parses(dev_plan: DevPlan) -> None:
    from wscore.logs import parse_level

    for fn in dev_plan.of_type("aws_lambda_function"):
        variables = _single_block(fn, "environment")["variables"]
        parse_level(variables["LOG_LEVEL"])  # raises on a name the code does not know
        assert variables["METRIC_PROJECT"] == "wsplatform", fn.address
        assert variables["METRIC_ENV"] == "dev", fn.address
        assert variables["METRIC_NAMESPACE"], fn.address


def test_route_permissions_are_scoped_to_their_route(dev_plan: DevPlan) -> None:
    api = dev_plan.one("aws_apigatewayv2_api")
    for permission in dev_plan.of_type("aws_lambda_permission"):
        source = permission.values["source_arn"]
        assert source.startswith(api.values["execution_arn"] + "/"), permission.address
        assert not source.endswith("/*/*"), permission.address
