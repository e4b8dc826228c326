"""Warm webhook handler latency against its floor: the signature check alone on the same body.

The handler runs with in-memory AWS clients that answer at once, so the ratio shows what the
handler adds over the unavoidable work (HMAC of the raw body); network time to SQS is not in it.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from wacloud.meta.signature import is_valid_signature, sign

ROOT = Path(__file__).resolve().parents[1]
SECRET = {"app_secret": "bench-secret", "verify_token": "bench", "access_token": "bench"}


class _Instant:
    """Stands in for the boto3 clients: answers immediately, records nothing."""

    def get_secret_value(self, **_: Any) -> dict[str, str]:
        return {"SecretString": json.dumps(SECRET)}

    def send_message(self, **_: Any) -> dict[str, str]:
        return {"MessageId": "bench"}


def _event(body: bytes) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events/apigw/webhook_post_message_text.json").read_text())
    event["body"] = body.decode()
    event["headers"]["x-hub-signature-256"] = sign(body, SECRET["app_secret"])
    return event


def _median_us(action: Any, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        action()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1000


def run(rounds: int = 2000) -> str:
    os.environ.update(
        WEBHOOK_QUEUE_URL="q",
        PAYLOAD_BUCKET="b",
        WEBHOOK_SECRET_ARN="s",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    from wacloud.core.credentials import CredentialsCache, WebhookCredentials  # noqa: PLC0415 (after the environment is set)
    from wacloud.webhook.intake import WebhookIntake  # noqa: PLC0415
    from walocal.functions import LambdaContext, load_module  # noqa: PLC0415
    from walocal.template import Template  # noqa: PLC0415

    module = load_module(Template.load().functions()["WebhookFunction"])
    fake: Any = _Instant()
    # Same handler code, clients that answer at once: what remains is the handler's own cost.
    credentials = CredentialsCache(fake, "s", WebhookCredentials.from_secret_string)
    module.intake = WebhookIntake(credentials, fake, lambda: fake, "q", "b")  # type: ignore[attr-defined]
    context = LambdaContext("WebhookFunction", 512, 10, "bench")
    lines = [
        f"webhook warm latency: handler vs signature check alone (median of {rounds})",
        f"  {'payload':<12} {'handler us':>11} {'floor us':>9} {'x floor':>8}",
    ]
    for label, path in (("text 1 KB", "message_text.json"), ("batch", "batch_mixed.json")):
        body = json.dumps(json.loads((ROOT / "events/webhooks" / path).read_text())).encode()
        event = _event(body)
        header = event["headers"]["x-hub-signature-256"]
        assert module.handler(event, context)["statusCode"] == 200
        handler = _median_us(lambda event=event: module.handler(event, context), rounds)
        floor = _median_us(
            lambda body=body, header=header: is_valid_signature(body, header, "bench-secret"), rounds
        )
        lines.append(f"  {label:<12} {handler:>11.1f} {floor:>9.1f} {handler / floor:>8.1f}")
    return "\n".join(lines)
