"""Argument types the commands share."""

from __future__ import annotations

import argparse
from datetime import date


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def day(text: str) -> str:
    """A day as YYYY-MM-DD (the table's days are UTC)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError("expected a day as YYYY-MM-DD") from None
