"""AWS failures of the table, turned into the project's errors in one place (:mod:`.client`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wacloud.core.errors import WaCloudError


class TableUnavailableError(WaCloudError):
    """DynamoDB refused or failed a call (throttled, unreachable, denied): trying again may help."""

    retryable = True


class ConditionFailed(Exception):
    """A conditional write found the item in another state; ``stored`` is that item, if returned."""

    def __init__(self, stored: Mapping[str, Any] | None) -> None:
        super().__init__("the condition of a conditional write did not hold")
        self.stored = stored
