"""What the table says about each day: messages received and sent, statuses, failures by Meta's
error code, and what Meta charges (the pricing its status webhooks carry), for ``wactl stats`` and
``wactl cost``.

It reads the whole table once (a Scan: read units for every item, about $0.03 per GB with
eventually consistent reads), so it suits the local runtime and an occasional look; a deployed
stack's daily counts come from its metrics at no read cost.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from wacloud.table.client import TableClient
from wacloud.table.keys import (
    FAILED_SEND_SK,
    INBOUND_SK_PREFIX,
    MESSAGE_SK,
    STATUS_SK_PREFIX,
    day_of,
    inbound_of,
    is_contact_key,
    is_event_key,
    is_failed_send_key,
    is_message_key,
    seconds_of_event_sk,
    wamid_of,
)

SCAN_PAGE = 1000


@dataclass
class DayActivity:
    day: str
    received: int = 0
    """Messages contacts sent."""
    statuses: Counter[str] = field(default_factory=Counter)
    """Status webhooks stored, by status."""
    other: int = 0
    """Updates of other webhook fields (templates, account, quality, ...)."""
    sent: int = 0
    """Messages Meta accepted from the sender."""
    failed_codes: Counter[str] = field(default_factory=Counter)
    """Meta's error codes of failed statuses and of sends that failed before Meta took them."""
    failed_sends: int = 0

    @property
    def stored(self) -> int:
        return self.received + sum(self.statuses.values()) + self.other


@dataclass(frozen=True)
class Charge:
    """One kind of message as Meta prices it (the ``pricing`` of its status webhooks)."""

    day: str
    category: str
    template: str | None
    billable: bool | None
    pricing_model: str | None


@dataclass
class Activity:
    days: dict[str, DayActivity]
    charges: Counter[Charge] = field(default_factory=Counter)


@dataclass
class _Pricing:
    at: int
    pricing: Mapping[str, Any]


def scan_activity(table: TableClient, days: Collection[str]) -> Activity:
    """The activity of ``days`` (``YYYY-MM-DD``, UTC), from one Scan of the table."""
    wanted = set(days)
    activity = Activity({day: DayActivity(day) for day in sorted(wanted)})
    pricing: dict[str, _Pricing] = {}  # the first status with pricing, per wamid
    templates: dict[str, str] = {}
    for item in _scan(table):
        pk, sk = str(item["pk"]), str(item["sk"])
        if is_contact_key(pk) and sk.startswith(INBOUND_SK_PREFIX):
            _day(activity, wanted, inbound_of(sk)[0], lambda d: setattr(d, "received", d.received + 1))
        elif is_message_key(pk) and sk.startswith(STATUS_SK_PREFIX):
            _status(activity, wanted, item, pricing)
        elif is_message_key(pk) and sk == MESSAGE_SK:
            _message(activity, wanted, item, templates)
        elif is_failed_send_key(pk) and sk == FAILED_SEND_SK:
            at = _int(item.get("timestamp"))

            def failed_send(d: DayActivity, item: Mapping[str, Any] = item) -> None:
                d.failed_sends += 1
                d.failed_codes.update(error_codes(item.get("status_errors")))

            _day(activity, wanted, at, failed_send)
        elif is_event_key(pk):
            _day(activity, wanted, seconds_of_event_sk(sk), lambda d: setattr(d, "other", d.other + 1))
    for wamid, first in pricing.items():
        day = day_of(first.at)
        if day not in wanted:
            continue
        billable = first.pricing.get("billable")
        charge = Charge(
            day=day,
            category=str(first.pricing.get("category") or "unknown"),
            template=templates.get(wamid),
            billable=billable if isinstance(billable, bool) else None,
            pricing_model=first.pricing.get("pricing_model"),
        )
        activity.charges[charge] += 1
    return activity


def error_codes(text: Any) -> list[str]:
    """The codes of a JSON list of Meta's errors (``status_errors``), as text."""
    if not isinstance(text, str):
        return []
    try:
        errors = json.loads(text)
    except ValueError:
        return []
    if not isinstance(errors, list):
        return []
    return [str(error.get("code")) for error in errors if isinstance(error, dict) and "code" in error]


def _scan(table: TableClient) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"Limit": SCAN_PAGE}
    while True:
        page = table.scan_page(**request)
        yield from (dict(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _day(activity: Activity, wanted: set[str], at: int | None, change: Any) -> None:
    if at is None:
        return
    day = day_of(at)
    if day in wanted:
        change(activity.days[day])


def _status(
    activity: Activity, wanted: set[str], item: Mapping[str, Any], pricing: dict[str, _Pricing]
) -> None:
    at = _int(item.get("timestamp"))
    status = str(item.get("status") or "unknown")
    raw = _object(item.get("raw"))

    def count(d: DayActivity) -> None:
        d.statuses[status] += 1
        if status == "failed":
            codes = [str(code) for code in item.get("error_codes") or []]
            if not codes and isinstance(raw.get("errors"), list):
                codes = [str(e.get("code")) for e in raw["errors"] if isinstance(e, dict)]
            d.failed_codes.update(codes or ["unknown"])

    _day(activity, wanted, at, count)
    wamid = item.get("wamid")
    found = raw.get("pricing")
    if isinstance(wamid, str) and isinstance(found, dict) and at is not None:
        known = pricing.get(wamid)
        if known is None or at < known.at:
            pricing[wamid] = _Pricing(at, found)


def _message(
    activity: Activity, wanted: set[str], item: Mapping[str, Any], templates: dict[str, str]
) -> None:
    request = _object(item.get("request"))
    wamid = item.get("wamid") or wamid_of(str(item["pk"]))
    template = request.get("template")
    if isinstance(template, dict) and isinstance(template.get("name"), str):
        templates[str(wamid)] = template["name"]
    if item.get("direction") == "outbound" and "timestamp" in item:
        _day(activity, wanted, _int(item.get("timestamp")), lambda d: setattr(d, "sent", d.sent + 1))
    elif item.get("direction") == "inbound":  # stored the old way, before messages moved
        _day(activity, wanted, _int(item.get("timestamp")), lambda d: setattr(d, "received", d.received + 1))


def _object(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def total(activities: Iterable[DayActivity]) -> DayActivity:
    """The sum of several days."""
    summed = DayActivity("total")
    for day in activities:
        summed.received += day.received
        summed.statuses.update(day.statuses)
        summed.other += day.other
        summed.sent += day.sent
        summed.failed_codes.update(day.failed_codes)
        summed.failed_sends += day.failed_sends
    return summed
