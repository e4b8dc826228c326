"""The processor function's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wacloud.core.settings.reading import (
    DEFAULT_OPT_IN_KEYWORDS,
    DEFAULT_OPT_OUT_KEYWORDS,
    choice,
    number,
    required,
    whole_number,
    words,
)

RAW_ARCHIVE_MODES = ("EXCEPTIONS", "ALL")


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
            table_name=required(env, "TABLE_NAME"),
            payload_bucket=required(env, "PAYLOAD_BUCKET"),
            raw_payload_retention_days=int(number(env, "RAW_PAYLOAD_RETENTION_DAYS", 30, 1)),
            opt_out_keywords=words(env, "OPT_OUT_KEYWORDS", DEFAULT_OPT_OUT_KEYWORDS),
            opt_in_keywords=words(env, "OPT_IN_KEYWORDS", DEFAULT_OPT_IN_KEYWORDS),
            write_concurrency=whole_number(env, "WRITE_CONCURRENCY", 8, 1),
            raw_archive=choice(env, "RAW_ARCHIVE", "EXCEPTIONS", RAW_ARCHIVE_MODES).lower(),
        )
