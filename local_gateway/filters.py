"""Lambda event filtering (EventBridge-style patterns) for the stream event source.

Supports what event source mapping filters commonly use: exact values, `prefix`, `exists`
and `anything-but`. A record matches when every key of the pattern matches.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


def _match_rule(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        if "exists" in rule:
            return bool(rule["exists"]) == (value is not _MISSING)
        if value is _MISSING:
            return False
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(str(rule["prefix"]))
        if "anything-but" in rule:
            banned = rule["anything-but"]
            banned = banned if isinstance(banned, list) else [banned]
            return value not in banned
        raise ValueError(f"unsupported filter rule: {rule}")
    return value is not _MISSING and value == rule


def matches(pattern: dict[str, Any], record: Any) -> bool:
    """True when `record` satisfies the filter `pattern`."""
    if not isinstance(record, dict):
        return False
    for key, rule in pattern.items():
        value = record.get(key, _MISSING)
        if isinstance(rule, dict):
            if value is _MISSING or not isinstance(value, dict) or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not any(_match_rule(r, value) for r in rule):
                return False
        else:
            raise ValueError(f"filter values must be lists or objects, got {rule!r} for {key}")
    return True
