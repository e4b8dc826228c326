"""What the simulator remembers: sends and their statuses, inbound messages, open windows, limits."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .config import SimulatorConfig
from .ids import new_conversation_id, new_wamid
from .limits import SlidingWindowLimit, TokenBucketLimit
from .validation import SendRequest

WINDOW_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class Conversation:
    id: str
    expiration_timestamp: int
    origin: str


@dataclass(frozen=True)
class Admission:
    """A send that passed the limits, and what decides its fate."""

    wamid: str
    accepted_at: float
    window_open: bool
    conversation: Conversation | None
    failure: str | None  # "undeliverable" or "window_closed"
    phone_number_id: str = ""
    wa_id: str | None = None
    """The contact's number, when known (a send to a business-scoped id may not know it)."""
    user_id: str | None = None
    """The contact's business-scoped id, when known."""


@dataclass
class SentRecord:
    wamid: str
    to: str
    wa_id: str
    type: str
    body: dict[str, Any]
    time: float
    statuses: list[dict[str, Any]] = field(default_factory=list)
    phone_number_id: str = ""
    user_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "wamid": self.wamid,
            "to": self.to,
            "wa_id": self.wa_id,
            "user_id": self.user_id,
            "phone_number_id": self.phone_number_id,
            "type": self.type,
            "body": self.body,
            "time": self.time,
            "statuses": list(self.statuses),
        }


class SimulatorState:
    """Thread-safe; every request handler and webhook worker goes through one lock."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._sent: OrderedDict[str, SentRecord] = OrderedDict()
        self._inbound: list[dict[str, Any]] = []
        self._read_receipts: list[dict[str, Any]] = []
        # Keyed by business number and contact: a window is per number.
        self._windows: dict[tuple[str, str], float] = {}
        # Contacts' business-scoped ids and numbers, as their messages named both.
        self._numbers_of_users: dict[str, str] = {}
        self._users_of_numbers: dict[str, str] = {}
        self._conversations: dict[tuple[str, str], Conversation] = {}
        self._throughput = SlidingWindowLimit(config.rate_limit_per_second)
        self._pairs = TokenBucketLimit(config.pair_burst, config.pair_interval)
        self._arrivals: dict[str, deque[float]] = {}

    def admit(self, request: SendRequest, phone_number_id: str | None = None) -> Admission:
        """Apply the limits and record the send from ``phone_number_id`` (default: the first
        number), atomically, or raise the error Meta would answer."""
        config = self._config
        number = phone_number_id or config.phone_number_id
        with self._lock:
            now = config.clock()
            # A business-scoped id the contact's messages named with a number is that contact.
            contact = self._numbers_of_users.get(request.wa_id, request.wa_id)
            pair = f"{number}:{contact}"
            if not self._throughput.allows(number, now):
                raise errors.rate_limited(config.rate_limit_http_status)
            if not self._pairs.allows(pair, now):
                raise errors.pair_rate_limited()
            self._throughput.record(number, now)
            self._pairs.record(pair, now)

            window_open = now - self._windows.get((number, contact), float("-inf")) < WINDOW_SECONDS
            failure: str | None = None
            if config.is_undeliverable(contact):
                failure = "undeliverable"
            elif not request.is_template and not window_open:
                failure = "window_closed"
            conversation = None if failure else self._conversation(contact, request.category, now)

            wamid = new_wamid(contact)
            user_id = request.user_id or self._users_of_numbers.get(contact)
            wa_id = None if contact == request.user_id else contact
            self._sent[wamid] = SentRecord(
                wamid,
                request.to,
                request.wa_id,
                request.type,
                request.body,
                now,
                phone_number_id=number,
                user_id=user_id,
            )
            self._trim(self._sent)
            return Admission(wamid, now, window_open, conversation, failure, number, wa_id, user_id)

    def _conversation(self, wa_id: str, origin: str, now: float) -> Conversation:
        key = (wa_id, origin)
        current = self._conversations.get(key)
        if current is None or current.expiration_timestamp <= now:
            current = Conversation(new_conversation_id(), int(now) + WINDOW_SECONDS, origin)
            self._conversations[key] = current
        return current

    def _trim(self, records: OrderedDict[str, SentRecord]) -> None:
        while len(records) > self._config.max_records:
            records.popitem(last=False)

    def add_status(self, wamid: str, entry: dict[str, Any]) -> None:
        with self._lock:
            record = self._sent.get(wamid)
            if record is not None:
                record.statuses.append(entry)

    def add_inbound(
        self,
        wa_id: str,
        entry: dict[str, Any],
        *,
        phone_number_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        """Record a message from the contact (``wa_id``: the number, or the business-scoped id of a
        contact who hides it) to a business number and open (or reset) that number's window."""
        with self._lock:
            if user_id and user_id != wa_id:
                self._numbers_of_users[user_id] = wa_id
                self._users_of_numbers[wa_id] = user_id
            contact = self._numbers_of_users.get(wa_id, wa_id)
            self._windows[(phone_number_id or self._config.phone_number_id, contact)] = self._config.clock()
            self._inbound.append(entry)
            del self._inbound[: -self._config.max_records]

    def update_inbound(self, message_id: str, **changes: Any) -> None:
        with self._lock:
            for entry in reversed(self._inbound):
                if entry.get("id") == message_id:
                    entry.update(changes)
                    return

    def add_read_receipt(self, message_id: str, typing_indicator: bool) -> None:
        with self._lock:
            self._read_receipts.append(
                {"message_id": message_id, "typing_indicator": typing_indicator, "time": self._config.clock()}
            )
            del self._read_receipts[: -self._config.max_records]

    def record_arrival(self, phone_number_id: str, at: float) -> None:
        """A send request reached the number's messages endpoint at ``at``, before any latency."""
        with self._lock:
            times = self._arrivals.get(phone_number_id)
            if times is None:
                times = self._arrivals[phone_number_id] = deque(maxlen=self._config.max_records)
            times.append(at)

    def arrivals(self) -> dict[str, Any]:
        """Each number's arrival times (the latest ``max_records``) and its busiest one second."""
        with self._lock:
            times = {number: sorted(kept) for number, kept in self._arrivals.items()}
        return {
            "arrivals": times,
            "max_per_second": {number: busiest_second(kept) for number, kept in times.items()},
        }

    def snapshot(self, to: str | None = None) -> dict[str, Any]:
        with self._lock:
            sent = [
                r.as_json() for r in self._sent.values() if to is None or to in (r.to, r.wa_id, r.user_id)
            ]
            inbound = [dict(e) for e in self._inbound if to is None or e.get("from") == to]
            return {"messages": sent, "inbound": inbound, "read_receipts": list(self._read_receipts)}

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._inbound.clear()
            self._read_receipts.clear()
            self._windows.clear()
            self._numbers_of_users.clear()
            self._users_of_numbers.clear()
            self._conversations.clear()
            self._throughput.clear()
            self._pairs.clear()
            self._arrivals.clear()


def busiest_second(ordered: list[float]) -> int:
    """The most times in any window [t, t + 1) of ``ordered`` (ascending): windows that start at
    a time suffice, since moving a window's start up to the next time only drops times."""
    return max((bisect_left(ordered, start + 1.0) - index for index, start in enumerate(ordered)), default=0)
