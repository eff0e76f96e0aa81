"""Fan-out jobs: sizing against the SQS limits, strict parsing, round trip, batching."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wscore.delivery.fanout import (
    MAX_ATTEMPTS,
    MAX_BATCH_BYTES,
    MAX_JOB_BYTES,
    MAX_RECIPIENTS_PER_JOB,
    FanoutJob,
    FanoutQueue,
    split_jobs,
)
from wscore.errors import InvalidRequest
from wscore.protocol import MAX_MESSAGE_BYTES, encode, message_event

ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"
SQS_LIMIT = 256 * 1024


def _frame(data: Any) -> str:
    return encode(message_event("big", "a" * 32, "alice", data, "2026-11-28T05:00:00.000Z"))


def _largest(char: str) -> str:
    """The largest frame a client can make from one repeated character (<= 128 KB)."""
    lo, hi = 0, MAX_MESSAGE_BYTES
    while lo < hi:  # binary search the longest data string that still fits
        mid = (lo + hi + 1) // 2
        if len(_frame(char * mid).encode()) <= MAX_MESSAGE_BYTES:
            lo = mid
        else:
            hi = mid - 1
    return _frame(char * lo)


LARGE_FRAMES = {
    "ascii": _largest("x"),
    "quotes": _largest('"'),  # 2 bytes in the frame; was 4 in a job (escaped twice)
    "backslashes": _largest("\\"),
    "control": _largest("\x01"),  # \u0001: 6 bytes in the frame
    "emoji": _largest("😀"),
    "small": _frame("hi"),
}


@pytest.mark.parametrize("name", sorted(LARGE_FRAMES))
@pytest.mark.parametrize("id_len", [16, 128])
def test_split_jobs_keeps_every_body_under_the_limit(name: str, id_len: int) -> None:
    frame = LARGE_FRAMES[name]
    recipients = [f"{i:0{id_len}d}" for i in range(3000)]
    jobs = split_jobs(ENDPOINT, frame, recipients, "message")
    sizes = [len(job.to_body().encode()) for job in jobs]
    assert max(sizes) < MAX_JOB_BYTES < SQS_LIMIT
    assert all(0 < len(job.recipients) <= MAX_RECIPIENTS_PER_JOB for job in jobs)
    assert [r for job in jobs for r in job.recipients] == recipients  # each once, in order
    budget = MAX_JOB_BYTES - len(frame.encode()) - 512
    by_size = 3000 * (id_len + 3) // budget + 1
    assert len(jobs) <= max(by_size, -(-3000 // MAX_RECIPIENTS_PER_JOB)) + 1  # jobs stay full


def test_a_quote_heavy_frame_costs_about_its_own_size_in_a_job() -> None:
    frame = LARGE_FRAMES["quotes"]
    (job,) = split_jobs(ENDPOINT, frame, ["c1"], "message")
    assert len(job.to_body().encode()) < len(frame.encode()) + 512


class RecordingSQS:
    """A SendMessageBatch stand-in that enforces the SQS limits and records each call."""

    def __init__(self, refuse: int = 0) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.refuse = refuse

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert len(Entries) <= 10
        assert sum(len(e["MessageBody"].encode()) for e in Entries) <= SQS_LIMIT
        self.calls.append(Entries)
        failed = [{"Id": e["Id"]} for e in Entries[: self.refuse]]
        return {"Failed": failed} if failed else {}


@pytest.mark.parametrize("name", ["quotes", "ascii", "small"])
def test_enqueue_batches_stay_under_256_kb_and_10_entries(name: str) -> None:
    sqs = RecordingSQS()
    recipients = [f"conn-{i:0120d}" for i in range(5000)]
    jobs = split_jobs(ENDPOINT, LARGE_FRAMES[name], recipients, "message")
    assert FanoutQueue(sqs, "q").enqueue(jobs, delay_s=4) == len(jobs)
    bodies = [e["MessageBody"] for call in sqs.calls for e in call]
    assert bodies == [job.to_body() for job in jobs]
    for call in sqs.calls:
        assert sum(len(e["MessageBody"].encode()) for e in call) <= MAX_BATCH_BYTES
        assert {e["DelaySeconds"] for e in call} == {4}


def test_enqueue_retries_refused_entries_once_then_raises() -> None:
    jobs = split_jobs(ENDPOINT, _frame("x"), ["a", "b"], "message")
    sqs = RecordingSQS(refuse=1)
    with pytest.raises(RuntimeError, match="refused 1 fan-out jobs twice"):
        FanoutQueue(sqs, "q").enqueue(jobs)
    assert len(sqs.calls) == 2 and len(sqs.calls[1]) == 1


def _valid() -> dict[str, Any]:
    return {
        "v": 1,
        "endpoint": ENDPOINT,
        "recipients": ["c1", "c2"],
        "kind": "presence",
        "attempt": 2,
        "frame": {"type": "presence", "roomId": "r", "event": "join", "userId": "u"},
    }


def test_from_body_accepts_a_valid_job() -> None:
    job = FanoutJob.from_body(json.dumps(_valid()))
    assert job == FanoutJob(
        ENDPOINT, encode(_valid()["frame"]), ("c1", "c2"), kind="presence", attempt=2
    )


def test_from_body_refuses_the_frame_as_a_json_string() -> None:
    """Jobs embed the frame as a JSON object; the frame-as-string layout is not read."""
    legacy = {**_valid(), "frame": encode(_valid()["frame"])}
    with pytest.raises(InvalidRequest, match="no frame"):
        FanoutJob.from_body(json.dumps(legacy))


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": "1"},
        {"v": None},
        {"endpoint": "ftp://x"},
        {"endpoint": ""},
        {"endpoint": 5},
        {"frame": ""},
        {"frame": "not json"},
        {"frame": "[1]"},
        {"frame": {}},
        {"frame": [1]},
        {"frame": 7},
        {"recipients": []},
        {"recipients": "c1"},
        {"recipients": [""]},
        {"recipients": ["x" * 129]},
        {"recipients": [5]},
        {"recipients": ["c"] * (MAX_RECIPIENTS_PER_JOB + 1)},
        {"kind": "other"},
        {"kind": None},
        {"attempt": -1},
        {"attempt": MAX_ATTEMPTS + 1},
        {"attempt": "0"},
        {"attempt": 1.5},
        {"attempt": True},
    ],
)
def test_from_body_rejects_malformed_jobs(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        FanoutJob.from_body(json.dumps({**_valid(), **change}))


@pytest.mark.parametrize("missing", ["v", "endpoint", "frame", "recipients", "kind", "attempt"])
def test_from_body_rejects_a_missing_field(missing: str) -> None:
    body = {k: v for k, v in _valid().items() if k != missing}
    with pytest.raises(InvalidRequest):
        FanoutJob.from_body(json.dumps(body))


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        "[]",
        "null",
        "1",
        '"job"',
        "[" * 100_000,
        '{"v":1,"endpoint":"https://x","recipients":["c"],"kind":"event","attempt":0,'
        '"frame":{"type":"event","data":NaN}}',
    ],
)
def test_from_body_rejects_non_objects_and_invalid_json(body: str) -> None:
    with pytest.raises(InvalidRequest):
        FanoutJob.from_body(body)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec=None, categories=None)),  # lone surrogates too
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(
    data=json_values,
    recipients=st.lists(
        st.text(st.characters(codec="ascii"), min_size=1, max_size=128), min_size=1, max_size=20
    ),
    kind=st.sampled_from(["message", "presence", "event"]),
    attempt=st.integers(0, MAX_ATTEMPTS),
)
def test_round_trip(data: Any, recipients: list[str], kind: str, attempt: int) -> None:
    job = FanoutJob(ENDPOINT, _frame(data), tuple(recipients), kind, attempt)
    body = job.to_body()
    assert FanoutJob.from_body(body) == job
    assert json.loads(body)["frame"] == json.loads(job.frame)  # a value, not a string
