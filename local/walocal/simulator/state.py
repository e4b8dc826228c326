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


@dataclass
class SentRecord:
    wamid: str
    to: str
    wa_id: str
    type: str
    body: dict[str, Any]
    time: float
    statuses: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "wamid": self.wamid,
            "to": self.to,
            "wa_id": self.wa_id,
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
        self._windows: dict[str, float] = {}
        self._conversations: dict[tuple[str, str], Conversation] = {}
        self._throughput = SlidingWindowLimit(config.rate_limit_per_second)
        self._pairs = TokenBucketLimit(config.pair_burst, config.pair_interval)
        self._arrivals: dict[str, deque[float]] = {}

    def admit(self, request: SendRequest) -> Admission:
        """Apply the limits and record the send, atomically, or raise the error Meta would answer."""
        config = self._config
        with self._lock:
            now = config.clock()
            if not self._throughput.allows(config.phone_number_id, now):
                raise errors.rate_limited(config.rate_limit_http_status)
            if not self._pairs.allows(request.wa_id, now):
                raise errors.pair_rate_limited()
            self._throughput.record(config.phone_number_id, now)
            self._pairs.record(request.wa_id, now)

            window_open = now - self._windows.get(request.wa_id, float("-inf")) < WINDOW_SECONDS
            failure: str | None = None
            if config.is_undeliverable(request.wa_id):
                failure = "undeliverable"
            elif not request.is_template and not window_open:
                failure = "window_closed"
            conversation = None if failure else self._conversation(request.wa_id, request.category, now)

            wamid = new_wamid(request.wa_id)
            self._sent[wamid] = SentRecord(wamid, request.to, request.wa_id, request.type, request.body, now)
            self._trim(self._sent)
            return Admission(wamid, now, window_open, conversation, failure)

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

    def add_inbound(self, wa_id: str, entry: dict[str, Any]) -> None:
        """Record a message from the contact and open (or reset) their 24-hour window."""
        with self._lock:
            self._windows[wa_id] = self._config.clock()
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
            sent = [r.as_json() for r in self._sent.values() if to is None or to in (r.to, r.wa_id)]
            inbound = [dict(e) for e in self._inbound if to is None or e.get("from") == to]
            return {"messages": sent, "inbound": inbound, "read_receipts": list(self._read_receipts)}

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._inbound.clear()
            self._read_receipts.clear()
            self._windows.clear()
            self._conversations.clear()
            self._throughput.clear()
            self._pairs.clear()
            self._arrivals.clear()


def busiest_second(ordered: list[float]) -> int:
    """The most times in any window [t, t + 1) of ``ordered`` (ascending): windows that start at
    a time suffice, since moving a window's start up to the next time only drops times."""
    return max((bisect_left(ordered, start + 1.0) - index for index, start in enumerate(ordered)), default=0)
