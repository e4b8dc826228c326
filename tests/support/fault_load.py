"""A fault and load run of the whole pipeline through the local runtime over HTTP.

Meta at its worst, with the stack failing under it:

1. **Inbound.** Signed webhooks of every message type from ``events/webhooks/``, from many
   contacts, single and batched; a fifth of the POSTs delivered twice; each POST retried, as Meta
   does, until it is answered 200.
2. **Sends.** Text messages to those contacts, half invoked directly with an idempotency key (the
   caller repeats a retryable failure with the same key), half through the outbound queue, while
   the Graph API fails, answers after the sender gave up waiting, and rejects the token (190).
3. **Statuses.** Status webhooks for outbound messages, one POST of 1,000 updates and many small
   ones, shuffled and duplicated, plus poison bodies (not JSON, not a webhook), while the
   webhook's queue refuses messages and the processor's table throttles and its instances crash
   mid-batch.

Then the queues drain, the dead-letter queue is replayed, and the stored state is compared with
what was sent: every message and status stored once, each message at its latest status, every
send made exactly once.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from support.aws import all_items
from support.local_runtime import RunningRuntime
from wacloud.meta.signature import sign
from walocal.events import event_path
from walocal.runtime import LOCAL_APP_SECRET

TABLE = "whatsapp-cloud-MessagesTable"
RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


# ------------------------------------------------------------------------------ the corpus


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event_path(f"webhooks/{name}").read_text(encoding="utf-8"))
    return data


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }


def _metadata() -> dict[str, Any]:
    return {"display_phone_number": "15550001234", "phone_number_id": "123456789012345"}


@dataclass
class Corpus:
    contacts: list[str]
    inbound_posts: list[bytes] = field(default_factory=list)
    status_posts: list[bytes] = field(default_factory=list)
    poison_posts: list[bytes] = field(default_factory=list)
    inbound: dict[str, str] = field(default_factory=dict)
    """Inbound wamid -> message type."""
    statuses: set[tuple[str, str, int]] = field(default_factory=set)
    """(wamid, status, timestamp) of every status sent."""

    def final_status(self) -> dict[str, str]:
        """Each outbound message's current status: the highest rank, then the latest."""
        best: dict[str, tuple[int, int, str]] = {}
        for wamid, status, timestamp in self.statuses:
            candidate = (RANK[status], timestamp, status)
            if wamid not in best or candidate > best[wamid]:
                best[wamid] = candidate
        return {wamid: value[2] for wamid, value in best.items()}


