"""Typed models of the WhatsApp Cloud API webhook payloads (``object: whatsapp_business_account``).

Parse a POST body with :func:`read_payload`, then walk every update with :func:`iter_changes`,
:func:`iter_messages` and :func:`iter_statuses`: one POST may carry several entries, each with
several changes, each with several messages and statuses. ``read_payload`` types each update on
its own, so one update the models reject (a text latitude, a price in words) is set aside as an
:class:`UntypedPart` with the reason instead of taking the POST's other updates with it;
``WebhookPayload.model_validate_json(body)`` is the strict form, all or nothing.

The models are open on purpose, because Meta adds fields, message types and status values over
time and an update must never be lost for that:

* every model keeps unexpected fields (``extra="allow"``; read them from ``model_extra``);
* ``InboundMessage.type`` and ``Status.status`` are plain strings, not enums;
* only changes with ``field == "messages"`` are typed (:meth:`Change.messages_value`); the value of
  any other field (``message_template_status_update``, ``account_update``, ...) stays a dict;
* envelope fields are optional (``object``, the entry's ``id``, ``metadata``), and ids sent as
  numbers become strings;
* timestamps outside epoch seconds of 10 digits (negative, or past the year 2286: milliseconds
  sent by mistake, say) are clamped into that range, so that keys built from them keep their
  order; ``raw`` keeps the value as sent.

``InboundMessage.raw`` and ``Status.raw`` give the JSON object exactly as Meta sent it (timestamps
still strings, unknown fields included). ``model_dump(by_alias=True, exclude_unset=True)`` gives the
same keys with the parsed values (timestamps as ``int``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    GetPydanticSchema,
    ModelWrapValidatorHandler,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, ErrorDetails, core_schema

from wacloud.meta.core_schemas import (
    built_schema,
    by_input,
    unwrapped,
    with_field_schema,
    with_fields,
    with_items_schema,
)

__all__ = [
    "Audio",
    "Button",
    "ButtonReply",
    "Change",
    "Contact",
    "ContactAddress",
    "ContactEmail",
    "ContactName",
    "ContactOrg",
    "ContactPhone",
    "ContactUrl",
    "Conversation",
    "ConversationOrigin",
    "Document",
    "Entry",
    "ErrorData",
    "GraphError",
    "InboundMessage",
    "Interactive",
    "ListReply",
    "Location",
    "Media",
    "MessageContext",
    "MessagesValue",
    "Metadata",
    "NfmReply",
    "NotAWebhookError",
    "Order",
    "Pricing",
    "ProductItem",
    "Profile",
    "Reaction",
    "ReadPayload",
    "Referral",
    "ReferredProduct",
    "SharedContact",
    "Status",
    "Sticker",
    "System",
    "Text",
    "Unsupported",
    "UntypedPart",
    "WebhookModel",
    "WebhookPayload",
    "clamp_timestamp",
    "iter_changes",
    "iter_messages",
    "iter_statuses",
    "read_payload",
]

_JSON_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])

# Epoch seconds that keys can hold: 10 digits, up to 2286-11-20.
MAX_TIMESTAMP = 9_999_999_999


def clamp_timestamp(value: int) -> int:
    """``value`` within the epoch seconds keys can order: 0 to :data:`MAX_TIMESTAMP`."""
    return min(max(value, 0), MAX_TIMESTAMP)


def _timestamp_schema(_source: Any, _handler: GetCoreSchemaHandler) -> CoreSchema:
    # An int as pydantic reads one (same errors), kept as is when in range, and clamped by a Python
    # call only when out of range: a Python validator on every timestamp cost a twentieth of reading
    # a webhook.
    in_range = core_schema.int_schema(ge=0, le=MAX_TIMESTAMP)
    clamped = core_schema.no_info_plain_validator_function(clamp_timestamp)
    return core_schema.chain_schema(
        [core_schema.int_schema(), core_schema.union_schema([in_range, clamped], mode="left_to_right")],
        serialization=core_schema.simple_ser_schema("int"),
    )


def _timestamp_json_schema(_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
    return handler(core_schema.int_schema())  # described as before: an integer


Timestamp = Annotated[int, GetPydanticSchema(_timestamp_schema, _timestamp_json_schema)]
"""Epoch seconds as Meta sends them (a string of digits), clamped to what keys can order."""

KeyText = Annotated[str, Field(max_length=256)]
"""Text that becomes part of a table key (a wamid, a phone number, a status): DynamoDB refuses a
sort key over 1,024 bytes, which 256 characters cannot reach. Meta's are far shorter; a longer
one is not Meta's, and its update is set aside rather than failing every write."""


