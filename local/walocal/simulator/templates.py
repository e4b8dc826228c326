"""``GET /<version>/<waba-id>/message_templates``: the configured templates in Meta's shape.

One object per template and language: ``name``, ``language``, ``status``, ``category``
(upper case), ``components`` (a ``HEADER`` of the template's format when it has one, a ``BODY``
whose text has a ``{{n}}`` placeholder per body parameter) and ``id``; in pages of ``limit``
(25 by default, as Meta's), with ``paging.cursors`` and ``paging.next`` while more remain.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from . import errors
from .config import SimulatorConfig, TemplateSpec

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000


def template_id(name: str, language: str) -> str:
    """A stable numeric id per template and language, as long as Meta's."""
    return str(int(hashlib.sha256(f"{name}\0{language}".encode()).hexdigest()[:13], 16))


def template_object(name: str, language: str, spec: TemplateSpec) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    if spec.header == "text":
        components.append({"type": "HEADER", "format": "TEXT", "text": "{{1}}"})
    elif spec.header is not None:
        components.append({"type": "HEADER", "format": spec.header.upper()})
    placeholders = " ".join(f"{{{{{n}}}}}" for n in range(1, spec.body_params + 1))
    components.append(
        {"type": "BODY", "text": f"{name.replace('_', ' ').capitalize()} {placeholders}".strip()}
    )
    return {
        "name": name,
        "language": language,
        "status": spec.status,
        "category": spec.category.upper(),
        "components": components,
        "id": template_id(name, language),
    }


def listing(config: SimulatorConfig, query: Mapping[str, list[str]], url: str) -> dict[str, Any]:
    """One page of the catalog; ``url`` is the endpoint's own URL, for ``paging.next``."""
    limit = _number(query, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.invalid_parameter("limit", f"must be between 1 and {MAX_LIMIT}.")
    start = _cursor(query.get("after", [""])[0])
    every = [
        template_object(name, language, spec)
        for name in sorted(config.templates)
        for language in sorted(config.templates[name])
        if (spec := config.template(name, language)) is not None
    ]
    page = every[start : start + limit]
    answer: dict[str, Any] = {"data": page}
    if page:
        paging: dict[str, Any] = {"cursors": {"before": _encode(start), "after": _encode(start + len(page))}}
        if start + len(page) < len(every):
            following = {"limit": str(limit), "after": _encode(start + len(page))}
            fields = query.get("fields", [""])[0]
            if fields:
                following["fields"] = fields
            paging["next"] = f"{url}?{urlencode(following)}"
        answer["paging"] = paging
    return answer


def _number(query: Mapping[str, list[str]], name: str, default: int) -> int:
    raw = query.get(name, [""])[0]
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.invalid_parameter(name, "must be a number.") from None


def _encode(index: int) -> str:
    return base64.urlsafe_b64encode(f"index:{index}".encode()).decode().rstrip("=")


def _cursor(raw: str) -> int:
    if not raw:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        return max(0, int(decoded.removeprefix("index:")))
    except ValueError:
        raise errors.invalid_parameter("after", "is not a valid cursor.") from None
