"""How commands report: lines for people by default, one JSON document with ``--json``.

Progress always goes out as it happens; with ``--json`` it goes to stderr, so stdout holds
nothing but the document.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO


@dataclass
class Output:
    json_mode: bool = False
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def progress(self, line: str) -> None:
        print(line, file=self.stderr if self.json_mode else self.stdout, flush=True)

    def result(self, document: Any, lines: Sequence[str]) -> None:
        """The command's answer: ``document`` for machines, ``lines`` for people."""
        if self.json_mode:
            json.dump(document, self.stdout, indent=2, ensure_ascii=False)
            self.stdout.write("\n")
        else:
            for line in lines:
                print(line, file=self.stdout)
        self.stdout.flush()

    def counter(self, line: str) -> None:
        """A progress counter for people watching: rewritten in place on a terminal's stderr, and
        left out of logs and pipes, where a line per step would only be noise."""
        if self.stderr.isatty():
            print(f"\r\033[K{line}", end="", file=self.stderr, flush=True)

    def counter_done(self) -> None:
        if self.stderr.isatty():
            print("\r\033[K", end="", file=self.stderr, flush=True)

    def error(self, message: str) -> None:
        print(f"wactl: error: {message}", file=self.stderr, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns; the last one is not padded, so long summaries do not add blanks."""
    widths = [max([len(headers[i]), *(len(row[i]) for row in rows)]) for i in range(len(headers) - 1)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        return "  ".join([*padded, cells[-1]]).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def utc(seconds: float | None) -> str:
    """Epoch seconds as a UTC time; ``-`` for none."""
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(seconds)))


def ago(seconds: float) -> str:
    """A duration in the largest two units, for "3 h 12 min ago" and "in 20 h 5 min"."""
    whole = int(abs(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{whole} s"


def plain(value: Any) -> Any:
    """DynamoDB values as JSON ones: numbers without Decimal, sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, for a table cell."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