class WebhookModel(BaseModel):
    """Base of every webhook model: unexpected fields are kept, fields fill by name or alias, and
    numbers sent where Meta documents strings (ids, phone numbers) are taken as strings."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)


class _KeepsRaw(WebhookModel):
    """Remembers the JSON object the model was validated from, for storing updates verbatim."""

    # The Python names of fields whose alias differs (``from_``), known once the class is built:
    # working them out on each validation was the largest single cost of reading a webhook.
    _renamed: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._renamed = frozenset(
            name for name, info in cls.model_fields.items() if info.alias not in (None, name)
        )

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        # Input keyed by Python names (from_=...) is not Meta's JSON: raw then falls back to a dump.
        if isinstance(data, dict) and cls._renamed.isdisjoint(data):
            # Where pydantic keeps private attributes, set directly: declaring one (PrivateAttr)
            # makes pydantic run a post-init hook filling in its default on every instance, a
            # sixth of the cost of reading a webhook, to be overwritten at once here.
            object.__setattr__(model, "__pydantic_private__", {"_raw": data})
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The object this model was parsed from (shared, not copied): exactly what Meta sent."""
        private = self.__pydantic_private__
        raw: dict[str, Any] | None = private.get("_raw") if private else None
        if raw is None:  # built without validation (model_construct) or from Python names
            return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return raw


# --- errors -------------------------------------------------------------------------------------


class ErrorData(WebhookModel):
    details: str | None = None


class GraphError(WebhookModel):
    """An error in a change value, an unsupported message or a failed status."""

    code: int
    title: str | None = None
    message: str | None = None
    error_data: ErrorData | None = None
    href: str | None = None
    # Older payloads (unknown / unsupported messages) put the details here, not in error_data.
    details: str | None = None


# --- message bodies -----------------------------------------------------------------------------


class Text(WebhookModel):
    body: str


class Reaction(WebhookModel):
    message_id: str
    emoji: str | None = None  # absent when the customer removes a reaction


class Media(WebhookModel):
    """An image or video; ``id`` fetches the file (Meta stores it before it notifies)."""

    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None


class Audio(Media):
    voice: bool | None = None  # true for a voice note recorded in WhatsApp


class Document(Media):
    filename: str | None = None


class Sticker(Media):
    animated: bool | None = None


class Location(WebhookModel):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


class ContactName(WebhookModel):
    formatted_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    prefix: str | None = None


class ContactAddress(WebhookModel):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    type: str | None = None


class ContactEmail(WebhookModel):
    email: str | None = None
    type: str | None = None


class ContactPhone(WebhookModel):
    phone: str | None = None
    wa_id: str | None = None
    type: str | None = None


class ContactUrl(WebhookModel):
    url: str | None = None
    type: str | None = None


class ContactOrg(WebhookModel):
    company: str | None = None
    department: str | None = None
    title: str | None = None


class SharedContact(WebhookModel):
    """A contact card the customer shared (``type == "contacts"``)."""

    name: ContactName | None = None
    addresses: list[ContactAddress] = Field(default_factory=list)
    birthday: str | None = None
    emails: list[ContactEmail] = Field(default_factory=list)
    org: ContactOrg | None = None
    phones: list[ContactPhone] = Field(default_factory=list)
    urls: list[ContactUrl] = Field(default_factory=list)


class ButtonReply(WebhookModel):
    id: str
    title: str


class ListReply(WebhookModel):
    id: str
    title: str
    description: str | None = None


