"""The example reply bot's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wacloud.core.settings.reading import DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS, required, words


@dataclass(frozen=True)
class ReplyBotSettings:
    """The example reply bot: where it puts its answers, and the words it leaves to the processor."""

    event_bus_name: str
    send_request_source: str
    quiet_words: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReplyBotSettings:
        return cls(
            event_bus_name=required(env, "EVENT_BUS_NAME"),
            send_request_source=required(env, "SEND_REQUEST_SOURCE"),
            quiet_words=words(env, "OPT_OUT_KEYWORDS", DEFAULT_OPT_OUT_KEYWORDS)
            + words(env, "OPT_IN_KEYWORDS", DEFAULT_OPT_IN_KEYWORDS),
        )
