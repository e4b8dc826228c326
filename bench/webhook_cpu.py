"""Warm webhook CPU per signed POST, against its floor: the HMAC check and SQS SendMessage of the
same body (bench/floors/webhook.py).

Both run warm in this process with real boto3 clients whose calls go to a stand-in AWS in another
process, so the process clock counts what the function itself spends: event parsing, the
signature check, building and signing the SQS request, reading the answer, logging.
"""

from __future__ import annotations

import functools

from bench.figures import Figure, cpu_seconds_per_call, figure
from bench.harness import (
    api_event,
    function_environment,
    load,
    load_floor,
    log_sink,
    padded,
    saved_environment,
    webhook_body,
)
from bench.standin import aws_environment, stand_in

SIZES = ((1024, "1 KB"), (100 * 1024, "100 KB"))
GOAL = 1.1
# Warm calls per block.
BLOCK = 50


def measure(blocks: int) -> dict[str, tuple[float, float]]:
    """CPU ms per request of the webhook and of its floor, by body size."""
    found = {}
    with saved_environment(), log_sink(), stand_in() as endpoint:
        environment = function_environment("WebhookFunction", **aws_environment(endpoint))
        webhook = load("WebhookFunction", environment)
        floor = load_floor("webhook", environment)
        for size, label in SIZES:
            event = api_event(padded(webhook_body("message_text"), size))
            assert webhook(event)["statusCode"] == 200
            assert floor(event)["statusCode"] == 200
            # Short blocks in strict turns, each side's fastest kept (as timeit advises): a busy
            # moment of the shared cores then weighs on neither side's figure.
            own, least = [], []
            for _ in range(blocks):
                own.append(cpu_seconds_per_call(functools.partial(webhook, event), BLOCK, blocks=1))
                least.append(cpu_seconds_per_call(functools.partial(floor, event), BLOCK, blocks=1))
            found[label] = (1000 * min(own), 1000 * min(least))
    return found


def figures(*, quick: bool = False) -> list[Figure]:
    return [
        figure(f"webhook warm CPU per {label} request", "ms", value, floor, check="ratio<=", target=GOAL)
        for label, (value, floor) in measure(blocks=2 if quick else 40).items()
    ]


def assumptions() -> list[str]:
    return [
        "webhook CPU: process CPU time per warm invocation on this machine (one vCPU), AWS answering "
        "from a stand-in in another process, the fastest of 40 blocks of 50 calls taken in turns with "
        "the floor's; floor: HMAC check + SQS SendMessage of the same body"
    ]
