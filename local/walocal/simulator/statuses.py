"""The status webhooks one accepted send produces: sent, delivered, read, or a single failed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from . import errors
from .config import SimulatorConfig
from .state import Admission, Conversation
from .validation import SendRequest

# A duplicate follows its original closely, as when two subscriptions deliver the same event.
DUPLICATE_GAP = 0.01


@dataclass(frozen=True)
class PlannedStatus:
    delay: float
    status: dict[str, Any]
    duplicate: bool = False


def plan(config: SimulatorConfig, request: SendRequest, admission: Admission) -> list[PlannedStatus]:
    """The statuses in true order, each with its delay after the previous one and its own timestamp."""
    base = admission.accepted_at + config.sent_delay
    common: dict[str, Any] = {"id": admission.wamid}
    if admission.wa_id is not None:
        common["recipient_id"] = admission.wa_id
    if admission.user_id is not None:
        # Meta names the business-scoped id too, and only it when the number is not to be shared.
        common["recipient_user_id"] = admission.user_id
    callback = request.body.get("biz_opaque_callback_data")
    if isinstance(callback, str):
        common["biz_opaque_callback_data"] = callback

    if admission.failure is not None:
        error = (
            errors.undeliverable_error()
            if admission.failure == "undeliverable"
            else errors.reengagement_error()
        )
        failed = {**common, "status": "failed", "timestamp": _epoch(base), "errors": [error]}
        return [PlannedStatus(config.sent_delay, _ordered(failed))]

    conversation = admission.conversation
    price = pricing(config, request, admission.window_open)
    sent = {**common, "status": "sent", "timestamp": _epoch(base)}
    delivered_at = base + config.delivered_delay
    delivered = {**common, "status": "delivered", "timestamp": _epoch(delivered_at)}
    if conversation is not None:
        sent["conversation"] = _conversation(conversation, with_expiry=True)
        delivered["conversation"] = _conversation(conversation, with_expiry=False)
    sent["pricing"] = dict(price)
    delivered["pricing"] = dict(price)
    steps = [
        PlannedStatus(config.sent_delay, _ordered(sent)),
        PlannedStatus(config.delivered_delay, _ordered(delivered)),
    ]
    if config.auto_read:
        read = {**common, "status": "read", "timestamp": _epoch(delivered_at + config.read_delay)}
        steps.append(PlannedStatus(config.read_delay, _ordered(read)))
    return steps


def pricing(config: SimulatorConfig, request: SendRequest, window_open: bool) -> dict[str, Any]:
    category = request.category
    # Service replies are free; under per-message pricing so are utility templates inside the window.
    free = category == "service" or (config.pricing_model == "PMP" and window_open and category == "utility")
    result: dict[str, Any] = {
        "billable": not free,
        "pricing_model": config.pricing_model,
        "category": category,
    }
    if config.pricing_model == "PMP":
        result["type"] = "free_customer_service" if free else "regular"
    return result


def disorder(steps: list[PlannedStatus], config: SimulatorConfig, rng: random.Random) -> list[PlannedStatus]:
    """Swap neighbours and repeat statuses per the configured probabilities; delays keep their slots."""
    items = list(steps)
    for i in range(len(items) - 1):
        if rng.random() < config.reorder_probability:
            first, second = items[i], items[i + 1]
            items[i] = PlannedStatus(first.delay, second.status)
            items[i + 1] = PlannedStatus(second.delay, first.status)
    result: list[PlannedStatus] = []
    for item in items:
        result.append(item)
        if rng.random() < config.duplicate_probability:
            result.append(PlannedStatus(DUPLICATE_GAP, item.status, duplicate=True))
    return result


def _conversation(conversation: Conversation, *, with_expiry: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"id": conversation.id}
    if with_expiry:
        result["expiration_timestamp"] = str(conversation.expiration_timestamp)
    result["origin"] = {"type": conversation.origin}
    return result


def _ordered(status: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order Meta's payloads show them."""
    order = (
        "id",
        "status",
        "timestamp",
        "recipient_id",
        "recipient_user_id",
        "biz_opaque_callback_data",
        "conversation",
        "pricing",
    )
    result = {key: status[key] for key in order if key in status}
    result.update((key, value) for key, value in status.items() if key not in result)
    return result


def _epoch(seconds: float) -> str:
    return str(int(seconds))
