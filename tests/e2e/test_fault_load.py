"""Nothing lost, duplicated or sent twice, under Meta's worst traffic and injected faults.

The whole pipeline runs in the local runtime, over HTTP, from a copy of template.yaml whose queue
visibility timeouts (and the timeouts of the functions they feed) are seconds instead of minutes,
so that retries happen within the test. Everything else is the deployed code and configuration.
``FAULT_LOAD_SCALE=10 make test`` (or this file alone) runs a bigger corpus by hand.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from support.fault_load import (
    DeliveryStats,
    SendStats,
    StoredState,
    add_fault,
    build_corpus,
    chaos,
    clear_faults,
    deliver,
    drain,
    faults_fired,
    new_tags,
    payload_digest,
    queue_depth,
    redrive,
    send_direct,
    send_queued,
)
from support.local_runtime import RunningRuntime, local_runtime
from walocal.template import TEMPLATE_PATH, Template

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCALE = int(os.environ.get("FAULT_LOAD_SCALE", "1"))


def fast_template(directory: Path) -> Path:
    """template.yaml with retries measured in seconds: visibility timeouts, function timeouts,
    the sender's Graph read timeout and backoff."""
    body: Any = Template.load(TEMPLATE_PATH).body
    resources = body["Resources"]
    # Short enough to retry within the test. A POST of 1,000 statuses may need more than one
    # invocation on a busy machine: the processor's time budget stops it, and its retry goes on from
    # what the attempts before stored.
    resources["WebhookQueue"]["Properties"]["VisibilityTimeout"] = 20
    resources["ProcessorFunction"]["Properties"]["Timeout"] = 20
    resources["OutboundQueue"]["Properties"]["VisibilityTimeout"] = 15
    sender = resources["SenderFunction"]["Properties"]
    sender["Timeout"] = 12
    sender["Environment"]["Variables"] |= {
        "GRAPH_READ_TIMEOUT_SECONDS": "1",
        "SEND_BACKOFF_BASE_SECONDS": "0.1",
    }
    path = directory / "template-fast-retries.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def replay_dead_letters(runtime: RunningRuntime) -> int:
    dead = queue_depth(runtime, "WebhookDeadLetterQueue")
    if dead:
        subprocess.run(
            [sys.executable, "-m", "wactl", "dlq", "replay", "--local", "--endpoint-url", runtime.aws_url],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},
        )
    return dead


