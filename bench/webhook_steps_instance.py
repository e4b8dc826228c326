"""The webhook's CPU step by step, in one process of the template's runtime (``python -S``) with
only the built artifacts, the runtime's own packages and the floors on its path, as
:mod:`bench.webhook_steps` runs it.

The steps of a few microseconds are timed alone (the median of 7 loops). The rest is timed in
blocks taken in a random order each round: the webhook as built, its core (the event read, the
signature check and the queueing, without logging or metrics), the SQS call with and without the
message attributes, and the floor. The result goes to the file
``BENCH_RESULT`` names (stdout is the functions' log).
"""

import hashlib
import hmac
import json
import os
import random
import statistics
import time
from typing import Any

import app  # type: ignore[import-not-found]  # the webhook's module, from its artifacts
import webhook as floor  # type: ignore[import-not-found]  # bench/floors/webhook.py
from webhook_instance import Context, _block  # type: ignore[import-not-found]  # beside this script

from wacloud.core.metrics import metrics
from wacloud.core.observability import logger
from wacloud.meta.signature import SIGNATURE_HEADER
from wacloud.webhook.envelope import QueuedWebhook
from wacloud.webhook.request import HttpRequest

LOOPS, STEP_CALLS = 7, 2000


def _alone(step: object, calls: int = STEP_CALLS) -> float:
    """CPU microseconds per call, the median of a few loops."""
    loops = []
    for _ in range(LOOPS):
        started = time.process_time()
        for _ in range(calls):
            step()  # type: ignore[operator]
        loops.append((time.process_time() - started) / calls)
    return 1e6 * statistics.median(loops)


def _core(event: object, context: object) -> None:
    request = HttpRequest.from_event(event)
    if app.intake.is_authentic(request.body, request.headers.get(SIGNATURE_HEADER)):
        app.intake.enqueue(request.body, request.request_id, request.received_at_ms, request.text)


def main() -> None:
    blocks, calls = int(os.environ["BENCH_BLOCKS"]), int(os.environ["BENCH_CALLS"])
    with open(os.environ["BENCH_EVENTS"], encoding="utf-8") as source:
        [[_, event]] = json.load(source)
    context = Context()
    request = HttpRequest.from_event(event)
    signature = request.headers[SIGNATURE_HEADER]
    secret = floor.secret
    message = QueuedWebhook(request.text or "", "inline", request.received_at_ms, request.request_id)
    queue_url, sqs = app.intake._queue_url, app.intake._sqs

    def nothing(event: object, context: object) -> None:
        return None

    injected: Any = logger.inject_lambda_context(clear_state=True)(nothing)

    def metrics_of_a_request() -> None:
        metrics.count("WebhooksReceived")
        metrics.flush()

    steps = {
        "reading the HTTP API event": lambda: HttpRequest.from_event(event),
        "signature check through the secret cache": lambda: app.intake.is_authentic(request.body, signature),
        "the floor's HMAC check": lambda: hmac.compare_digest(
            "sha256=" + hmac.new(secret, request.body, hashlib.sha256).hexdigest(), signature
        ),
        "Powertools' context injection": lambda: injected(event, context),
        "the invocation's metrics (count, flush)": metrics_of_a_request,
    }
    alone = {name: _alone(step) for name, step in steps.items()}
    handlers = [
        ("webhook", app.handler),
        ("its core", _core),
        (
            "SendMessage with the three attributes",
            lambda event, context: sqs.send_message(
                QueueUrl=queue_url, MessageBody=message.body, MessageAttributes=message.sqs_attributes()
            ),
        ),
        (
            "SendMessage of the body alone",
            lambda event, context: sqs.send_message(QueueUrl=queue_url, MessageBody=message.body),
        ),
        ("floor", floor.handler),
    ]
    for _, handler in handlers:
        _block(handler, event, calls)  # warm
    times: dict[str, list[float]] = {name: [] for name, _ in handlers}
    for _ in range(blocks):
        random.shuffle(handlers)
        for name, handler in handlers:
            times[name].append(_block(handler, event, calls))
    whole = {name: 1e6 * statistics.median(found) for name, found in times.items()}
    with open(os.environ["BENCH_RESULT"], "w", encoding="utf-8") as result:
        json.dump({"alone": alone, "whole": whole}, result)


main()
