"""The events publisher's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wacloud.core.settings.reading import required


@dataclass(frozen=True)
class PublisherSettings:
    """The events publisher: the bus it publishes the table's changes on."""

    event_bus_name: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublisherSettings:
        return cls(event_bus_name=required(env, "EVENT_BUS_NAME"))
