"""Settings of the Graph API simulator, in code or from ``SIMULATOR_*`` environment variables."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

ENV_PREFIX = "SIMULATOR_"
PRICING_MODELS = frozenset({"PMP", "CBP"})
HEADER_FORMATS = frozenset({"text", "image", "video", "document"})
TEMPLATE_STATUSES = frozenset({"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"})
CARD_HEADER_FORMATS = frozenset({"image", "video"})


@dataclass(frozen=True)
class TemplateSpec:
    """One approved template in one language: what a send must fill in, and how it is priced."""

    body_params: int = 0
    header: str | None = None
    category: str = "utility"
    status: str = "APPROVED"
    # A media card carousel: how many cards, each card's header format and body parameters.
    cards: int = 0
    card_header: str = "image"
    card_body_params: int = 0

    def __post_init__(self) -> None:
        if self.body_params < 0 or self.card_body_params < 0:
            raise ValueError("body_params and card_body_params must be >= 0")
        if self.status not in TEMPLATE_STATUSES:
            raise ValueError(f"status must be one of {sorted(TEMPLATE_STATUSES)}, got {self.status!r}")
        if self.header is not None and self.header not in HEADER_FORMATS:
            raise ValueError(f"header must be one of {sorted(HEADER_FORMATS)}, got {self.header!r}")
        if self.cards and not 2 <= self.cards <= 10:
            raise ValueError(f"a carousel has 2 to 10 cards, got {self.cards}")
        if self.card_header not in CARD_HEADER_FORMATS:
            raise ValueError(
                f"card_header must be one of {sorted(CARD_HEADER_FORMATS)}, got {self.card_header!r}"
            )


def default_templates() -> dict[str, dict[str, TemplateSpec | int]]:
    return {
        "hello_world": {"en_US": TemplateSpec(body_params=0)},
        "daily_reminder": {"en_US": TemplateSpec(body_params=1)},
        "sample_movie_ticket_confirmation": {"en_US": TemplateSpec(body_params=4, header="image")},
        # The templates of the sample requests in events/sender/ (template.json, batch.json,
        # sources/), so that each is accepted as it is.
        "order_receipt": {"en_US": TemplateSpec(body_params=3, header="image")},
        "appointment_reminder": {"en_US": TemplateSpec(body_params=1)},
        "seasonal_offers": {
            "en_US": TemplateSpec(body_params=1, category="marketing", cards=2, card_body_params=1)
        },
        "order_shipped": {"en_US": TemplateSpec(body_params=1)},
    }


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator does differently from run to run.

    Delays are in seconds: ``sent_delay`` from acceptance to ``sent``, ``delivered_delay`` from
    ``sent`` to ``delivered``, ``read_delay`` from ``delivered`` to ``read``. Probabilities are in
    [0, 1]. ``clock`` gives epoch seconds for webhook timestamps, the 24-hour window and the rate
    limits; tests replace it to move time without waiting.
    """

    host: str = "127.0.0.1"
    port: int = 3002
    # Placeholders for a machine-local stand-in; the local runtime passes the ones its functions use.
    access_token: str = "local-access-token"  # noqa: S105
    app_secret: str = "local-app-secret"  # noqa: S105
    webhook_url: str = "http://127.0.0.1:3000/webhook"
    phone_number_id: str = "123456789012345"
    display_phone_number: str = "15550001234"
    # More business numbers of the account, each with its own limits and windows.
    phone_number_ids: frozenset[str] = frozenset()
    waba_id: str = "102290129340398"
    # name -> language -> spec; a bare int is the number of body parameters of a utility template.
    templates: Mapping[str, Mapping[str, TemplateSpec | int]] = field(default_factory=default_templates)
    sent_delay: float = 0.2
    delivered_delay: float = 0.5
    read_delay: float = 1.0
    auto_read: bool = True
    duplicate_probability: float = 0.0
    reorder_probability: float = 0.0
    undeliverable_numbers: frozenset[str] = frozenset()
    undeliverable_suffix: str = "0000"
    pricing_model: str = "PMP"
    rate_limit_per_second: int = 80
    # Meta documents 400 for 130429; some clients only back off on 429, so it can be changed.
    rate_limit_http_status: int = 400
    pair_interval: float = 6.0
    pair_burst: int = 45
    latency: float = 0.0
    error_probability: float = 0.0
    timeout_probability: float = 0.0
    hang_seconds: float = 30.0
    # How long a media download URL works, as Meta's (about five minutes).
    media_url_ttl: float = 300.0
    expired_tokens: frozenset[str] = frozenset()
    webhook_timeout: float = 5.0
    webhook_retries: int = 3
    webhook_retry_delay: float = 0.5
    max_records: int = 10_000
    seed: int | None = None
    clock: Callable[[], float] = field(default_factory=lambda: time.time, repr=False, compare=False)

    @property
    def numbers(self) -> frozenset[str]:
        """Every business number served: ``phone_number_id`` and ``phone_number_ids``."""
        return self.phone_number_ids | {self.phone_number_id}

    def display_number(self, phone_number_id: str) -> str:
        """The number's display form: ``display_phone_number`` for the first, a made-up one for more."""
        if phone_number_id == self.phone_number_id:
            return self.display_phone_number
        return "1555" + phone_number_id[-7:].rjust(7, "0")

    def __post_init__(self) -> None:
        for name in (
            "duplicate_probability",
            "reorder_probability",
            "error_probability",
            "timeout_probability",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        durations = ("sent_delay", "delivered_delay", "read_delay", "latency", "hang_seconds")
        for name in (*durations, "media_url_ttl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.pricing_model not in PRICING_MODELS:
            raise ValueError(f"pricing_model must be one of {sorted(PRICING_MODELS)}")
        if self.rate_limit_per_second < 1 or self.pair_burst < 1 or self.pair_interval <= 0:
            raise ValueError("rate_limit_per_second and pair_burst must be >= 1, pair_interval > 0")
        if self.webhook_retries < 0 or self.webhook_timeout <= 0 or self.max_records < 1:
            raise ValueError("webhook_retries must be >= 0, webhook_timeout > 0, max_records >= 1")
        for languages in self.templates.values():
            for spec in languages.values():
                if isinstance(spec, int) and spec < 0:
                    raise ValueError("a template's number of body parameters must be >= 0")

    def template(self, name: str, language: str) -> TemplateSpec | None:
        spec = self.templates.get(name, {}).get(language)
        if spec is None or isinstance(spec, TemplateSpec):
            return spec
        return TemplateSpec(body_params=spec)

    def template_exists(self, name: str) -> bool:
        return name in self.templates

    def is_undeliverable(self, wa_id: str) -> bool:
        if wa_id in self.undeliverable_numbers:
            return True
        return bool(self.undeliverable_suffix) and wa_id.endswith(self.undeliverable_suffix)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> SimulatorConfig:
        """Defaults, then ``SIMULATOR_<FIELD>`` variables (e.g. ``SIMULATOR_PORT``), then ``overrides``."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for item in fields(cls):
            parse = _PARSERS.get(item.name)
            raw = env.get(ENV_PREFIX + item.name.upper())
            if parse is None or raw is None or raw.strip() == "":
                continue
            try:
                kwargs[item.name] = parse(raw.strip())
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{item.name.upper()}: {exc}") from exc
        kwargs.update(overrides)
        return cls(**kwargs)


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_set(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _parse_templates(raw: str) -> dict[str, dict[str, TemplateSpec | int]]:
    """JSON ``{"name": {"en_US": 2}}`` or ``{"name": {"en_US": {"body_params": 2, "header": "image",
    "category": "marketing", "status": "PAUSED"}}}``; a carousel template also names ``cards``,
    ``card_header`` and ``card_body_params``."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object of name -> language -> spec")
    templates: dict[str, dict[str, TemplateSpec | int]] = {}
    for name, languages in data.items():
        if not isinstance(languages, dict):
            raise ValueError(f"template {name!r}: expected an object of language -> spec")
        templates[name] = {}
        for language, spec in languages.items():
            if isinstance(spec, int) and not isinstance(spec, bool):
                templates[name][language] = spec
            elif isinstance(spec, dict):
                templates[name][language] = TemplateSpec(
                    body_params=int(spec.get("body_params", 0)),
                    header=spec.get("header"),
                    category=str(spec.get("category", "utility")),
                    status=str(spec.get("status", "APPROVED")).upper(),
                    cards=int(spec.get("cards", 0)),
                    card_header=str(spec.get("card_header", "image")),
                    card_body_params=int(spec.get("card_body_params", 0)),
                )
            else:
                raise ValueError(f"template {name!r} {language!r}: expected a number or an object")
    return templates


def _parse_suffix(raw: str) -> str:
    # An empty variable means "unset", so "none" is how to switch the suffix rule off.
    return "" if raw.lower() == "none" else raw


def _parse_seed(raw: str) -> int | None:
    return None if raw.lower() == "none" else int(raw)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "host": str,
    "port": int,
    "access_token": str,
    "app_secret": str,
    "webhook_url": str,
    "phone_number_id": str,
    "display_phone_number": str,
    "phone_number_ids": _parse_set,
    "waba_id": str,
    "templates": _parse_templates,
    "sent_delay": float,
    "delivered_delay": float,
    "read_delay": float,
    "auto_read": _parse_bool,
    "duplicate_probability": float,
    "reorder_probability": float,
    "undeliverable_numbers": _parse_set,
    "undeliverable_suffix": _parse_suffix,
    "pricing_model": str.upper,
    "rate_limit_per_second": int,
    "rate_limit_http_status": int,
    "pair_interval": float,
    "pair_burst": int,
    "latency": float,
    "error_probability": float,
    "timeout_probability": float,
    "hang_seconds": float,
    "media_url_ttl": float,
    "expired_tokens": _parse_set,
    "webhook_timeout": float,
    "webhook_retries": int,
    "webhook_retry_delay": float,
    "max_records": int,
    "seed": _parse_seed,
}
