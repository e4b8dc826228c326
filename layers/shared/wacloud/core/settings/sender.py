"""The sender function's settings, and its daily reminder's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wacloud.core.errors import ConfigurationError
from wacloud.core.settings.reading import choice, flag, number, phone_numbers, required, whole_number

REMINDER_CATEGORIES = ("UTILITY", "MARKETING")


def _timezone(env: Mapping[str, str], name: str) -> tzinfo:
    key = env.get(name, "").strip() or "UTC"
    if key == "UTC":
        return UTC  # needs no time zone database, which a minimal runtime image may lack
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ConfigurationError(
            f"environment variable {name} must be an IANA time zone such as Europe/Madrid, got {key!r} "
            "(or the time zone database is missing: ship the tzdata package)"
        ) from exc


@dataclass(frozen=True)
class ReminderSettings:
    """The daily reminder: which template, the day it belongs to, and who may get it."""

    template_name: str
    template_language: str
    timezone: tzinfo
    name_parameter: bool
    """The template's body takes one text parameter: the contact's profile name."""
    name_fallback: str
    """The parameter's value for a contact without a profile name."""
    category: str
    """UTILITY or MARKETING (Meta's category of the template); MARKETING skips contacts who
    stopped marketing messages (131050)."""

    @property
    def marketing(self) -> bool:
        return self.category == "MARKETING"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReminderSettings:
        name_parameter = flag(env, "REMINDER_NAME_PARAMETER", True)
        fallback = env.get("REMINDER_NAME_FALLBACK", "").strip()
        if name_parameter and not fallback:
            raise ConfigurationError("environment variable REMINDER_NAME_FALLBACK is required")
        return cls(
            template_name=required(env, "REMINDER_TEMPLATE_NAME"),
            template_language=required(env, "REMINDER_TEMPLATE_LANGUAGE"),
            timezone=_timezone(env, "REMINDER_TIMEZONE"),
            name_parameter=name_parameter,
            name_fallback=fallback,
            category=choice(env, "REMINDER_TEMPLATE_CATEGORY", "UTILITY", REMINDER_CATEGORIES),
        )


@dataclass(frozen=True)
class SenderSettings:
    table_name: str
    secret_arn: str
    secret_max_age_seconds: float
    graph_api_url: str
    graph_api_version: str
    phone_number_id: str
    """The default business number: it sends what names no number, to a contact who never wrote."""
    connect_timeout_seconds: float
    read_timeout_seconds: float
    outbound_queue_url: str
    send_rate_per_second: int
    """The phone number's pace, shared by every sender instance: a little under Meta's limit for it
    (80/s by default), which counts requests as they arrive."""
    send_concurrency: int
    """Records of one queue batch sent at once: an instance overlaps its waits on Meta."""
    send_max_attempts: int
    send_backoff_base_seconds: float
    reminders: ReminderSettings
    media_bucket: str
    """The payload bucket: media sent by ``s3_uri`` are read from it."""
    waba_id: str | None = None
    """The WhatsApp Business Account whose message templates make the catalog (``WHATSAPP_WABA_ID``)."""
    phone_number_ids: tuple[str, ...] = ()
    """Every business number the stack sends from, the default first (``WHATSAPP_PHONE_NUMBER_IDS``)."""

    def __post_init__(self) -> None:
        if not self.phone_number_ids:
            object.__setattr__(self, "phone_number_ids", (self.phone_number_id,))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SenderSettings:
        default_number = required(env, "WHATSAPP_PHONE_NUMBER_ID")
        return cls(
            table_name=required(env, "TABLE_NAME"),
            secret_arn=required(env, "ACCESS_TOKEN_SECRET_ARN"),
            secret_max_age_seconds=number(env, "SECRET_MAX_AGE_SECONDS", 300.0, 0.0),
            graph_api_url=required(env, "GRAPH_API_URL").rstrip("/"),
            graph_api_version=required(env, "GRAPH_API_VERSION"),
            phone_number_id=default_number,
            connect_timeout_seconds=number(env, "GRAPH_CONNECT_TIMEOUT_SECONDS", 3.05, 0.1),
            read_timeout_seconds=number(env, "GRAPH_READ_TIMEOUT_SECONDS", 10.0, 0.1),
            outbound_queue_url=required(env, "OUTBOUND_QUEUE_URL"),
            send_rate_per_second=whole_number(env, "SEND_RATE_PER_SECOND", 78, 1),
            send_concurrency=whole_number(env, "SEND_CONCURRENCY", 10, 1),
            send_max_attempts=int(number(env, "SEND_MAX_ATTEMPTS", 6, 1)),
            send_backoff_base_seconds=number(env, "SEND_BACKOFF_BASE_SECONDS", 0.5, 0.0),
            reminders=ReminderSettings.from_env(env),
            media_bucket=required(env, "MEDIA_BUCKET"),
            waba_id=(env.get("WHATSAPP_WABA_ID") or "").strip() or None,
            phone_number_ids=phone_numbers(env, default_number),
        )
