"""Each function's configuration, read from its environment once at cold start and validated.

Plain dataclasses rather than pydantic: the webhook function imports this on its cold path,
which must stay lean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wacloud.core.errors import ConfigurationError

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


def _whole_number(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    value = _number(env, name, default, minimum)
    if value != int(value):
        raise ConfigurationError(f"environment variable {name} must be a whole number, got {value}")
    return int(value)


def _words(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(word.strip().upper() for word in raw.split(",") if word.strip())


def phone_numbers(env: Mapping[str, str], default_number: str) -> tuple[str, ...]:
    """The business numbers of ``WHATSAPP_PHONE_NUMBER_IDS`` (comma-separated), the default first.

    The default (``WHATSAPP_PHONE_NUMBER_ID``) is served whether or not the list names it.
    """
    listed = [number.strip() for number in env.get("WHATSAPP_PHONE_NUMBER_IDS", "").split(",")]
    numbers = [default_number]
    for number in listed:
        if not number:
            continue
        if not number.isdigit() or not number.isascii():
            raise ConfigurationError(
                "environment variable WHATSAPP_PHONE_NUMBER_IDS must list numeric phone number ids, "
                f"got {number!r}"
            )
        if number not in numbers:
            numbers.append(number)
    return tuple(numbers)


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
            secret_arn=_required(env, "WEBHOOK_SECRET_ARN"),
            secret_max_age_seconds=_number(env, "SECRET_MAX_AGE_SECONDS", 300.0, 0.0),
        )


@dataclass(frozen=True)
class ProcessorSettings:
    table_name: str
    payload_bucket: str
    raw_payload_retention_days: int
    opt_out_keywords: tuple[str, ...]
    opt_in_keywords: tuple[str, ...]
    write_concurrency: int = 8
    """Writes of one payload in flight at once (threads, and connections of the clients' pools)."""
    raw_archive: str = "exceptions"
    """Which payloads are archived as received: ``all``, or only the ``exceptions`` (those whose
    typed items do not hold everything, or that are worth noting: see docs/data-model.md)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProcessorSettings:
        return cls(
            table_name=_required(env, "TABLE_NAME"),
            payload_bucket=_required(env, "PAYLOAD_BUCKET"),
            raw_payload_retention_days=int(_number(env, "RAW_PAYLOAD_RETENTION_DAYS", 30, 1)),
            opt_out_keywords=_words(env, "OPT_OUT_KEYWORDS", DEFAULT_OPT_OUT_KEYWORDS),
            opt_in_keywords=_words(env, "OPT_IN_KEYWORDS", DEFAULT_OPT_IN_KEYWORDS),
            write_concurrency=_whole_number(env, "WRITE_CONCURRENCY", 8, 1),
            raw_archive=_choice(env, "RAW_ARCHIVE", "EXCEPTIONS", RAW_ARCHIVE_MODES).lower(),
        )


REMINDER_CATEGORIES = ("UTILITY", "MARKETING")
RAW_ARCHIVE_MODES = ("EXCEPTIONS", "ALL")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().upper() or default
    if value not in allowed:
        raise ConfigurationError(
            f"environment variable {name} must be one of {', '.join(allowed)}, got {value!r}"
        )
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"environment variable {name} must be true or false, got {raw!r}")
    return raw == "true"


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
        name_parameter = _flag(env, "REMINDER_NAME_PARAMETER", True)
        fallback = env.get("REMINDER_NAME_FALLBACK", "").strip()
        if name_parameter and not fallback:
            raise ConfigurationError("environment variable REMINDER_NAME_FALLBACK is required")
        return cls(
            template_name=_required(env, "REMINDER_TEMPLATE_NAME"),
            template_language=_required(env, "REMINDER_TEMPLATE_LANGUAGE"),
            timezone=_timezone(env, "REMINDER_TIMEZONE"),
            name_parameter=name_parameter,
            name_fallback=fallback,
            category=_choice(env, "REMINDER_TEMPLATE_CATEGORY", "UTILITY", REMINDER_CATEGORIES),
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
        default_number = _required(env, "WHATSAPP_PHONE_NUMBER_ID")
        return cls(
            table_name=_required(env, "TABLE_NAME"),
            secret_arn=_required(env, "ACCESS_TOKEN_SECRET_ARN"),
            secret_max_age_seconds=_number(env, "SECRET_MAX_AGE_SECONDS", 300.0, 0.0),
            graph_api_url=_required(env, "GRAPH_API_URL").rstrip("/"),
            graph_api_version=_required(env, "GRAPH_API_VERSION"),
            phone_number_id=default_number,
            connect_timeout_seconds=_number(env, "GRAPH_CONNECT_TIMEOUT_SECONDS", 3.05, 0.1),
            read_timeout_seconds=_number(env, "GRAPH_READ_TIMEOUT_SECONDS", 10.0, 0.1),
            outbound_queue_url=_required(env, "OUTBOUND_QUEUE_URL"),
            send_rate_per_second=_whole_number(env, "SEND_RATE_PER_SECOND", 78, 1),
            send_concurrency=_whole_number(env, "SEND_CONCURRENCY", 10, 1),
            send_max_attempts=int(_number(env, "SEND_MAX_ATTEMPTS", 6, 1)),
            send_backoff_base_seconds=_number(env, "SEND_BACKOFF_BASE_SECONDS", 0.5, 0.0),
            reminders=ReminderSettings.from_env(env),
            media_bucket=_required(env, "MEDIA_BUCKET"),
            waba_id=(env.get("WHATSAPP_WABA_ID") or "").strip() or None,
            phone_number_ids=phone_numbers(env, default_number),
        )


@dataclass(frozen=True)
class PublisherSettings:
    """The events publisher: the bus it publishes the table's changes on."""

    event_bus_name: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublisherSettings:
        return cls(event_bus_name=_required(env, "EVENT_BUS_NAME"))


@dataclass(frozen=True)
class ReplyBotSettings:
    """The example reply bot: where it puts its answers, and the words it leaves to the processor."""

    event_bus_name: str
    send_request_source: str
    quiet_words: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReplyBotSettings:
        return cls(
            event_bus_name=_required(env, "EVENT_BUS_NAME"),
            send_request_source=_required(env, "SEND_REQUEST_SOURCE"),
            quiet_words=_words(env, "OPT_OUT_KEYWORDS", DEFAULT_OPT_OUT_KEYWORDS)
            + _words(env, "OPT_IN_KEYWORDS", DEFAULT_OPT_IN_KEYWORDS),
        )


@dataclass(frozen=True)
class MediaSettings:
    """The media job: where media go, and how it reaches Meta (the sender's token and Graph API)."""

    table_name: str
    media_bucket: str
    secret_arn: str
    secret_max_age_seconds: float
    graph_api_url: str
    graph_api_version: str
    connect_timeout_seconds: float
    read_timeout_seconds: float
    download_attempts: int
    backoff_base_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MediaSettings:
        return cls(
            table_name=_required(env, "TABLE_NAME"),
            media_bucket=_required(env, "MEDIA_BUCKET"),
            secret_arn=_required(env, "ACCESS_TOKEN_SECRET_ARN"),
            secret_max_age_seconds=_number(env, "SECRET_MAX_AGE_SECONDS", 300.0, 0.0),
            graph_api_url=_required(env, "GRAPH_API_URL").rstrip("/"),
            graph_api_version=_required(env, "GRAPH_API_VERSION"),
            connect_timeout_seconds=_number(env, "GRAPH_CONNECT_TIMEOUT_SECONDS", 3.05, 0.1),
            # A download of the largest media (100 MB) is one read per chunk, each within this.
            read_timeout_seconds=_number(env, "GRAPH_READ_TIMEOUT_SECONDS", 20.0, 0.1),
            download_attempts=int(_number(env, "MEDIA_DOWNLOAD_ATTEMPTS", 4, 1)),
            backoff_base_seconds=_number(env, "MEDIA_BACKOFF_BASE_SECONDS", 0.5, 0.0),
        )
