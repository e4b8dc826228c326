"""Builds Meta's webhook payloads, signs them with the app secret and POSTs them, with retries."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import requests

from wacloud.meta.signature import sign

from .config import SimulatorConfig
from .delayed import DelayedCalls

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


def envelope(config: SimulatorConfig, value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": config.waba_id, "changes": [{"value": dict(value), "field": "messages"}]}],
    }


def metadata(config: SimulatorConfig, phone_number_id: str | None = None) -> dict[str, str]:
    number = phone_number_id or config.phone_number_id
    return {"display_phone_number": config.display_number(number), "phone_number_id": number}


def statuses_payload(
    config: SimulatorConfig, statuses: Sequence[Mapping[str, Any]], phone_number_id: str | None = None
) -> dict[str, Any]:
    return envelope(
        config,
        {
            "messaging_product": "whatsapp",
            "metadata": metadata(config, phone_number_id),
            "statuses": [dict(s) for s in statuses],
        },
    )


def inbound_payload(
    config: SimulatorConfig,
    name: str,
    wa_id: str | None,
    message: Mapping[str, Any],
    *,
    phone_number_id: str | None = None,
    user_id: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """A contact's message: named by number, by business-scoped id, or both (Meta's contacts entry
    omits ``wa_id`` for a user who hides the number)."""
    profile: dict[str, Any] = {"name": name}
    if username:
        profile["username"] = username
    contact: dict[str, Any] = {"profile": profile}
    if wa_id:
        contact["wa_id"] = wa_id
    if user_id:
        contact["user_id"] = user_id
    return envelope(
        config,
        {
            "messaging_product": "whatsapp",
            "metadata": metadata(config, phone_number_id),
            "contacts": [contact],
            "messages": [dict(message)],
        },
    )


def user_preferences_payload(
    config: SimulatorConfig, preference: Mapping[str, Any], name: str | None = None
) -> dict[str, Any]:
    """Meta's ``user_preferences`` webhook: a user stopped or resumed marketing messages."""
    contact: dict[str, Any] = {"profile": {"name": name}} if name else {}
    contact.update({key: preference[key] for key in ("wa_id", "user_id") if preference.get(key)})
    value = {
        "messaging_product": "whatsapp",
        "metadata": metadata(config),
        "contacts": [contact],
        "user_preferences": [dict(preference)],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": config.waba_id,
                "time": int(preference["timestamp"]),
                "changes": [{"value": value, "field": "user_preferences"}],
            }
        ],
    }


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialise as Meta does: compact, non-ASCII as ``\\uXXXX`` and ``/`` as ``\\/``.

    Receivers that re-serialise the JSON before checking the signature fail on these bytes, as
    they would against Meta.
    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    # "/" can only occur inside JSON strings, so escaping it everywhere keeps the JSON equal.
    return text.replace("/", "\\/").encode("ascii")


@dataclass(frozen=True)
class DeliveryResult:
    http_status: int | None
    attempts: int
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.http_status == 200


@dataclass(frozen=True)
class Outgoing:
    """A payload to POST ``delay`` seconds after the previous one in its sequence was settled."""

    delay: float
    payload: Mapping[str, Any]
    on_result: Callable[[DeliveryResult], None] | None = None


class WebhookDispatcher:
    """POSTs signed payloads to the one configured webhook URL; only HTTP 200 counts as delivered."""

    def __init__(self, config: SimulatorConfig, scheduler: DelayedCalls) -> None:
        self._config = config
        self._scheduler = scheduler

    def reconfigure(self, config: SimulatorConfig) -> None:
        """Take new retry settings (``/_simulator/chaos``); the URL and app secret do not change."""
        self._config = config

    def post(self, body: bytes) -> tuple[int | None, str | None]:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self._config.app_secret),
            "User-Agent": "facebookexternalua",
        }
        try:
            with requests.post(
                self._config.webhook_url, data=body, headers=headers, timeout=self._config.webhook_timeout
            ) as response:
                return response.status_code, None
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def deliver_now(
        self, payload: Mapping[str, Any], on_result: Callable[[DeliveryResult], None] | None = None
    ) -> DeliveryResult:
        """First attempt in the caller's thread; retries, if needed, continue in the background."""
        body = encode(payload)
        status, error = self.post(body)
        result = DeliveryResult(status, 1, error)
        # Reported before any retry is queued, so the final outcome is always reported last.
        if on_result is not None:
            on_result(result)
        if status != 200 and self._config.webhook_retries > 0:
            self._log_retry(result)
            self._scheduler.call_later(self._retry_delay(1), partial(self._attempt, body, 2, on_result, None))
        return result

    def send_sequence(self, items: Sequence[Outgoing]) -> None:
        """Deliver ``items`` one after the other; each waits until the previous one is settled."""
        self._schedule(tuple(items), 0)

    def _schedule(self, items: tuple[Outgoing, ...], index: int) -> None:
        if index >= len(items):
            return
        item = items[index]
        step = partial(
            self._attempt, encode(item.payload), 1, item.on_result, partial(self._schedule, items, index + 1)
        )
        self._scheduler.call_later(item.delay, step)

    def _attempt(
        self,
        body: bytes,
        attempt: int,
        on_result: Callable[[DeliveryResult], None] | None,
        then: Callable[[], None] | None,
    ) -> None:
        status, error = self.post(body)
        result = DeliveryResult(status, attempt, error)
        if status != 200 and attempt <= self._config.webhook_retries:
            self._log_retry(result)
            self._scheduler.call_later(
                self._retry_delay(attempt), partial(self._attempt, body, attempt + 1, on_result, then)
            )
            return
        if status != 200:
            log.warning(
                "webhook to %s not delivered after %d attempts (last: %s)",
                self._config.webhook_url,
                attempt,
                error or f"HTTP {status}",
            )
        if on_result is not None:
            on_result(result)
        if then is not None:
            then()

    def _retry_delay(self, attempt: int) -> float:
        return float(self._config.webhook_retry_delay * 2 ** (attempt - 1))

    def _log_retry(self, result: DeliveryResult) -> None:
        log.info(
            "webhook to %s answered %s on attempt %d; retrying",
            self._config.webhook_url,
            result.error or f"HTTP {result.http_status}",
            result.attempts,
        )
