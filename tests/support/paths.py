"""Where the repository's files are, for tests at any depth."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