class NfmReply(WebhookModel):
    """A completed WhatsApp Flow; ``response_json`` is the JSON text of the flow's answers."""

    name: str | None = None
    body: str | None = None
    response_json: str

    @field_validator("response_json", mode="before")
    @classmethod
    def _as_json_text(cls, value: Any) -> Any:
        # Meta sends a string, but its own reference shows an object: accept both, expose one type.
        return _JSON_OBJECT.dump_json(value).decode() if isinstance(value, dict) else value

    def response(self) -> dict[str, Any]:
        """``response_json`` decoded (a JSON object carrying at least ``flow_token``)."""
        return _JSON_OBJECT.validate_json(self.response_json)


class Interactive(WebhookModel):
    """The answer to an interactive message; ``type`` names the attribute that is set."""

    type: str
    button_reply: ButtonReply | None = None
    list_reply: ListReply | None = None
    nfm_reply: NfmReply | None = None


class Button(WebhookModel):
    """A quick-reply button of a template message."""

    text: str
    payload: str | None = None


class ProductItem(WebhookModel):
    product_retailer_id: str
    quantity: int
    item_price: Decimal
    currency: str


class Order(WebhookModel):
    catalog_id: str
    product_items: list[ProductItem] = Field(default_factory=list)
    text: str | None = None


class System(WebhookModel):
    """A system notice: ``type`` is ``user_changed_number``, ``customer_identity_changed``, ..."""

    type: str | None = None
    body: str | None = None
    new_wa_id: KeyText | None = None
    wa_id: str | None = None
    identity: str | None = None
    customer: str | None = None


class Unsupported(WebhookModel):
    type: str | None = None


# --- message ------------------------------------------------------------------------------------


class ReferredProduct(WebhookModel):
    catalog_id: str
    product_retailer_id: str


class MessageContext(WebhookModel):
    """The message replied to (``id``, ``from``), forwarding flags, or the product asked about."""

    from_: str | None = Field(default=None, alias="from")
    id: str | None = None
    forwarded: bool | None = None
    frequently_forwarded: bool | None = None
    referred_product: ReferredProduct | None = None


class Referral(WebhookModel):
    """The click-to-WhatsApp ad or post the customer came from."""

    source_url: str | None = None
    source_id: str | None = None
    source_type: str | None = None
    headline: str | None = None
    body: str | None = None
    media_type: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    ctwa_clid: str | None = None


class InboundMessage(_KeepsRaw):
    """A message from a customer.

    The attribute named like ``type`` holds the body (``text``, ``image``, ``interactive``, ...).
    Types without a body here: ``request_welcome`` (a first contact), ``unknown`` and ``unsupported``
    (see ``errors``), and types Meta adds later, whose body stays in ``model_extra[type]``.
    """

    id: KeyText
    # Users who adopt a username may hide their number: from_user_id then identifies them.
    from_: KeyText | None = Field(default=None, alias="from")
    from_user_id: KeyText | None = None
    timestamp: Timestamp
    # Meta always sends it; defaulting keeps one odd message from sinking the rest of the POST.
    type: str = "unknown"
    context: MessageContext | None = None
    referral: Referral | None = None
    errors: list[GraphError] = Field(default_factory=list)

    text: Text | None = None
    reaction: Reaction | None = None
    image: Media | None = None
    video: Media | None = None
    audio: Audio | None = None
    document: Document | None = None
    sticker: Sticker | None = None
    location: Location | None = None
    contacts: list[SharedContact] | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    order: Order | None = None
    system: System | None = None
    unsupported: Unsupported | None = None

    @property
    def is_known_type(self) -> bool:
        """Whether the models know this type: a newer one keeps its body in ``model_extra``
        (stored raw all the same, and typed by a replay once the models learn it)."""
        return self.type in _BODYLESS_TYPES or (self.type in _BODY_TYPES)

    @property
    def unknown_fields(self) -> list[str]:
        """Top-level fields the models do not know (an unknown type's body aside)."""
        return sorted(name for name in self.model_extra or () if name != self.type)


# --- status -------------------------------------------------------------------------------------