def test_stored_state_equals_what_was_sent_under_faults(tmp_path: Path) -> None:
    rng = random.Random(20261130 + SCALE)
    corpus = build_corpus(rng, SCALE)
    deliveries, sends = DeliveryStats(), SendStats()
    with local_runtime(tmp_path / "wa-local.log", template=fast_template(tmp_path)) as runtime:
        # Meta keeps retrying status webhooks the webhook refuses (for days; here, enough times).
        chaos(runtime, webhook_retries=60, webhook_retry_delay=0.5)

        # 1. Inbound, while the webhook's queue refuses a third of the sends for a while.
        add_fault(
            runtime, service="sqs", operation="SendMessage", function="WebhookFunction",
            effect="unavailable", probability=0.3, count=40 * SCALE,
        )  # fmt: skip
        deliver(runtime, corpus.inbound_posts, rng, deliveries)
        drain(runtime, ["WebhookQueue"])

        # 2. Sends, while the Graph API fails, answers too late, then rejects the token a while.
        chaos(runtime, error_probability=0.2, timeout_probability=0.05, hang_seconds=2.0)
        contacts = corpus.contacts
        direct, queued = new_tags(15 * SCALE, "direct"), new_tags(15 * SCALE, "queued")
        sender_thread = threading.Thread(
            target=send_direct, args=(runtime, direct, lambda: rng.choice(contacts), sends)
        )
        sender_thread.start()
        send_queued(runtime, queued, lambda: rng.choice(contacts), sends)
        time.sleep(2)
        chaos(runtime, expired_tokens=["local-access-token"])
        time.sleep(4)
        chaos(runtime, expired_tokens=[])
        sender_thread.join(timeout=300)
        drain(runtime, ["OutboundQueue"])
        chaos(runtime, error_probability=0, timeout_probability=0)
        # A queued send that kept failing while Meta refused the token waits in the dead-letter
        # queue (its receives run out in seconds here, in half an hour when deployed): the
        # operator's redrive sends it.
        redriven = redrive(runtime, "OutboundDeadLetterQueue", "OutboundQueue")
        drain(runtime, ["OutboundQueue"])

        # 3. Statuses and poison, while the table throttles and processor instances crash.
        add_fault(
            runtime, service="dynamodb", operation="BatchWriteItem", function="ProcessorFunction",
            effect="throttle", probability=0.3, count=60 * SCALE,
        )  # fmt: skip
        add_fault(
            runtime, service="dynamodb", operation="UpdateItem", function="ProcessorFunction",
            effect="crash", probability=0.02, count=3,
        )  # fmt: skip
        deliver(runtime, [*corpus.status_posts, *corpus.poison_posts], rng, deliveries)
        drain(runtime, ["WebhookQueue", "OutboundQueue"])
        injected = faults_fired(runtime)
        clear_faults(runtime)
        dead_lettered = replay_dead_letters(runtime)
        drain(runtime, ["WebhookQueue"])
        time.sleep(3)  # the simulator's last status webhooks
        drain(runtime, ["WebhookQueue"])

        state = StoredState.read(runtime)
        simulated = requests.get(f"{runtime.graph_url}/_simulator/messages", timeout=10).json()["messages"]
        left_dead = queue_depth(runtime, "WebhookDeadLetterQueue")
        failure_notes = runtime.wactl("dlq", "list").stdout if left_dead else ""
        left_unsent = queue_depth(runtime, "OutboundDeadLetterQueue")

    # Inbound: every message once, with its type; every status event once; each message at its latest.
    lost_inbound = set(corpus.inbound) - set(state.inbound)
    assert not lost_inbound
    assert {wamid: state.inbound[wamid] for wamid in corpus.inbound} == corpus.inbound
    load_statuses = {entry for entry in state.statuses if entry[0].startswith("wamid.load-out-")}
    # Nothing left dead-lettered after the replay (else what follows would only show its effects).
    assert left_dead == 0, failure_notes
    assert load_statuses == corpus.statuses
    expected_status = corpus.final_status()
    assert {wamid: state.current_status.get(wamid) for wamid in expected_status} == expected_status
    # Each kind of fault really happened (a run without them would prove nothing).
    assert {kind for kind, hits in injected.items() if hits} == {
        "sqs unavailable",
        "dynamodb throttle",
        "dynamodb crash",
    }, injected

    # Sends: every tag reached Meta exactly once, and is recorded with Meta's latest status.
    sent_tags = [str(message["body"].get("text", {}).get("body")) for message in simulated]
    duplicated_sends = {tag: n for tag, n in _counts(sent_tags).items() if n > 1}
    assert not duplicated_sends
    lost_sends = set(direct + queued) - set(sent_tags)
    assert not lost_sends, {tag: sends.answers.get(tag) for tag in lost_sends}
    assert left_unsent == 0
    for message in simulated:
        recorded = state.outbound.get(message["wamid"])
        delivered = [s for s in message["statuses"] if s.get("webhook_status") == 200]
        if recorded is None:  # outcome unknown: Meta took it, the sender never saw the answer
            assert sends.outcomes["Outcome unknown"] or sends.queued, message
            continue
        if delivered:
            latest = max(delivered, key=lambda s: (_rank(s["status"]), int(s["timestamp"])))
            assert state.current_status.get(message["wamid"]) == latest["status"], message

    # Poison: kept raw with the reason it was refused, once each.
    for body in corpus.poison_posts:
        archived = state.raw_payloads.get(payload_digest(body))
        assert archived is not None, body
        assert archived.get("rejected"), archived

    print(
        f"\nfault and load run (scale {SCALE}): sent {deliveries.posts} webhooks "
        f"({deliveries.attempts} attempts, refused {dict(deliveries.refused)}), "
        f"duplicated {deliveries.duplicated}, faults injected {sum(injected.values())} "
        f"({dict(injected)}, + Graph API chaos), "
        f"stored {len(state.inbound)} messages and {state.status_items} statuses, "
        f"dead-lettered {dead_lettered}, replayed {dead_lettered}, lost = {len(lost_inbound)}; "
        f"sends {sends.direct} direct + {sends.queued} queued ({sends.repeats} repeats, "
        f"{dict(sends.outcomes)}, {redriven} redriven), duplicated sends = {len(duplicated_sends)}"
    )


def _counts(values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _rank(status: str) -> int:
    return {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}.get(status, -1)
