"""The simulator's misbehaviour, changed while it runs (``GET``/``PUT /_simulator/chaos``).

Meta at its worst fails sends (HTTP 500, codes 1 and 2), accepts a message and answers too late
(a read timeout after acceptance), rejects an expired token (190), redelivers and reorders
status webhooks. The same knobs exist as start-up settings; changing them at run time lets one
test walk a pipeline through an outage and its recovery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .config import SimulatorConfig

PROBABILITIES = ("error_probability", "timeout_probability", "duplicate_probability", "reorder_probability")
DURATIONS = ("hang_seconds", "latency", "webhook_retry_delay")
CHAOS_FIELDS = (*PROBABILITIES, *DURATIONS, "webhook_retries", "expired_tokens")


class ChaosError(ValueError):
    """A change that cannot be applied; the message names the field."""


def chaos_of(config: SimulatorConfig) -> dict[str, Any]:
    values = {name: getattr(config, name) for name in CHAOS_FIELDS}
    # Expired tokens are credentials: how many, never which.
    values["expired_tokens"] = len(config.expired_tokens)
    return values


def changed(config: SimulatorConfig, changes: Any) -> SimulatorConfig:
    """``config`` with ``changes`` applied, every field checked first (all or nothing)."""
    if not isinstance(changes, Mapping):
        raise ChaosError("the body must be a JSON object")
    unknown = set(changes) - set(CHAOS_FIELDS)
    if unknown:
        raise ChaosError(f"unknown fields: {', '.join(sorted(unknown))}; known: {', '.join(CHAOS_FIELDS)}")
    updates: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "expired_tokens":
            if not isinstance(value, list) or not all(isinstance(token, str) for token in value):
                raise ChaosError("expired_tokens: a list of tokens")
            updates[name] = frozenset(value)
        elif name == "webhook_retries":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                raise ChaosError("webhook_retries: an integer from 0 to 100")
            updates[name] = value
        else:
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ChaosError(f"{name}: a number of at least 0")
            if name in PROBABILITIES and value > 1:
                raise ChaosError(f"{name}: a probability from 0 to 1")
            updates[name] = float(value)
    return dataclasses.replace(config, **updates)