def build_corpus(rng: random.Random, scale: int = 1) -> Corpus:
    # Within the last hours: the contacts' messages open their 24-hour windows for the sends.
    base_time = int(time.time()) - 4 * 3600
    contacts = [f"1650555{n:04d}" for n in range(20 * scale)]
    corpus = Corpus(contacts)
    templates = [
        _fixture(path.name)["entry"][0]["changes"][0]["value"]
        for path in sorted(event_path("webhooks").glob("message_*.json"))
    ]
    counter = itertools.count()
    messages: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for _ in range(4 * scale):
        for template in templates:
            for message in template["messages"]:
                n = next(counter)
                wa_id = rng.choice(contacts)
                copied = copy.deepcopy(message)
                copied["id"] = f"wamid.load-in-{n}"
                copied["timestamp"] = str(base_time + n)
                if "from" in copied:
                    copied["from"] = wa_id
                contact = {"profile": {"name": f"Contact {wa_id[-4:]}"}, "wa_id": wa_id}
                messages.append((copied, contact))
                corpus.inbound[copied["id"]] = copied["type"]
    # The contacts' first messages open their 24-hour window: every contact writes once more as text.
    for wa_id in contacts:
        n = next(counter)
        text: dict[str, Any] = {"from": wa_id, "id": f"wamid.load-in-{n}", "timestamp": str(base_time + n)}
        text |= {"type": "text", "text": {"body": "hello"}}
        messages.append((text, {"profile": {"name": f"Contact {wa_id[-4:]}"}, "wa_id": wa_id}))
        corpus.inbound[text["id"]] = "text"
    rng.shuffle(messages)
    for batch in _batches(messages, rng, largest=20):
        value = {
            "messaging_product": "whatsapp",
            "metadata": _metadata(),
            "contacts": [contact for _, contact in batch],
            "messages": [message for message, _ in batch],
        }
        corpus.inbound_posts.append(json.dumps(_envelope(value)).encode())

    statuses: list[dict[str, Any]] = []
    for n in range(400 * scale):
        wamid, recipient = f"wamid.load-out-{n}", rng.choice(contacts)
        start = base_time + 10_000 + n
        steps = [("sent", start)]
        if rng.random() < 0.1:
            steps.append(("failed", start + 1))
        else:
            steps += [("delivered", start + 1)] + ([("read", start + 2)] if rng.random() < 0.7 else [])
        for status, timestamp in steps:
            item: dict[str, Any] = {
                "id": wamid,
                "status": status,
                "timestamp": str(timestamp),
                "recipient_id": recipient,
            }
            if status == "failed":
                item["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
            statuses.append(item)
            corpus.statuses.add((wamid, status, timestamp))
    rng.shuffle(statuses)
    big, rest = statuses[:1000], statuses[1000:]
    status_batches = [big, *_batches(rest, rng, largest=50)]
    for batch in status_batches:
        value = {"messaging_product": "whatsapp", "metadata": _metadata(), "statuses": batch}
        corpus.status_posts.append(json.dumps(_envelope(value)).encode())
    corpus.poison_posts = [
        b"this is not JSON",
        b'["a", "JSON", "array"]',
        b'{"object": "page", "entry": "not a list"}',
    ]
    return corpus


def _batches(items: Sequence[Any], rng: random.Random, largest: int) -> Iterator[list[Any]]:
    index = 0
    while index < len(items):
        size = 1 if rng.random() < 0.5 else rng.randint(2, largest)
        yield list(items[index : index + size])
        index += size


# ------------------------------------------------------------------------------ Meta's deliveries


@dataclass
class DeliveryStats:
    posts: int = 0
    duplicated: int = 0
    attempts: int = 0
    refused: Counter[int] = field(default_factory=Counter)


def deliver(
    runtime: RunningRuntime, bodies: Sequence[bytes], rng: random.Random, stats: DeliveryStats
) -> None:
    """POST each body (a fifth twice, in shuffled order), each until answered 200, as Meta does."""
    deliveries = list(bodies)
    duplicates = [body for body in bodies if rng.random() < 0.2]
    deliveries += duplicates
    rng.shuffle(deliveries)
    stats.posts += len(bodies)
    stats.duplicated += len(duplicates)

    def post(body: bytes) -> None:
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(body, LOCAL_APP_SECRET)}
        for attempt in range(40):
            stats.attempts += 1
            try:
                status = requests.post(
                    runtime.webhook_url, data=body, headers=headers, timeout=30
                ).status_code
            except requests.RequestException:
                status = 0
            if status == 200:
                return
            stats.refused[status] += 1
            time.sleep(min(2.0, 0.1 * 2**attempt))
        raise AssertionError(f"a webhook was never accepted: {body[:80]!r}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(post, deliveries))


# ------------------------------------------------------------------------------ sends


# Long enough for a few of the sender's 30 s rechecks of a refused token, under load.
DIRECT_SEND_PATIENCE_SECONDS = 150.0


@dataclass
class SendStats:
    direct: int = 0
    queued: int = 0
    repeats: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    answers: dict[str, list[Any]] = field(default_factory=dict)
    """Each direct tag's answers, in order: what the sender said about it."""


def send_direct(
    runtime: RunningRuntime, tags: Iterable[str], to: Callable[[], str], stats: SendStats
) -> None:
    """Each tag sent once with its idempotency key; a retryable failure is asked again, same key,
    after the wait the answer asks for (30 s after Meta refused the token: the sender's recheck)."""

    def one(tag: str) -> None:
        request = {"to": to(), "type": "text", "text": {"body": tag}, "idempotency_key": tag}
        stats.direct += 1
        answers = stats.answers.setdefault(tag, [])
        give_up = time.monotonic() + DIRECT_SEND_PATIENCE_SECONDS
        while time.monotonic() < give_up:
            response = runtime.invoke(request)
            response.raise_for_status()
            answer = response.json()
            answers.append(answer)
            [result] = answer["results"]
            error = result.get("error") or {}
            if result["status"] != "failed":
                stats.outcomes["accepted"] += 1
                return
            if not error.get("retryable"):
                stats.outcomes[str(error.get("title"))] += 1
                return
            stats.repeats += 1
            time.sleep(max(0.5, float(error.get("retry_after_seconds") or 0)))
        stats.outcomes["gave up"] += 1

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, tags))


