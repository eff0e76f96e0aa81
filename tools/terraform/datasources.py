"""Offline answers for the data sources the module reads.

A real provider calls AWS here; the stand-in returns fixed, plausible values (account
123456789012, partition aws, the configured region) and renders aws_iam_policy_document from
its statement blocks so that plans and states carry real policy JSON.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tools.terraform.values import Json, Placeholders, canonical_json

ACCOUNT_ID = "123456789012"
PARTITION = "aws"


def caller_identity(cfg: Json, region: str) -> Json:
    return {
        **cfg,
        "account_id": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline-terraform",
        "id": ACCOUNT_ID,
        "user_id": "AIDAOFFLINETERRAFORM",
    }


def region_info(cfg: Json, region: str) -> Json:
    name = cfg.get("region") or cfg.get("name") or region
    out = {**cfg, "id": name, "description": f"{name} (offline stand-in)"}
    out["endpoint"] = cfg.get("endpoint") or f"ec2.{name}.amazonaws.com"
    for key in ("name", "region"):
        if key in cfg:
            out[key] = name
    return out


def partition(cfg: Json, region: str) -> Json:
    return {
        **cfg,
        "id": PARTITION,
        "partition": PARTITION,
        "dns_suffix": "amazonaws.com",
        "reverse_dns_prefix": "com.amazonaws",
    }


def _one_or_many(values: list[str]) -> str | list[str]:
    ordered = sorted(values)
    return ordered[0] if len(ordered) == 1 else ordered


def _principals(blocks: list[Json]) -> Any:
    out: dict[str, list[str]] = {}
    for blk in blocks:
        out.setdefault(blk["type"], []).extend(blk.get("identifiers") or [])
    if list(out) == ["*"] and out["*"] == ["*"]:
        return "*"
    return {k: _one_or_many(v) for k, v in sorted(out.items())}


def _statement(st: Json) -> Json:
    """One statement block as the provider renders it (keys in the provider's order)."""
    out: Json = {}
    if st.get("sid"):
        out["Sid"] = st["sid"]
    out["Effect"] = st.get("effect") or "Allow"
    for key, attr in (
        ("Action", "actions"),
        ("NotAction", "not_actions"),
        ("Resource", "resources"),
        ("NotResource", "not_resources"),
    ):
        if st.get(attr):
            out[key] = _one_or_many(st[attr])
    if st.get("principals"):
        out["Principal"] = _principals(st["principals"])
    if st.get("not_principals"):
        out["NotPrincipal"] = _principals(st["not_principals"])
    if st.get("condition"):
        cond: dict[str, dict[str, Any]] = {}
        for c in st["condition"]:
            cond.setdefault(c["test"], {})[c["variable"]] = _one_or_many(c["values"])
        out["Condition"] = cond
    return out


def policy_document(cfg: Json, region: str) -> Json:
    """Render statement blocks (after any source documents) into the policy JSON."""
    statements: list[Json] = []
    for doc in cfg.get("source_policy_documents") or []:
        statements.extend(json.loads(doc).get("Statement", []))
    overrides = [_statement(st) for st in cfg.get("statement") or []]
    by_sid = {st["Sid"]: i for i, st in enumerate(statements) if "Sid" in st}
    for st in overrides:
        if "Sid" in st and st["Sid"] in by_sid:
            statements[by_sid[st["Sid"]]] = st
        else:
            statements.append(st)
    policy: Json = {"Version": cfg.get("version") or "2012-10-17"}
    if cfg.get("policy_id"):
        policy["Id"] = cfg["policy_id"]
    policy["Statement"] = statements
    pretty = json.dumps(policy, indent=2)
    return {
        **cfg,
        "id": str(int(hashlib.sha256(canonical_json(policy).encode()).hexdigest()[:8], 16)),
        "json": pretty,
        "minified_json": json.dumps(policy, separators=(",", ":")),
    }


def iam_role(cfg: Json, region: str) -> Json:
    """A role of that name exists. Only API Gateway's account-level logging role is read by
    the module (check.api_gateway_account), so the stand-in answers as if the bootstrap root
    had created it: trusted by apigateway.amazonaws.com."""
    name = cfg.get("name") or "role"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return {
        **cfg,
        "id": name,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
        "assume_role_policy": json.dumps(trust),
    }


# What AWS documents as the default "Concurrent executions" quota; a real account may have
# less (new accounts often 10), which is what the module's check is for.
DEFAULT_LAMBDA_CONCURRENCY = 1000.0


def service_quota(cfg: Json, region: str) -> Json:
    """The documented default value of the quota (the stand-in knows one: Lambda's)."""
    value = DEFAULT_LAMBDA_CONCURRENCY if cfg.get("service_code") == "lambda" else 0.0
    return {**cfg, "value": value, "default_value": value, "adjustable": True}


HANDLERS = {
    "aws_iam_role": iam_role,
    "aws_servicequotas_service_quota": service_quota,
    "aws_caller_identity": caller_identity,
    "aws_region": region_info,
    "aws_partition": partition,
    "aws_iam_policy_document": policy_document,
}


def read(type_name: str, block: Json, cfg: Json, region: str) -> Json:
    """State of a data source: the handler's values, then placeholders for the rest."""
    handler = HANDLERS.get(type_name)
    state = handler(cfg, region) if handler else dict(cfg)
    filler = Placeholders(
        type_name, region, ACCOUNT_ID, json.dumps(cfg, sort_keys=True, default=str)
    )
    for name, attr in block.get("attributes", {}).items():
        if state.get(name) is None and attr.get("computed"):
            state[name] = filler.fill(attr["type"], name, state)
    return {k: state.get(k) for k in cfg}
