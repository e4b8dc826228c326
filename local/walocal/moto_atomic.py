"""Each call to the emulated DynamoDB applied as one step, as DynamoDB applies a write.

DynamoDB evaluates a write's condition and applies the write atomically: of two concurrent
conditional updates of one item, the second sees the first's result. moto reads, checks and writes
in Python with no lock, so two threads (the functions' instances call it at once) can both pass a
condition that only one should, and an idempotency claim or a send line's reservation is taken
twice. Holding one lock around each DynamoDB request restores the service's guarantee; the calls
are short, so the emulator's throughput barely changes.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_lock = threading.RLock()
_installed = False


def install() -> None:
    """Patch moto's DynamoDB in this process; calling it again changes nothing."""
    global _installed  # noqa: PLW0603 (one patch per process)
    if _installed:
        return
    original = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with _lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _installed = True