def send_queued(
    runtime: RunningRuntime, tags: Iterable[str], to: Callable[[], str], stats: SendStats
) -> None:
    sqs = runtime.client("sqs")
    url = sqs.get_queue_url(QueueName="whatsapp-cloud-OutboundQueue")["QueueUrl"]
    for tag in tags:
        stats.queued += 1
        body = {"to": to(), "type": "text", "text": {"body": tag}}
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


# ------------------------------------------------------------------------------ faults and drains


def add_fault(runtime: RunningRuntime, **rule: Any) -> None:
    requests.post(f"{runtime.aws_url}/_walocal/faults", json=rule, timeout=5).raise_for_status()


def faults_fired(runtime: RunningRuntime) -> Counter[str]:
    """How often each kind of fault fired, e.g. ``{"dynamodb throttle": 40}``."""
    fired: Counter[str] = Counter()
    for rule in requests.get(f"{runtime.aws_url}/_walocal/faults", timeout=5).json():
        fired[f"{rule['service']} {rule['effect']}"] += int(rule["hits"])
    return fired


def clear_faults(runtime: RunningRuntime) -> None:
    requests.delete(f"{runtime.aws_url}/_walocal/faults", timeout=5).raise_for_status()


def chaos(runtime: RunningRuntime, **changes: Any) -> None:
    requests.put(f"{runtime.graph_url}/_simulator/chaos", json=changes, timeout=5).raise_for_status()


def queue_depth(runtime: RunningRuntime, queue: str) -> int:
    sqs = runtime.client("sqs")
    url = sqs.get_queue_url(QueueName=f"whatsapp-cloud-{queue}")["QueueUrl"]
    names: Any = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def drain(runtime: RunningRuntime, queues: Sequence[str], timeout: float = 240) -> None:
    """Wait until the queues are empty three checks in a row (a retry may be about to reappear)."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 3:
        if time.monotonic() > deadline:
            depths = {queue: queue_depth(runtime, queue) for queue in queues}
            raise AssertionError(f"queues not drained within {timeout} s: {depths}")
        quiet = quiet + 1 if all(queue_depth(runtime, queue) == 0 for queue in queues) else 0
        time.sleep(1.0)


def redrive(runtime: RunningRuntime, dead_letters: str, queue: str) -> int:
    """Move every message of a dead-letter queue back to its queue, as an operator's redrive does
    (SQS's own redrive gives each a new message id, as this does); how many moved."""
    sqs = runtime.client("sqs")
    source = sqs.get_queue_url(QueueName=f"whatsapp-cloud-{dead_letters}")["QueueUrl"]
    target = sqs.get_queue_url(QueueName=f"whatsapp-cloud-{queue}")["QueueUrl"]
    moved = 0
    while messages := sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


# ------------------------------------------------------------------------------ the stored state


@dataclass
class StoredState:
    inbound: dict[str, str]
    statuses: set[tuple[str, str, int]]
    status_items: int
    current_status: dict[str, str]
    outbound: dict[str, dict[str, Any]]
    raw_payloads: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, runtime: RunningRuntime) -> StoredState:
        inbound: dict[str, str] = {}
        statuses: set[tuple[str, str, int]] = set()
        status_items = 0
        current: dict[str, str] = {}
        outbound: dict[str, dict[str, Any]] = {}
        raw: dict[str, dict[str, Any]] = {}
        for item in all_items(runtime.table()):
            pk, sk = str(item["pk"]), str(item["sk"])
            if pk.startswith("CONTACT#") and sk.startswith("MSG#"):
                inbound[sk.rpartition("#")[2]] = str(item["type"])
            elif pk.startswith("MSG#") and sk == "MESSAGE":
                if item.get("direction") == "outbound":
                    outbound[pk[4:]] = item
                if "status" in item:
                    current[pk[4:]] = str(item["status"])
            elif pk.startswith("MSG#") and sk.startswith("STATUS#"):
                status_items += 1
                statuses.add((pk[4:], str(item["status"]), int(item["timestamp"])))
            elif pk.startswith("RAW#") and sk == "RAW":
                raw[str(item["sha256"])] = item
        return cls(inbound, statuses, status_items, current, outbound, raw)


def payload_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def new_tags(count: int, prefix: str) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"{prefix}-{run}-{n}" for n in range(count)]
