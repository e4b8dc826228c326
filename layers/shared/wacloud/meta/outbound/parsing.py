"""Reading a request: its items, each validated by the model its ``type`` names, or every problem."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from wacloud.core.errors import WaCloudError
from wacloud.meta.outbound.fields import PATTERN_RULES
from wacloud.meta.outbound.items import MAX_BATCH_SIZE, NO_ADDRESSEE
from wacloud.meta.outbound.model import UNKNOWN_TYPE, tag_of

if TYPE_CHECKING:
    from wacloud.meta.outbound.request import OutboundItem


@dataclass(frozen=True)
class Problem:
    """One reason a request was refused: where (``messages[2].to``; empty for the whole request) and why."""

    loc: str
    msg: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.msg}" if self.loc else self.msg


class SendRequestError(WaCloudError):
    """The request breaks the contract; :attr:`problems` lists every reason. Never retryable."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("invalid send request: " + "; ".join(map(str, self.problems)))


def parse_send_request(event: object) -> list[OutboundItem]:
    """The items of a request (one item, or ``{"messages": [...]}``), in order.

    Any JSON value is accepted as input: one that is not an object is a problem like any other.

    Raises :class:`SendRequestError` naming the field path and the rule of every problem.
    """
    try:
        if isinstance(event, Mapping) and "messages" in event:
            items = _batch_by_type(event)
            return items if items is not None else _whole_batch(event)
        validate = _member(event)
        return [validate(event) if validate is not None else _whole_item(event)]
    except ValidationError as exc:
        raise SendRequestError(_problems(exc.errors())) from exc


# Validating through the union builds the validator of every message type, and importing it the
# models of every type (most of the sender's cold start). An item whose tag names a member is
# validated by that member's model alone, imported from its own module on first use, which
# builds only that family's models: the same checks, errors and locations, the union's tag
# aside, which _problems drops anyway. Anything else goes through the union, for its errors.
# A test holds this table to the union's members.
MEMBERS: dict[str, tuple[str, str]] = {
    "type=text": ("text", "TextMessage"),
    "type=image": ("media", "ImageMessage"),
    "type=video": ("media", "VideoMessage"),
    "type=audio": ("media", "AudioMessage"),
    "type=document": ("media", "DocumentMessage"),
    "type=sticker": ("media", "StickerMessage"),
    "type=template": ("template", "TemplateMessage"),
    "type=interactive": ("interactive", "InteractiveMessage"),
    "type=location": ("location", "LocationMessage"),
    "type=contacts": ("contacts", "ContactsMessage"),
    "type=reaction": ("reaction", "ReactionMessage"),
    "status=read": ("read", "MarkAsRead"),
}
_VALIDATORS: dict[str, Callable[[object], OutboundItem]] = {}


def _member(value: object) -> Callable[[object], OutboundItem] | None:
    """The ``model_validate`` of the union member ``value``'s tag names, if any."""
    tag = tag_of(value) if isinstance(value, Mapping) else None
    if tag is None or tag not in MEMBERS:
        return None
    validate = _VALIDATORS.get(tag)
    if validate is None:
        module, name = MEMBERS[tag]
        validate = getattr(import_module(f"wacloud.meta.outbound.{module}"), name).model_validate
        _VALIDATORS[tag] = validate
    return validate


def _whole_item(value: object) -> OutboundItem:
    from wacloud.meta.outbound.request import ITEM  # noqa: PLC0415 (every type's models: only when needed)

    return ITEM.validate_python(value)


def _whole_batch(value: object) -> list[OutboundItem]:
    from wacloud.meta.outbound.request import SendBatch  # noqa: PLC0415 (as _whole_item)

    return list(SendBatch.model_validate(value).messages)


def _batch_by_type(event: Mapping[str, Any]) -> list[OutboundItem] | None:
    """A batch's items validated each by its own model, or None when the batch needs
    :class:`~wacloud.meta.outbound.request.SendBatch` itself: its shape is wrong, an item is no
    member, or its keys repeat."""
    messages = event["messages"]
    if len(event) != 1 or not isinstance(messages, list) or not 1 <= len(messages) <= MAX_BATCH_SIZE:
        return None
    validators = [_member(item) for item in messages]
    items: list[OutboundItem] = []
    errors: list[ErrorDetails] = []
    for index, (validate, item) in enumerate(zip(validators, messages, strict=True)):
        if validate is None:
            return None
        try:
            items.append(validate(item))
        except ValidationError as exc:
            errors += [{**error, "loc": ("messages", index, *error["loc"])} for error in exc.errors()]
    if errors:
        raise SendRequestError(_problems(errors))
    keys = [item.idempotency_key for item in items if item.idempotency_key is not None]
    return items if len(set(keys)) == len(keys) else None


def _problems(errors: Sequence[ErrorDetails]) -> list[Problem]:
    problems = []
    for error in errors:
        loc = [part for part in error["loc"] if not (isinstance(part, str) and "=" in part)]
        msg = _rule(error)
        if error["type"] == NO_ADDRESSEE:
            loc.append("to")
        if error["type"] == UNKNOWN_TYPE:
            if isinstance(error["input"], Mapping):
                loc.append("type")
            else:
                msg = "must be a JSON object"
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
        problems.append(Problem(path.removeprefix("."), msg))
    return problems


def _rule(error: ErrorDetails) -> str:
    """Pydantic's message for ``error`` reworded as the rule the field breaks."""
    rule = _RULES.get(error["type"])
    if rule is not None:
        return rule(error.get("ctx", {}))
    return error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")


_RULES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda ctx: "required",
    "extra_forbidden": lambda ctx: "unknown field",
    "string_too_short": lambda ctx: (
        "must not be empty" if ctx["min_length"] == 1 else f"must be at least {ctx['min_length']} characters"
    ),
    "string_too_long": lambda ctx: f"must be at most {ctx['max_length']} characters",
    "too_short": lambda ctx: f"must hold at least {ctx['min_length']} item(s)",
    "too_long": lambda ctx: f"must hold at most {ctx['max_length']} items (got {ctx['actual_length']})",
    "string_pattern_mismatch": lambda ctx: PATTERN_RULES.get(ctx["pattern"], f"must match {ctx['pattern']}"),
    "model_type": lambda ctx: "must be a JSON object",
    "model_attributes_type": lambda ctx: "must be a JSON object",
    "dict_type": lambda ctx: "must be a JSON object",
    "literal_error": lambda ctx: f"must be {ctx['expected']}",
}
