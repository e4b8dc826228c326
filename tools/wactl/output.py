"""How commands report: lines for people by default, one JSON document with ``--json``.

Progress always goes out as it happens; with ``--json`` it goes to stderr, so stdout holds
nothing but the document.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
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

    def error(self, message: str) -> None:
        print(f"wactl: error: {message}", file=self.stderr, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns; the last one is not padded, so long summaries do not add blanks."""
    widths = [max([len(headers[i]), *(len(row[i]) for row in rows)]) for i in range(len(headers) - 1)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        return "  ".join([*padded, cells[-1]]).rstrip()

    return [line(headers), *(line(row) for row in rows)]
