"""What the sender needs of Meta's throughput limit per business phone number.

The limit is shared by every sender instance through the table
(:class:`wacloud.table.pacing.SharedPacer`); the sender only asks it for each request's turn.
"""

from __future__ import annotations

from typing import Protocol


class Pacer(Protocol):
    def acquire(self) -> float:
        """Wait for this request's turn; the seconds waited. Raises a retryable error when the turn
        cannot be known (nothing is sent then)."""
        ...
