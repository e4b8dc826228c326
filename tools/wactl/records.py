"""Reading the single table (docs/data-model.md) for the operator commands.

Every read goes through :class:`wacloud.table.store.ConversationStore`, the code that writes the items;
this module turns AWS failures into the command line's errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.table.activity import Activity, scan_activity
from wacloud.table.client import TableClient
from wacloud.table.errors import TableUnavailableError
from wacloud.table.store import ConversationStore
from wactl.errors import WactlError, reason

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

T = TypeVar("T")


class TableError(WactlError):
    """The table could not be read."""


class Records:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.store = ConversationStore(table)

    def message(self, wamid: str) -> dict[str, Any] | None:
        return self._read(lambda: self.store.message(wamid))

    def inbound_message(self, wa_id: str, wamid: str) -> dict[str, Any] | None:
        """A message the contact sent (no status history), with ``history`` empty."""
        found = self._read(lambda: self.store.inbound_message(wa_id, wamid))
        return None if found is None else {**found, "history": []}

    def contact_of(self, identifier: str) -> str:
        """The contact a number or business-scoped id names (an id Meta linked to a number: that number)."""
        return self._read(lambda: self.store.contact_of(identifier))

    def profile(self, wa_id: str) -> dict[str, Any] | None:
        return self._read(lambda: self.store.profile(wa_id))

    def conversation(self, wa_id: str, limit: int) -> list[dict[str, Any]]:
        """The contact's latest ``limit`` messages, oldest first."""
        return self._read(lambda: self.store.conversation(wa_id, limit, newest_first=True))[::-1]

    def failed(self, day: str) -> list[dict[str, Any]]:
        """Failed status webhooks and failed sends of a day (index gsi2), in time order."""
        return self._read(lambda: self.store.failed_messages(day, limit=None))

    def raw_payloads(self, day: str, limit: int | None) -> list[dict[str, Any]]:
        """Raw payloads received on a day (index gsi1), in order of receipt."""
        return self._read(lambda: self.store.raw_payloads(day, limit))

    def raw_payload(self, sha256: str) -> dict[str, Any] | None:
        return self._read(lambda: self.store.raw_payload(sha256))

    def untyped_parts(self, sha256: str) -> list[dict[str, Any]]:
        """The parts of a payload the processor could not type, with why."""
        return self._read(lambda: self.store.untyped_parts(sha256))

    def failures(self, sha256s: list[str]) -> dict[str, dict[str, Any]]:
        """The latest failed attempt at each payload that has one, by SHA-256."""
        return self._read(lambda: self.store.failures(sha256s))

    def rejected_payloads(self, days: list[str]) -> list[dict[str, Any]]:
        """Payloads rejected on these days and not dismissed, in order of receipt."""
        return self._read(
            lambda: [item for day in sorted(days) for item in self.store.rejected_payloads(day, limit=None)]
        )

    def activity(self, days: list[str]) -> Activity:
        """What the table says about these days (one Scan of the whole table)."""
        return self._read(lambda: scan_activity(TableClient(self.table), days))

    def dismiss_rejected(self, sha256: str) -> bool:
        try:
            return self.store.dismiss_rejected(sha256)
        except TableUnavailableError as exc:
            raise TableError(f"cannot update table {self.table.name} ({_cause(exc)})") from exc

    def _read(self, read: Callable[[], T]) -> T:
        try:
            return read()
        except TableUnavailableError as exc:
            raise TableError(f"cannot read table {self.table.name} ({_cause(exc)})") from exc
        except (BotoCoreError, ClientError) as exc:
            raise TableError(f"cannot read table {self.table.name} ({reason(exc)})") from exc


def _cause(exc: TableUnavailableError) -> str:
    """The AWS error behind a table failure, as the operator needs it (code and message)."""
    cause = exc.__cause__
    return reason(cause) if isinstance(cause, Exception) else str(exc)


def errors_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors an item carries: a message's or failed send's ``status_errors``, or those of the
    status object a status event keeps in ``raw``."""
    for attribute in ("status_errors", "raw"):
        text = item.get(attribute)
        if not isinstance(text, str):
            continue
        try:
            found = json.loads(text)
        except ValueError:
            continue
        if isinstance(found, dict):
            found = found.get("errors")
        if isinstance(found, list):
            return [error for error in found if isinstance(error, dict)]
    codes = item.get("error_codes")
    return [{"code": code} for code in codes] if isinstance(codes, list) else []


def error_text(errors: list[dict[str, Any]]) -> str:
    """``131047 Re-engagement message``, one per error, ``-`` for none."""
    if not errors:
        return "-"
    return "; ".join(" ".join(str(part) for part in (e.get("code"), e.get("title")) if part) for e in errors)
