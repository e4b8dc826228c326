"""The webhook function's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wacloud.core.settings.reading import number, required


@dataclass(frozen=True)
class WebhookSettings:
    queue_url: str
    payload_bucket: str
    secret_arn: str
    secret_max_age_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookSettings:
        return cls(
            queue_url=required(env, "WEBHOOK_QUEUE_URL"),
            payload_bucket=required(env, "PAYLOAD_BUCKET"),
            secret_arn=required(env, "WEBHOOK_SECRET_ARN"),
            secret_max_age_seconds=number(env, "SECRET_MAX_AGE_SECONDS", 300.0, 0.0),
        )