class ConversationOrigin(WebhookModel):
    type: str | None = None


class Conversation(WebhookModel):
    id: str | None = None
    expiration_timestamp: int | None = None
    origin: ConversationOrigin | None = None


class Pricing(WebhookModel):
    billable: bool | None = None
    pricing_model: str | None = None
    category: str | None = None
    type: str | None = None


class Status(_KeepsRaw):
    """What became of a message the business sent (``status``: sent, delivered, read, failed, ...)."""

    id: KeyText
    status: KeyText
    timestamp: Timestamp
    recipient_id: KeyText | None = None
    # A message sent to a business-scoped id names it here (and its number only when Meta may share it).
    recipient_user_id: KeyText | None = None
    conversation: Conversation | None = None
    pricing: Pricing | None = None
    errors: list[GraphError] = Field(default_factory=list)
    biz_opaque_callback_data: str | None = None

    @property
    def unknown_fields(self) -> list[str]:
        """Top-level fields the models do not know (kept in ``raw`` all the same)."""
        return sorted(self.model_extra or ())


_PART_MODELS: dict[str, type[_KeepsRaw]] = {"messages": InboundMessage, "statuses": Status}
if InboundMessage._renamed != {"from_"} or Status._renamed:
    # _keep_raw_parts spells out the fields each model renames, for speed.
    raise RuntimeError("_keep_raw_parts no longer matches the fields the part models rename")

# The message types whose body the models type, and those Meta sends without a body.
_BODY_TYPES = frozenset(
    name
    for name in InboundMessage.model_fields
    if name not in {"id", "from_", "from_user_id", "timestamp", "type", "context", "referral", "errors"}
)
_BODYLESS_TYPES = frozenset({"request_welcome", "unknown", "unsupported"})


# --- envelope -----------------------------------------------------------------------------------


class Metadata(WebhookModel):
    display_phone_number: str | None = None
    phone_number_id: str | None = None


class Profile(WebhookModel):
    # Kept on the contact's profile item, which must stay far below DynamoDB's 400 KB.
    name: Annotated[str, Field(max_length=1024)] | None = None


class Contact(WebhookModel):
    """The customer behind messages of a change (not a shared contact card)."""

    wa_id: str | None = None
    user_id: str | None = None
    profile: Profile | None = None


# Read from JSON, each message and status is kept as sent by the value holding it, natively: the
# value reads its items with their models' wrap left out (it would have pydantic-core turn each
# item's JSON into Python and validate that, three times the cost of the model), and reads the same
# lists a second time, untyped, under names no JSON key can reach (validate_by_name is off for
# them); a function hands each item its object once both are read.
_RAW_MESSAGES = " raw messages"
_RAW_STATUSES = " raw statuses"
_RAW_PARTS = (("messages", _RAW_MESSAGES), ("statuses", _RAW_STATUSES))


def _keeping_raw_parts(model: core_schema.ModelSchema, handler: GetCoreSchemaHandler) -> CoreSchema:
    untyped = core_schema.with_default_schema(core_schema.list_schema(core_schema.any_schema()), default=None)
    reading = with_fields(
        model,
        {raw_name: core_schema.model_field(untyped, validation_alias=name) for name, raw_name in _RAW_PARTS},
        config={"validate_by_name": False},
    )
    for name, _ in _RAW_PARTS:
        reading = with_items_schema(reading, name, unwrapped(handler, _PART_MODELS[name]))
    return reading


def _keep_raw_parts(value: MessagesValue) -> MessagesValue:
    # Run once per value read, in the time of two models: written out for the fewest operations.
    held = value.__dict__
    sent = value.__pydantic_fields_set__
    # None when the value had no such list, and from Python input, whose models keep their own.
    raws = held.pop(_RAW_MESSAGES, None)
    if raws is not None:
        sent.discard(_RAW_MESSAGES)
        # Each is a JSON object (its model accepts nothing else); one keyed by a Python name
        # (from_) is not Meta's JSON, and its raw falls back to a dump.
        # The lists are one list read twice (no zip: a keyword to zip() costs more than the rest).
        models = held["messages"]
        for index, raw in enumerate(raws):
            if "from_" not in raw:
                _set_attribute(models[index], "__pydantic_private__", {"_raw": raw})
    raws = held.pop(_RAW_STATUSES, None)
    if raws is not None:
        sent.discard(_RAW_STATUSES)
        models = held["statuses"]
        for index, raw in enumerate(raws):
            _set_attribute(models[index], "__pydantic_private__", {"_raw": raw})
    return value


