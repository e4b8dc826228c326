"""Checks a ``/messages`` body the way the Cloud API does, naming the offending parameter."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors
from .config import SimulatorConfig, TemplateSpec

MEDIA_TYPES = ("audio", "document", "image", "sticker", "video")
MESSAGE_TYPES = ("contacts", "interactive", "location", "reaction", "template", "text", *MEDIA_TYPES)
INTERACTIVE_TYPES = (
    "address_message",
    "button",
    "call_permission_request",
    "catalog_message",
    "cta_url",
    "flow",
    "list",
    "location_request_message",
    "product",
    "product_list",
    "voice_call",
)
# Interactive types whose message has no text of its own besides the action.
_BODY_OPTIONAL = frozenset({"product", "product_list", "catalog_message", "voice_call"})
TEXT_MAX = 4096
_PHONE_SEPARATORS = re.compile(r"[\s\-().+]")


@dataclass(frozen=True)
class SendRequest:
    to: str
    wa_id: str
    type: str
    body: dict[str, Any]
    template_name: str | None = None
    template: TemplateSpec | None = None

    @property
    def is_template(self) -> bool:
        return self.template is not None

    @property
    def category(self) -> str:
        """Pricing category: the template's, or ``service`` for a reply inside the window."""
        return self.template.category if self.template is not None else "service"


@dataclass(frozen=True)
class MarkRead:
    message_id: str
    typing_indicator: bool


def parse_request(body: object, config: SimulatorConfig) -> SendRequest | MarkRead:
    if not isinstance(body, dict):
        raise errors.GraphError(
            100, "(#100) Invalid parameter", details="The request body must be a JSON object"
        )
    product = body.get("messaging_product")
    if product is None:
        raise errors.missing_parameter("messaging_product")
    if product != "whatsapp":
        raise errors.invalid_parameter("messaging_product", f'must be one of {{WHATSAPP}} - got "{product}".')
    if "status" in body:
        return _mark_read(body)

    to, wa_id = _recipient(body)
    message_type = body.get("type", "text")
    if message_type not in MESSAGE_TYPES:
        allowed = ", ".join(t.upper() for t in MESSAGE_TYPES)
        raise errors.invalid_parameter("type", f'must be one of {{{allowed}}} - got "{message_type}".')
    context = body.get("context")
    if context is not None:
        _string(_object(body, "context", "context"), "message_id", "context['message_id']")

    if message_type == "template":
        name, spec = _template(body, config)
        return SendRequest(to, wa_id, message_type, body, template_name=name, template=spec)
    if message_type in MEDIA_TYPES:
        _media(_object(body, message_type, message_type), message_type)
    else:
        _VALIDATORS[message_type](body)
    return SendRequest(to, wa_id, message_type, body)


def _recipient(body: dict[str, Any]) -> tuple[str, str]:
    """``to`` as given, and the WhatsApp id Meta derives from it (digits only)."""
    to = body.get("to")
    if to is None or to == "":
        raise errors.missing_parameter("to")
    if not isinstance(to, str):
        raise errors.invalid_parameter("to", "must be a string.")
    wa_id = _PHONE_SEPARATORS.sub("", to)
    if not wa_id.isdigit() or not 5 <= len(wa_id) <= 15:
        raise errors.invalid_parameter("to", f'must be a phone number in international format - got "{to}".')
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise errors.invalid_parameter(
            "recipient_type", f'must be one of {{INDIVIDUAL}} - got "{recipient_type}".'
        )
    return to, wa_id


def _mark_read(body: dict[str, Any]) -> MarkRead:
    status = body.get("status")
    if status != "read":
        raise errors.invalid_parameter("status", f'must be one of {{READ}} - got "{status}".')
    message_id = _string(body, "message_id", "message_id")
    indicator = body.get("typing_indicator")
    if indicator is not None:
        kind = _object(body, "typing_indicator", "typing_indicator").get("type")
        if kind != "text":
            raise errors.invalid_parameter(
                "typing_indicator['type']", f'must be one of {{TEXT}} - got "{kind}".'
            )
    return MarkRead(message_id=message_id, typing_indicator=indicator is not None)


def _object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        raise errors.missing_parameter(path)
    if not isinstance(value, dict):
        raise errors.invalid_parameter(path, "must be a JSON object.")
    return value


def _list(parent: dict[str, Any], key: str, path: str, *, most: int | None = None) -> list[Any]:
    value = parent.get(key)
    if value is None or value == []:
        raise errors.missing_parameter(path)
    if not isinstance(value, list):
        raise errors.invalid_parameter(path, "must be an array.")
    if most is not None and len(value) > most:
        raise errors.invalid_parameter(path, f"must have at most {most} elements.")
    return value


def _string(parent: dict[str, Any], key: str, path: str, *, most: int | None = None) -> str:
    value = parent.get(key)
    if value is None or value == "":
        raise errors.missing_parameter(path)
    if not isinstance(value, str):
        raise errors.invalid_parameter(path, "must be a string.")
    if most is not None and len(value) > most:
        raise errors.invalid_parameter(path, f"must be at most {most} characters long.")
    return value


def _text(body: dict[str, Any]) -> None:
    _string(_object(body, "text", "text"), "body", "text['body']", most=TEXT_MAX)


def _media(media: dict[str, Any], path: str) -> None:
    if not media.get("id") and not media.get("link"):
        raise errors.missing_parameter(f"{path}['id'] or {path}['link']")
    link = media.get("link")
    if link is not None and not (isinstance(link, str) and link.startswith(("https://", "http://"))):
        raise errors.invalid_parameter(f"{path}['link']", "must be a valid URL.")


