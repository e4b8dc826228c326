"""Checks a ``/messages`` body the way the Cloud API does, naming the offending parameter."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wacloud.meta.identifiers import is_business_scoped_id

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
_BODY_OPTIONAL = frozenset({"product", "catalog_message", "voice_call"})
# Interactive types that take no header (product shows the product's own picture).
_NO_HEADER = frozenset({"location_request_message", "product"})
_NO_FOOTER = frozenset({"location_request_message"})
TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
SHORT_TEXT_MAX = 60
FLOW_CTA_MAX = 30
PRODUCTS_MAX = 30
_PHONE_SEPARATORS = re.compile(r"[\s\-().+]")


@dataclass(frozen=True)
class SendRequest:
    to: str
    """The recipient as the request named it: ``to``, or ``recipient`` (a business-scoped id)."""
    wa_id: str
    """The contact: digits of ``to``, or the business-scoped id of a ``recipient``-only request."""
    type: str
    body: dict[str, Any]
    template_name: str | None = None
    template: TemplateSpec | None = None
    user_id: str | None = None
    """The business-scoped id the request was addressed to, when it had no ``to``."""

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

    to, wa_id, user_id = _recipient(body)
    message_type = body.get("type", "text")
    if message_type not in MESSAGE_TYPES:
        allowed = ", ".join(t.upper() for t in MESSAGE_TYPES)
        raise errors.invalid_parameter("type", f'must be one of {{{allowed}}} - got "{message_type}".')
    context = body.get("context")
    if context is not None:
        _string(_object(body, "context", "context"), "message_id", "context['message_id']")

    if message_type == "template":
        name, spec = _template(body, config)
        return SendRequest(to, wa_id, message_type, body, template_name=name, template=spec, user_id=user_id)
    if message_type in MEDIA_TYPES:
        _media(_object(body, message_type, message_type), message_type)
    else:
        _VALIDATORS[message_type](body)
    return SendRequest(to, wa_id, message_type, body, user_id=user_id)


def phone_digits(value: object) -> str:
    """A phone number as Meta reads it: without spaces, dashes, dots, brackets or '+' ("" for no text)."""
    return _PHONE_SEPARATORS.sub("", value) if isinstance(value, str) else ""


def _recipient(body: dict[str, Any]) -> tuple[str, str, str | None]:
    """``to`` as given, the WhatsApp id Meta derives from it (digits only), and None; or, for a
    request with ``recipient`` and no ``to``, the business-scoped id three times."""
    to = body.get("to")
    if (to is None or to == "") and body.get("recipient") not in (None, ""):
        return _business_scoped_recipient(body)
    if to is None or to == "":
        raise errors.missing_parameter("to")
    if not isinstance(to, str):
        raise errors.invalid_parameter("to", "must be a string.")
    wa_id = phone_digits(to)
    if not wa_id.isdigit() or not 5 <= len(wa_id) <= 15:
        raise errors.invalid_parameter("to", f'must be a phone number in international format - got "{to}".')
    _recipient_type(body)
    return to, wa_id, None


def _business_scoped_recipient(body: dict[str, Any]) -> tuple[str, str, str]:
    recipient = body.get("recipient")
    if not isinstance(recipient, str) or not is_business_scoped_id(recipient):
        raise errors.invalid_parameter(
            "recipient",
            f'must be a business-scoped user ID or parent business-scoped user ID - got "{recipient}".',
        )
    _recipient_type(body)
    return recipient, recipient, recipient


def _recipient_type(body: dict[str, Any]) -> None:
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type != "individual":
        raise errors.invalid_parameter(
            "recipient_type", f'must be one of {{INDIVIDUAL}} - got "{recipient_type}".'
        )


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
    if kind not in _BODY_OPTIONAL or interactive.get("body") is not None:
        most = TEXT_MAX if kind == "list" else INTERACTIVE_BODY_MAX
        _string(
            _object(interactive, "body", "interactive['body']"),
            "text",
            "interactive['body']['text']",
            most=most,
        )
    for part, kinds in (("header", _NO_HEADER), ("footer", _NO_FOOTER)):
        if kind in kinds and part in interactive:
            raise errors.invalid_parameter(f"interactive['{part}']", f"is not allowed for type {kind}.")
    if interactive.get("footer") is not None:
        footer = _object(interactive, "footer", "interactive['footer']")
        _string(footer, "text", "interactive['footer']['text']", most=SHORT_TEXT_MAX)
    if kind in _ACTIONS:
        _ACTIONS[kind](interactive, action)


def _buttons(interactive: dict[str, Any], action: dict[str, Any]) -> None:
    buttons = _list(action, "buttons", "interactive['action']['buttons']", most=3)
    for index, button in enumerate(buttons):
        path = f"interactive['action']['buttons'][{index}]"
        if not isinstance(button, dict):
            raise errors.invalid_parameter(path, "must be a JSON object.")
        reply = _object(button, "reply", f"{path}['reply']")
        _string(reply, "id", f"{path}['reply']['id']", most=256)
        _string(reply, "title", f"{path}['reply']['title']", most=20)


def _list_menu(interactive: dict[str, Any], action: dict[str, Any]) -> None:
    _string(action, "button", "interactive['action']['button']", most=20)
    sections = _list(action, "sections", "interactive['action']['sections']", most=10)
    for index, section in enumerate(sections):
        path = f"interactive['action']['sections'][{index}]"
        if not isinstance(section, dict):
            raise errors.invalid_parameter(path, "must be a JSON object.")
        _list(section, "rows", f"{path}['rows']", most=10)


def _cta_url(interactive: dict[str, Any], action: dict[str, Any]) -> None:
    parameters = _object(action, "parameters", "interactive['action']['parameters']")
    _string(parameters, "display_text", "interactive['action']['parameters']['display_text']", most=20)
    _string(parameters, "url", "interactive['action']['parameters']['url']")


def _choice(parent: dict[str, Any], key: str, path: str, allowed: tuple[str, ...]) -> None:
    value = parent.get(key)
    if value is not None and value not in allowed:
        choices = ", ".join(a.upper() for a in allowed)
        raise errors.invalid_parameter(path, f'must be one of {{{choices}}} - got "{value}".')


def _action_name(action: dict[str, Any], expected: str) -> None:
    name = _string(action, "name", "interactive['action']['name']")
    if name != expected:
        raise errors.invalid_parameter(
            "interactive['action']['name']", f'must be "{expected}" - got "{name}".'
        )


def _location_request(interactive: dict[str, Any], action: dict[str, Any]) -> None:
    _action_name(action, "send_location")


def _flow(interactive: dict[str, Any], action: dict[str, Any]) -> None:
    _action_name(action, "flow")
    path = "interactive['action']['parameters']"
    parameters = _object(action, "parameters", path)
    version = _string(parameters, "flow_message_version", f"{path}['flow_message_version']")
    if version != "3":
        raise errors.invalid_parameter(f"{path}['flow_message_version']", f'must be "3" - got "{version}".')
    if ("flow_id" in parameters) == ("flow_name" in parameters):
        raise errors.invalid_parameter(
            f"{path}['flow_id']", "or flow_name is required, and only one of them."
        )
    reference = "flow_id" if "flow_id" in parameters else "flow_name"
    _string(parameters, reference, f"{path}['{reference}']")
    _string(parameters, "flow_cta", f"{path}['flow_cta']", most=FLOW_CTA_MAX)
    if "flow_token" in parameters:
        _string(parameters, "flow_token", f"{path}['flow_token']")
    _choice(parameters, "mode", f"{path}['mode']", ("draft", "published"))
    _choice(parameters, "flow_action", f"{path}['flow_action']", ("navigate", "data_exchange"))
    if parameters.get("flow_action_payload") is None:
        return
    payload_path = f"{path}['flow_action_payload']"
    if parameters.get("flow_action") == "data_exchange":
        raise errors.invalid_parameter(payload_path, "is only allowed with flow_action navigate.")
    payload = _object(parameters, "flow_action_payload", payload_path)
    _string(payload, "screen", f"{payload_path}['screen']")
    data = payload.get("data")
    if data is not None and not (isinstance(data, dict) and data):
        raise errors.invalid_parameter(f"{payload_path}['data']", "must be a non-empty JSON object.")


def _product(interactive: dict[str, Any], action: dict[str, Any]) -> None:
    _string(action, "catalog_id", "interactive['action']['catalog_id']")
    _string(action, "product_retailer_id", "interactive['action']['product_retailer_id']")


def _product_list(interactive: dict[str, Any], action: dict[str, Any]) -> None:
    header = _object(interactive, "header", "interactive['header']")
    if header.get("type") != "text":
        raise errors.invalid_parameter(
            "interactive['header']['type']", f'must be "text" - got "{header.get("type")}".'
        )
    _string(header, "text", "interactive['header']['text']", most=SHORT_TEXT_MAX)
    _string(action, "catalog_id", "interactive['action']['catalog_id']")
    sections = _list(action, "sections", "interactive['action']['sections']", most=10)
    count = 0
    for index, section in enumerate(sections):
        path = f"interactive['action']['sections'][{index}]"
        if not isinstance(section, dict):
            raise errors.invalid_parameter(path, "must be a JSON object.")
        if len(sections) > 1 or "title" in section:
            _string(section, "title", f"{path}['title']", most=24)
        items = _list(section, "product_items", f"{path}['product_items']", most=PRODUCTS_MAX)
        for number, item in enumerate(items):
            item_path = f"{path}['product_items'][{number}]"
            if not isinstance(item, dict):
                raise errors.invalid_parameter(item_path, "must be a JSON object.")
            _string(item, "product_retailer_id", f"{item_path}['product_retailer_id']")
        count += len(items)
    if count > PRODUCTS_MAX:
        raise errors.invalid_parameter(
            "interactive['action']['sections']",
            f"must hold at most {PRODUCTS_MAX} products in all - got {count}.",
        )


_ACTIONS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "button": _buttons,
    "cta_url": _cta_url,
    "flow": _flow,
    "list": _list_menu,
    "location_request_message": _location_request,
    "product": _product,
    "product_list": _product_list,
}


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
    params = _component_parameters(components, "template['components']")
    _check_counts(params, spec.body_params, spec.header, "")
    cards = [component for component in components if str(component.get("type", "")).lower() == "carousel"]
    if len(cards) > 1:
        raise errors.invalid_parameter("template['components']", "must hold at most one carousel.")
    received = _carousel(cards[0], spec, components.index(cards[0])) if cards else 0
    if received != spec.cards:
        raise errors.card_count(received, spec.cards)
    return name, spec


def _component_parameters(components: list[Any], path: str) -> dict[str, list[dict[str, Any]]]:
    """The header and body parameters of ``components``, each parameter checked."""
    params: dict[str, list[dict[str, Any]]] = {"header": [], "body": []}
    for index, component in enumerate(components):
        component_path = f"{path}[{index}]"
        if not isinstance(component, dict):
            raise errors.invalid_parameter(component_path, "must be a JSON object.")
        kind = str(_string(component, "type", f"{component_path}['type']")).lower()
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise errors.invalid_parameter(f"{component_path}['parameters']", "must be an array.")
        for number, parameter in enumerate(parameters):
            _template_parameter(parameter, f"{component_path}['parameters'][{number}]")
        if kind in params:
            params[kind].extend(parameters)
    return params


def _check_counts(params: dict[str, list[dict[str, Any]]], body: int, header: str | None, where: str) -> None:
    if len(params["body"]) != body:
        raise errors.parameter_count(f"{where}body", len(params["body"]), body)
    expected_header = 0 if header is None else 1
    if len(params["header"]) != expected_header:
        raise errors.parameter_count(f"{where}header", len(params["header"]), expected_header)
    if header is not None and params["header"][0]["type"] != header:
        raise errors.parameter_format(f"{where}header", header, str(params["header"][0]["type"]))


def _carousel(carousel: dict[str, Any], spec: TemplateSpec, index: int) -> int:
    """Checks each card against the template's cards; the number of cards sent."""
    path = f"template['components'][{index}]['cards']"
    cards = _list(carousel, "cards", path, most=10)
    seen: set[int] = set()
    for number, card in enumerate(cards):
        card_path = f"{path}[{number}]"
        if not isinstance(card, dict):
            raise errors.invalid_parameter(card_path, "must be a JSON object.")
        card_index = card.get("card_index")
        if card_index is None:
            raise errors.missing_parameter(f"{card_path}['card_index']")
        if (
            not isinstance(card_index, int)
            or isinstance(card_index, bool)
            or not 0 <= card_index < len(cards)
        ):
            raise errors.invalid_parameter(
                f"{card_path}['card_index']",
                f"must be an integer from 0 to {len(cards) - 1} - got {card_index}.",
            )
        if card_index in seen:
            raise errors.invalid_parameter(f"{card_path}['card_index']", f"repeats card {card_index}.")
        seen.add(card_index)
        components = _list(card, "components", f"{card_path}['components']")
        params = _component_parameters(components, f"{card_path}['components']")
        _check_counts(params, spec.card_body_params, spec.card_header, f"card {card_index} ")
    return len(cards)


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