_set_attribute = object.__setattr__


class MessagesValue(WebhookModel):
    """The value of a ``messages`` change. Status-only values come without ``contacts``."""

    messaging_product: str = "whatsapp"
    metadata: Metadata | None = None
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[InboundMessage] = Field(default_factory=list)
    statuses: list[Status] = Field(default_factory=list)
    errors: list[GraphError] = Field(default_factory=list)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        built = built_schema(cls)
        if built is not None:
            return built
        # The link is made outside the split by input, where it also sees Python input (with no raw
        # lists: nothing to do): a model's schema whose outermost part is a function is the only kind
        # pydantic-core will not reuse whole inside its parents', which would make the link twice.
        split = by_input(
            handler(source), json=lambda model: _keeping_raw_parts(model, handler), python=lambda model: model
        )
        ref = split.pop("ref", None)  # on the whole, as pydantic puts a model validator's
        return core_schema.no_info_after_validator_function(_keep_raw_parts, split, ref=ref)

    def contact_for(self, message: InboundMessage) -> Contact | None:
        """The entry of ``contacts`` describing the sender of ``message``, if Meta sent one."""
        for contact in self.contacts:
            if (message.from_ is not None and contact.wa_id == message.from_) or (
                message.from_user_id is not None and contact.user_id == message.from_user_id
            ):
                return contact
        return None


# Any field but "messages" (Python's re: Rust's, pydantic-core's own, has no look-ahead).
_NOT_MESSAGES = r"^(?!messages\Z)"


class Change(WebhookModel):
    """One update of an entry. ``value`` is a :class:`MessagesValue` only for ``field == "messages"``."""

    field: KeyText
    value: MessagesValue | dict[str, Any]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        built = built_schema(cls)
        if built is not None:
            return built

        def by_field(model: core_schema.ModelSchema) -> CoreSchema:
            # Read from JSON, the value is typed by the field natively: a Python validator would have
            # pydantic-core turn the whole value into Python first, and validate that.
            messages = with_field_schema(model, "value", handler.generate_schema(MessagesValue))
            field: Any = model["schema"]["fields"]["field"]["schema"]
            others = with_field_schema(
                with_field_schema(model, "value", handler.generate_schema(dict[str, Any])),
                "field",
                {**field, "pattern": _NOT_MESSAGES, "regex_engine": "python-re"},
            )
            # A "messages" change whose value the models reject fails here, as from Python.
            by_tag = core_schema.tagged_union_schema({"messages": messages}, discriminator="field")
            return core_schema.union_schema([by_tag, others], mode="left_to_right")

        return by_input(handler(source), json=by_field, python=lambda model: model)

    @field_validator("value", mode="plain")
    @classmethod
    def _type_messages_only(cls, value: Any, info: ValidationInfo) -> MessagesValue | dict[str, Any]:
        # Chosen by field, not by shape: other fields (echoes, history, ...) can look alike.
        if info.data.get("field") == "messages":
            return MessagesValue.model_validate(value)
        return _JSON_OBJECT.validate_python(value)

    def messages_value(self) -> MessagesValue | None:
        """The typed value of a ``messages`` change; ``None`` for any other field."""
        return self.value if isinstance(self.value, MessagesValue) else None


class Entry(WebhookModel):
    id: KeyText | None = None  # the WhatsApp Business Account id
    changes: list[Change] = Field(default_factory=list)


class WebhookPayload(WebhookModel):
    """The body of one webhook POST."""

    object: str | None = None
    entry: list[Entry] = Field(default_factory=list)


