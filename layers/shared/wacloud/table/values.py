"""How structured values are kept in the table's attributes."""

from __future__ import annotations

import json
from typing import Any


def compact_json(value: Any) -> str:
    """JSON kept in a string attribute: compact, keys sorted, so equal values store equal."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
