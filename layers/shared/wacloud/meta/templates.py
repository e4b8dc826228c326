"""Message templates as Meta describes them: the catalog listing's objects and the template webhooks.

``GET /<version>/<waba-id>/message_templates`` lists one object per template and language:
``name``, ``language``, ``status`` (APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...),
``category`` (MARKETING, UTILITY, AUTHENTICATION), ``components`` and ``id``, in pages
(``paging.next``). Of the components, what a send must fill in is read here: the body's
placeholders (``{{1}}`` or ``{{name}}``), and the header's format (a media header takes one
parameter of its type, a text header one per placeholder).

The webhook fields ``message_template_status_update`` (``event``: the new status),
``message_template_quality_update`` (``new_quality_score``) and ``template_category_update``
(``new_category``) name the template by ``message_template_name`` and
``message_template_language``; each becomes a :class:`TemplateChange`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEMPLATE_STATUS_FIELD = "message_template_status_update"
TEMPLATE_QUALITY_FIELD = "message_template_quality_update"
TEMPLATE_CATEGORY_FIELD = "template_category_update"
TEMPLATE_FIELDS = frozenset({TEMPLATE_STATUS_FIELD, TEMPLATE_QUALITY_FIELD, TEMPLATE_CATEGORY_FIELD})

APPROVED = "APPROVED"
PAUSED = "PAUSED"
DISABLED = "DISABLED"
MARKETING = "MARKETING"
CATEGORIES = frozenset({MARKETING, "UTILITY", "AUTHENTICATION"})
MEDIA_HEADERS = frozenset({"IMAGE", "VIDEO", "DOCUMENT"})
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


@dataclass(frozen=True)
class TemplateDefinition:
    """One template in one language, as far as a send must match it."""

    name: str
    language: str
    status: str
    category: str | None = None
    template_id: str | None = None
    body_params: int | None = None
    """Placeholders of the body; None when the components are unknown (not checked)."""
    header_format: str | None = None
    """TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION, or None without a header."""
    header_params: int = 0
    quality: str | None = None

    @classmethod
    def from_graph(cls, data: Mapping[str, Any]) -> TemplateDefinition | None:
        """A listed template, or None for an object without a name and language."""
        name, language = data.get("name"), data.get("language")
        if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
            return None
        components = data.get("components")
        body_params: int | None = None
        header_format: str | None = None
        header_params = 0
        if isinstance(components, list):
            body_params = 0
            for component in components:
                if not isinstance(component, Mapping):
                    continue
                kind = str(component.get("type", "")).upper()
                text = component.get("text") if isinstance(component.get("text"), str) else ""
                if kind == "BODY":
                    body_params = placeholders(str(text))
                elif kind == "HEADER":
                    header_format = str(component.get("format", "TEXT")).upper()
                    header_params = 1 if header_format in MEDIA_HEADERS else placeholders(str(text))
        quality = data.get("quality_score")
        return cls(
            name=name,
            language=language,
            status=_upper(data.get("status")) or "UNKNOWN",
            category=_upper(data.get("category")),
            template_id=_text(data.get("id")),
            body_params=body_params,
            header_format=header_format,
            header_params=header_params,
            quality=_upper(quality.get("score")) if isinstance(quality, Mapping) else None,
        )


@dataclass(frozen=True)
class TemplateChange:
    """What a template webhook says changed: only the fields it names are set."""

    name: str
    language: str
    status: str | None = None
    quality: str | None = None
    category: str | None = None
    template_id: str | None = None
    reason: str | None = None


def template_change(field_name: str, value: Any) -> TemplateChange | None:
    """The change a template webhook's value tells, or None when it names no template."""
    if field_name not in TEMPLATE_FIELDS or not isinstance(value, Mapping):
        return None
    name, language = value.get("message_template_name"), value.get("message_template_language")
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        return None
    template_id = _text(value.get("message_template_id"))
    if field_name == TEMPLATE_STATUS_FIELD:
        status = _upper(value.get("event"))
        if status is None:
            return None
        reason = _text(value.get("reason"))
        return TemplateChange(name, language, status=status, template_id=template_id, reason=reason)
    if field_name == TEMPLATE_QUALITY_FIELD:
        quality = _upper(value.get("new_quality_score"))
        return (
            None
            if quality is None
            else TemplateChange(name, language, quality=quality, template_id=template_id)
        )
    category = _upper(value.get("new_category") or value.get("correct_category"))
    return (
        None
        if category is None
        else TemplateChange(name, language, category=category, template_id=template_id)
    )


def placeholders(text: str) -> int:
    """Distinct ``{{...}}`` placeholders of a component's text."""
    return len(set(_PLACEHOLDER.findall(text)))


def next_page(answer: Mapping[str, Any]) -> str | None:
    paging = answer.get("paging")
    following = paging.get("next") if isinstance(paging, Mapping) else None
    return following if isinstance(following, str) and following else None


def _upper(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    return str(value)[:200] if isinstance(value, (str, int)) and str(value) else None
