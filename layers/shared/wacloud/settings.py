"""Each function's configuration, read from its environment once at cold start and validated.

Plain dataclasses rather than pydantic: the webhook function imports this on its cold path,
which must stay lean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wacloud.errors import ConfigurationError

DEFAULT_OPT_OUT_KEYWORDS = ("STOP", "UNSUBSCRIBE")
DEFAULT_OPT_IN_KEYWORDS = ("START",)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is required")
    return value


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"environment variable {name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigurationError(f"environment variable {name} must be at least {minimum}, got {raw!r}")
    return value


def _words(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(word.strip().upper() for word in raw.split(",") if word.strip())


@dataclass(frozen=True)
class WebhookSettings:
    queue_url: str
    payload_bucket: str
    secret_arn: str
    secret_max_age_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookSettings:
        return cls(
            queue_url=_required(env, "WEBHOOK_QUEUE_URL"),
            payload_bucket=_required(env, "PAYLOAD_BUCKET"),
            secret_arn=_required(env, "SECRET_ARN"),
            secret_max_age_seconds=_number(env, "SECRET_MAX_AGE_SECONDS", 300.0, 0.0),
        )


@dataclass(frozen=True)
class ProcessorSettings:
    table_name: str
    payload_bucket: str
    raw_payload_retention_days: int
    opt_out_keywords: tuple[str, ...]
    opt_in_keywords: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProcessorSettings:
        return cls(
            table_name=_required(env, "TABLE_NAME"),
            payload_bucket=_required(env, "PAYLOAD_BUCKET"),
            raw_payload_retention_days=int(_number(env, "RAW_PAYLOAD_RETENTION_DAYS", 30, 1)),
            opt_out_keywords=_words(env, "OPT_OUT_KEYWORDS", DEFAULT_OPT_OUT_KEYWORDS),
            opt_in_keywords=_words(env, "OPT_IN_KEYWORDS", DEFAULT_OPT_IN_KEYWORDS),
        )


@dataclass(frozen=True)
class SenderSettings:
    table_name: str
    secret_arn: str
    secret_max_age_seconds: float
    graph_api_url: str
    graph_api_version: str
    phone_number_id: str
    connect_timeout_seconds: float
    read_timeout_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SenderSettings:
        return cls(
            table_name=_required(env, "TABLE_NAME"),
            secret_arn=_required(env, "SECRET_ARN"),
            secret_max_age_seconds=_number(env, "SECRET_MAX_AGE_SECONDS", 300.0, 0.0),
            graph_api_url=_required(env, "GRAPH_API_URL").rstrip("/"),
            graph_api_version=_required(env, "GRAPH_API_VERSION"),
            phone_number_id=_required(env, "WHATSAPP_PHONE_NUMBER_ID"),
            connect_timeout_seconds=_number(env, "GRAPH_CONNECT_TIMEOUT_SECONDS", 3.05, 0.1),
            read_timeout_seconds=_number(env, "GRAPH_READ_TIMEOUT_SECONDS", 10.0, 0.1),
        )