def iter_changes(payload: WebhookPayload) -> Iterator[tuple[Entry, Change]]:
    """Every change of every entry, in payload order."""
    for entry in payload.entry:
        for change in entry.changes:
            yield entry, change


def iter_messages(payload: WebhookPayload) -> Iterator[tuple[MessagesValue, InboundMessage]]:
    """Every inbound message of the payload, with the value it came in (metadata, contacts)."""
    for _, change in iter_changes(payload):
        value = change.messages_value()
        if value is not None:
            for message in value.messages:
                yield value, message


def iter_statuses(payload: WebhookPayload) -> Iterator[tuple[MessagesValue, Status]]:
    """Every status update of the payload, with the value it came in (metadata)."""
    for _, change in iter_changes(payload):
        value = change.messages_value()
        if value is not None:
            for status in value.statuses:
                yield value, status


# --- reading a POST update by update ------------------------------------------------------------

# Enough of a validation error to find the fault; the part itself is kept beside it.
_MAX_ERRORS_DESCRIBED = 5


class NotAWebhookError(ValueError):
    """The body is not JSON, or JSON that is not a webhook POST: no part of it can be stored.

    The message says why in a few words, without quoting the body.
    """


@dataclass(frozen=True)
class UntypedPart:
    """A part of a POST the models could not type, as sent, with why."""

    path: str
    """Where it is in the POST, e.g. ``entry[0].changes[1].value.statuses[3]``."""
    kind: str
    """What it is: ``message``, ``status``, ``contact``, ``error``, ``metadata``, ``value``,
    ``change``, ``entry``, or a list that is not one (``messages``, ``changes``, ...)."""
    raw: Any
    error: str


@dataclass(frozen=True, slots=True)  # slots: made once per POST, a third of a microsecond less
class ReadPayload:
    """A POST's typed updates, and the parts set aside because they could not be typed."""

    payload: WebhookPayload
    untyped: list[UntypedPart]