def _location(body: dict[str, Any]) -> None:
    location = _object(body, "location", "location")
    for key, bound in (("latitude", 90.0), ("longitude", 180.0)):
        path = f"location['{key}']"
        value = location.get(key)
        if value is None or value == "":
            raise errors.missing_parameter(path)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise errors.invalid_parameter(path, "must be a number.") from None
        if not -bound <= number <= bound:
            raise errors.invalid_parameter(path, f"must be between {-bound:g} and {bound:g}.")


def _contacts(body: dict[str, Any]) -> None:
    for index, contact in enumerate(_list(body, "contacts", "contacts")):
        path = f"contacts[{index}]"
        if not isinstance(contact, dict):
            raise errors.invalid_parameter(path, "must be a JSON object.")
        _string(
            _object(contact, "name", f"{path}['name']"), "formatted_name", f"{path}['name']['formatted_name']"
        )


def _reaction(body: dict[str, Any]) -> None:
    reaction = _object(body, "reaction", "reaction")
    _string(reaction, "message_id", "reaction['message_id']")
    # An empty emoji is how a reaction is removed, so only its absence is an error.
    if "emoji" not in reaction:
        raise errors.missing_parameter("reaction['emoji']")


def _interactive(body: dict[str, Any]) -> None:
    interactive = _object(body, "interactive", "interactive")
    kind = _string(interactive, "type", "interactive['type']")
    if kind not in INTERACTIVE_TYPES:
        allowed = ", ".join(INTERACTIVE_TYPES)
        raise errors.invalid_parameter("interactive['type']", f'must be one of {{{allowed}}} - got "{kind}".')
    action = _object(interactive, "action", "interactive['action']")
    if kind not in _BODY_OPTIONAL:
        _string(_object(interactive, "body", "interactive['body']"), "text", "interactive['body']['text']")
    if kind == "button":
        buttons = _list(action, "buttons", "interactive['action']['buttons']", most=3)
        for index, button in enumerate(buttons):
            path = f"interactive['action']['buttons'][{index}]"
            if not isinstance(button, dict):
                raise errors.invalid_parameter(path, "must be a JSON object.")
            reply = _object(button, "reply", f"{path}['reply']")
            _string(reply, "id", f"{path}['reply']['id']", most=256)
            _string(reply, "title", f"{path}['reply']['title']", most=20)
    elif kind == "list":
        _string(action, "button", "interactive['action']['button']", most=20)
        sections = _list(action, "sections", "interactive['action']['sections']", most=10)
        for index, section in enumerate(sections):
            path = f"interactive['action']['sections'][{index}]"
            if not isinstance(section, dict):
                raise errors.invalid_parameter(path, "must be a JSON object.")
            _list(section, "rows", f"{path}['rows']", most=10)
    elif kind == "cta_url":
        parameters = _object(action, "parameters", "interactive['action']['parameters']")
        _string(parameters, "display_text", "interactive['action']['parameters']['display_text']", most=20)
        _string(parameters, "url", "interactive['action']['parameters']['url']")


def _template(body: dict[str, Any], config: SimulatorConfig) -> tuple[str, TemplateSpec]:
    template = _object(body, "template", "template")
    name = _string(template, "name", "template['name']")
    language = _string(
        _object(template, "language", "template['language']"), "code", "template['language']['code']"
    )
    spec = config.template(name, language)
    if spec is None or spec.status in ("PENDING", "REJECTED"):
        raise errors.template_missing(name, language)
    if spec.status == "PAUSED":
        raise errors.template_paused(name, language)
    if spec.status == "DISABLED":
        raise errors.template_disabled(name, language)
    components = template.get("components", [])
    if not isinstance(components, list):
        raise errors.invalid_parameter("template['components']", "must be an array.")
    params: dict[str, list[dict[str, Any]]] = {"header": [], "body": []}
    for index, component in enumerate(components):
        path = f"template['components'][{index}]"
        if not isinstance(component, dict):
            raise errors.invalid_parameter(path, "must be a JSON object.")
        kind = str(_string(component, "type", f"{path}['type']")).lower()
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise errors.invalid_parameter(f"{path}['parameters']", "must be an array.")
        for number, parameter in enumerate(parameters):
            _template_parameter(parameter, f"{path}['parameters'][{number}]")
        if kind in params:
            params[kind].extend(parameters)

    if len(params["body"]) != spec.body_params:
        raise errors.parameter_count("body", len(params["body"]), spec.body_params)
    expected_header = 0 if spec.header is None else 1
    if len(params["header"]) != expected_header:
        raise errors.parameter_count("header", len(params["header"]), expected_header)
    if spec.header is not None and params["header"][0]["type"] != spec.header:
        raise errors.parameter_format("header", spec.header, str(params["header"][0]["type"]))
    return name, spec


def _template_parameter(parameter: object, path: str) -> None:
    if not isinstance(parameter, dict):
        raise errors.invalid_parameter(path, "must be a JSON object.")
    kind = _string(parameter, "type", f"{path}['type']")
    if kind == "text":
        _string(parameter, "text", f"{path}['text']")
    elif kind in ("image", "video", "document"):
        _media(_object(parameter, kind, f"{path}['{kind}']"), f"{path}['{kind}']")
    elif kind == "currency":
        _object(parameter, "currency", f"{path}['currency']")
    elif kind == "date_time":
        _object(parameter, "date_time", f"{path}['date_time']")


_VALIDATORS: dict[str, Callable[[dict[str, Any]], None]] = {
    "contacts": _contacts,
    "interactive": _interactive,
    "location": _location,
    "reaction": _reaction,
    "text": _text,
}
