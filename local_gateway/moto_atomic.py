"""DynamoDB's per-request atomicity for moto, used by the embedded emulator and the tests.

DynamoDB applies each request to an item atomically: two concurrent UpdateItems on one item
are serialised, and each sees the other's effect or none of it (a conditional write, an ADD
counter, ReturnValues ALL_OLD). moto answers requests on several threads and reads, changes
and writes an item in Python with no lock, so two requests can interleave and both see the
item as it was; the presence code (one item per user and room, decided by ALL_OLD) would then
announce a transition twice on the emulator that is exact on AWS. One lock around moto's
DynamoDB actions restores the guarantee (coarser than AWS's per-item one, so only slower).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from moto.dynamodb.responses import DynamoHandler

if TYPE_CHECKING:
    from collections.abc import Callable


def install() -> Callable[[], None]:
    """Serialise moto's DynamoDB actions; returns a callable that undoes it (for tests)."""
    original = DynamoHandler.call_action
    lock = threading.Lock()

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]

    def undo() -> None:
        DynamoHandler.call_action = original  # type: ignore[method-assign]

    return undo