def read_payload(body: bytes | str) -> ReadPayload:
    """Type every update of a webhook POST on its own; raise :class:`NotAWebhookError` when there
    is nothing to type (not JSON, not a JSON object, no ``entry`` nor ``object``)."""
    try:
        payload: WebhookPayload = _read_json(body)
    except ValidationError:
        pass  # not JSON, or some part is not typed: find out below
    else:
        sent = payload.__pydantic_fields_set__
        if "entry" not in sent and "object" not in sent:
            raise NotAWebhookError("not a webhook: a JSON object without entry or object")
        return ReadPayload(payload, [])
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise NotAWebhookError("not JSON: the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise NotAWebhookError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise NotAWebhookError(f"not a webhook: the JSON is {_json_kind(data)}, not an object")
    if "entry" not in data and "object" not in data:
        raise NotAWebhookError("not a webhook: a JSON object without entry or object")
    if not isinstance(data.get("entry", []), list):
        raise NotAWebhookError(f"not a webhook: entry is {_json_kind(data['entry'])}, not a list")
    reader = _PartReader()
    return ReadPayload(reader.payload(data), reader.untyped)


class _PartReader:
    """Types a POST bottom-up, one part at a time, setting aside each part that fails.

    Parts typed already go into their parent as model instances, which pydantic does not validate
    again, so each part is validated once. A part set aside is kept as it was sent.
    """

    def __init__(self) -> None:
        self.untyped: list[UntypedPart] = []

    def payload(self, data: dict[str, Any]) -> WebhookPayload:
        entries = self._each(data.get("entry"), "entry", "entry", self._entry)
        typed = self._envelope(WebhookPayload, {**data, "entry": entries}, data, "", "payload")
        if typed is None:
            raise NotAWebhookError(f"not a webhook: {self.untyped.pop().error}")
        return typed

    def _entry(self, raw: Any, path: str) -> Entry | None:
        if not isinstance(raw, dict):
            return self._typed(Entry, raw, path, "entry")
        changes = self._each(raw.get("changes"), f"{path}.changes", "changes", self._change)
        return self._envelope(Entry, {**raw, "changes": changes}, raw, path, "entry")

    def _change(self, raw: Any, path: str) -> Change | None:
        if not (
            isinstance(raw, dict) and raw.get("field") == "messages" and isinstance(raw.get("value"), dict)
        ):
            return self._typed(Change, raw, path, "change")
        value = self._messages_value(raw["value"], f"{path}.value")
        return None if value is None else self._typed(Change, {**raw, "value": value}, path, "change")

    def _messages_value(self, raw: dict[str, Any], path: str) -> MessagesValue | None:
        typed: dict[str, Any] = dict(raw)
        if raw.get("metadata") is not None:
            typed["metadata"] = self._typed(Metadata, raw["metadata"], f"{path}.metadata", "metadata")
        for name, model, kind in _VALUE_PARTS:
            if name in raw:
                typed[name] = self._each(raw[name], f"{path}.{name}", name, self._leaf(model, kind))
        return self._envelope(MessagesValue, typed, raw, path, "value")

    def _each(self, items: Any, path: str, kind: str, read: Callable[[Any, str], Any]) -> list[Any]:
        if items is None:
            return []
        if not isinstance(items, list):
            self.untyped.append(UntypedPart(path, kind, items, f"{_json_kind(items)}, not a list"))
            return []
        return [
            part for index, item in enumerate(items) if (part := read(item, f"{path}[{index}]")) is not None
        ]

    def _leaf(self, model: type[WebhookModel], kind: str) -> Callable[[Any, str], WebhookModel | None]:
        def read(raw: Any, path: str) -> WebhookModel | None:
            return self._typed(model, raw, path, kind)

        return read

    def _typed(self, model: type[_M], raw: Any, path: str, kind: str) -> _M | None:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            self.untyped.append(UntypedPart(path, kind, raw, describe_validation_error(exc)))
            return None

    def _envelope(
        self, model: type[_M], typed: dict[str, Any], raw: dict[str, Any], path: str, kind: str
    ) -> _M | None:
        """A part holding others: a malformed optional field of it is set aside alone, so that the
        updates it holds are kept."""
        try:
            return model.model_validate(typed)
        except ValidationError as exc:
            failed = exc
        errors = failed.errors(include_url=False, include_input=False, include_context=False)
        fields = {str(error["loc"][0]) for error in errors if error["loc"]}
        if all(error["type"] != "missing" and error["loc"] for error in errors):
            try:
                kept = model.model_validate(
                    {name: value for name, value in typed.items() if name not in fields}
                )
            except ValidationError:
                pass
            else:
                for name in sorted(fields):
                    about = [error for error in errors if str(error["loc"][0]) == name]
                    at = f"{path}.{name}" if path else name
                    self.untyped.append(UntypedPart(at, name, raw.get(name), _described(about)))
                return kept
        self.untyped.append(UntypedPart(path or "(payload)", kind, raw, _described(errors)))
        return None


# model_validate_json without its Python wrapper and lookups, called once per POST: tenths of a
# microsecond count in a read of fifteen.
_read_json = WebhookPayload.__pydantic_validator__.validate_json
_M = TypeVar("_M", bound=WebhookModel)
_VALUE_PARTS: tuple[tuple[str, type[WebhookModel], str], ...] = (
    ("contacts", Contact, "contact"),
    ("messages", InboundMessage, "message"),
    ("statuses", Status, "status"),
    ("errors", GraphError, "error"),
)


def describe_validation_error(exc: ValidationError) -> str:
    """Where and what, for each of the first few errors; never the input values."""
    return _described(exc.errors(include_url=False, include_input=False, include_context=False))


def _described(errors: list[ErrorDetails]) -> str:
    described = [
        f"{'.'.join(str(part) for part in error['loc']) or '(the part itself)'}: {error['msg']}"
        for error in errors[:_MAX_ERRORS_DESCRIBED]
    ]
    if len(errors) > _MAX_ERRORS_DESCRIBED:
        described.append(f"and {len(errors) - _MAX_ERRORS_DESCRIBED} more")
    return "; ".join(described)


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
