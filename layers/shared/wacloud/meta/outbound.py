"""The sender's input contract: one model per outbound message type, and the Graph API body of each.

A request is one item or a batch ``{"messages": [item, ...]}``. An item is a message in Meta's
own ``POST /<version>/<phone-number-id>/messages`` shape (``to``, ``type`` and the object named
by ``type``), or Meta's mark-as-read form ``{"status": "read", "message_id": ...}``. The sender
adds what Meta requires but callers may omit (``messaging_product``, ``recipient_type``) and
accepts one field of its own, ``idempotency_key``, which is never sent to Meta.

Unknown fields are refused rather than ignored: a misspelt optional field would otherwise be
dropped silently and the user would get a different message than intended.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    PlainValidator,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, ErrorDetails, PydanticCustomError

from wacloud.core.errors import WaCloudError
from wacloud.meta.error_codes import error_code, is_retryable
from wacloud.meta.identifiers import BUSINESS_SCOPED_ID_PATTERN, BUSINESS_SCOPED_ID_RULE

MAX_BATCH_SIZE = 100
STATUS_FAILED = "failed"
MAX_ERROR_TEXT = 1000

_URL = r"^https?://\S+$"
_CURRENCY_CODE = r"^[A-Z]{3}$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PHONE_NUMBER_ID = r"^[0-9]{5,20}$"
_PATTERN_RULES = {
    BUSINESS_SCOPED_ID_PATTERN: BUSINESS_SCOPED_ID_RULE,
    _PHONE_NUMBER_ID: "must be a business phone number id (5 to 20 digits)",
    _URL: "must be an http(s) URL",
    _CURRENCY_CODE: "must be an ISO 4217 currency code such as 'USD'",
    _DATE: "must be a date YYYY-MM-DD",
}
_E164_DIGITS = re.compile(r"[0-9]{8,15}")  # not \d: it also matches non-ASCII digits
_RECIPIENT_RULE = "must be 8 to 15 digits (E.164 without '+')"
_UNKNOWN_TYPE = "unknown_type"
_NO_ADDRESSEE = "addressee"
_ADDRESSEE_RULE = "required: a phone number (or 'recipient': a business-scoped user id)"


def _recipient(value: object) -> str:
    digits = value.removeprefix("+") if isinstance(value, str) else ""
    if not _E164_DIGITS.fullmatch(digits):
        raise PydanticCustomError("recipient", _RECIPIENT_RULE)
    if digits.startswith("0"):
        raise PydanticCustomError("recipient", "must start with the country code, not 0")
    return digits


Recipient = Annotated[
    str,
    PlainValidator(_recipient),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\+?[1-9][0-9]{7,14}$",
            "description": "E.164 number, digits only; a leading '+' is accepted and removed.",
        }
    ),
]
BusinessScopedId = Annotated[
    str,
    Field(
        pattern=BUSINESS_SCOPED_ID_PATTERN,
        description="A business-scoped user id (BSUID) or parent BSUID, for a contact known without "
        "a number; sent to Meta as `recipient`.",
    ),
]
PhoneNumberId = Annotated[
    str,
    Field(
        pattern=_PHONE_NUMBER_ID,
        description="The business number to send from: one of the stack's (WHATSAPP_PHONE_NUMBER_IDS). "
        "Default: the number the contact last wrote to, else the stack's default. Never in the body.",
    ),
]
Url = Annotated[str, Field(pattern=_URL)]
# An object of the stack's own bucket: s3://<bucket>/<key>.
S3Uri = Annotated[
    str,
    Field(
        pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/\S.*$",
        max_length=1100,
        description="An object in the stack's payload bucket (media/ or outbound/): the sender uploads it "
        "to Meta once per content and sends the media id. Never sent to Meta.",
    ),
]


def _tag(value: Any) -> str | None:
    """The union member ``value`` belongs to, named ``field=value`` after its ``type`` (or ``status``)."""
    for field in ("type", "status"):
        found = value.get(field) if isinstance(value, Mapping) else getattr(value, field, None)
        if isinstance(found, str):
            return f"{field}={found}"
    return None


class _OneOf:
    """Marks ``Annotated[A | B | ..., _ONE_OF]``: a union of models told apart by their ``type``.

    Pydantic puts the tag of a discriminated union into error locations. Tags spelt
    ``type=<value>`` can never be field names, so :func:`_problems` drops them and reports
    ``template.components[1].parameters[0].currency.code`` rather than a path with
    ``currency`` twice, which a tag equal to the ``type`` value would produce.
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        members: tuple[type[BaseModel], ...] = get_args(source)
        tagged: list[Any] = []
        types: list[str] = []
        for member in members:
            field = "type" if "type" in member.model_fields else "status"
            value = get_args(member.model_fields[field].annotation)[0]
            tagged.append(Annotated[member, Tag(f"{field}={value}")])
            if field == "type":
                types.append(repr(value))
        rule = "must be one of " + ", ".join(types)
        if len(types) < len(members):
            rule += " (or no type and status 'read' to mark a message as read)"
        return handler.generate_schema(
            Annotated[
                Union[tuple(tagged)],  # noqa: UP007 (built at run time, cannot be spelt with |)
                Discriminator(
                    _tag,
                    custom_error_type=_UNKNOWN_TYPE,
                    custom_error_message=rule,
                ),
            ]
        )


_ONE_OF = _OneOf()


class _Model(BaseModel):
    # Built on first use: only the request's root (a TypeAdapter, SendBatch) is ever validated,
    # and each built root holds its parts' validators; building every part's own at import
    # too cost the sender's cold start for validators nothing calls.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --- media ---------------------------------------------------------------------------------


class MediaRef(_Model):
    """A media object: an uploaded media ``id``, a public ``link``, or ``s3_uri``, an object of the
    stack's bucket (the sender's own field: it uploads the object and sends the id), exactly one."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["id"]}, {"required": ["link"]}, {"required": ["s3_uri"]}]}
    )

    id: str | None = Field(default=None, min_length=1)
    link: Url | None = None
    s3_uri: S3Uri | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if sum(source is not None for source in (self.id, self.link, self.s3_uri)) != 1:
            raise PydanticCustomError("media_source", "set exactly one of 'link', 'id' or 's3_uri'")
        return self


class DocumentRef(MediaRef):
    filename: str | None = Field(default=None, min_length=1)


class CaptionedMedia(MediaRef):
    caption: str | None = Field(default=None, max_length=1024)


class DocumentMedia(DocumentRef):
    caption: str | None = Field(default=None, max_length=1024)


# --- template and header parameters ----------------------------------------------------------


class _TemplateParameter(_Model):
    parameter_name: str | None = Field(
        default=None, min_length=1, description="Only for templates created with named parameters."
    )


class TextParameter(_TemplateParameter):
    type: Literal["text"]
    text: str = Field(min_length=1)


class Currency(_Model):
    fallback_value: str = Field(min_length=1)
    code: str = Field(pattern=_CURRENCY_CODE)
    amount_1000: int = Field(description="The amount multiplied by 1000: 100990 for 100.99.")


class CurrencyParameter(_TemplateParameter):
    type: Literal["currency"]
    currency: Currency


class DateTime(_Model):
    fallback_value: str = Field(min_length=1)


class DateTimeParameter(_TemplateParameter):
    type: Literal["date_time"]
    date_time: DateTime


class ImageParameter(_Model):
    type: Literal["image"]
    image: MediaRef


class VideoParameter(_Model):
    type: Literal["video"]
    video: MediaRef


class DocumentParameter(_Model):
    type: Literal["document"]
    document: DocumentRef


class PayloadParameter(_Model):
    type: Literal["payload"]
    payload: str = Field(min_length=1)


HeaderParameter = Annotated[TextParameter | ImageParameter | VideoParameter | DocumentParameter, _ONE_OF]
BodyParameter = Annotated[TextParameter | CurrencyParameter | DateTimeParameter, _ONE_OF]
ButtonParameter = Annotated[PayloadParameter | TextParameter, _ONE_OF]


class HeaderComponent(_Model):
    type: Literal["header"]
    parameters: list[HeaderParameter] = Field(min_length=1, max_length=1)


class BodyComponent(_Model):
    type: Literal["body"]
    parameters: list[BodyParameter] = Field(min_length=1)


class ButtonComponent(_Model):
    """Values for one button of the template: a quick-reply payload or the dynamic end of a URL."""

    type: Literal["button"]
    sub_type: Literal["quick_reply", "url"]
    index: Annotated[
        int,
        Field(ge=0, le=9),
        # Meta's examples spell it as a string ("0"); both spellings are accepted.
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": 9},
                    {"type": "string", "pattern": "^[0-9]$"},
                ],
                "description": "Position of the button in the template, 0 to 9.",
            }
        ),
    ]
    parameters: list[ButtonParameter] = Field(min_length=1, max_length=1)

    @field_validator("parameters")
    @classmethod
    def _matches_sub_type(
        cls, parameters: list[ButtonParameter], info: ValidationInfo
    ) -> list[ButtonParameter]:
        expected = {"quick_reply": "payload", "url": "text"}.get(info.data.get("sub_type", ""))
        if expected and any(parameter.type != expected for parameter in parameters):
            raise PydanticCustomError(
                "button_parameter",
                "a {sub_type} button takes a '{expected}' parameter",
                {"sub_type": info.data["sub_type"], "expected": expected},
            )
        return parameters

    @field_serializer("index")
    def _index_as_string(self, index: int) -> str:
        return str(index)


CardHeaderParameter = Annotated[ImageParameter | VideoParameter, _ONE_OF]


class CardHeaderComponent(_Model):
    """A carousel card's header: its image or video (every card of a carousel has one)."""

    type: Literal["header"]
    parameters: list[CardHeaderParameter] = Field(min_length=1, max_length=1)


CardComponent = Annotated[CardHeaderComponent | BodyComponent | ButtonComponent, _ONE_OF]
MAX_CARD_BUTTONS = 2


def _shape(components: Sequence[Any]) -> list[str]:
    """What a card holds, as Meta compares cards: each component's type (and a button's sub_type)."""
    return sorted(f"{c.type}:{c.sub_type}" if isinstance(c, ButtonComponent) else c.type for c in components)


class CarouselCard(_Model):
    card_index: int = Field(ge=0, le=9, description="The card's place in the carousel, 0 for the first.")
    components: list[CardComponent] = Field(min_length=1)

    @field_validator("components")
    @classmethod
    def _one_header(cls, components: list[CardComponent]) -> list[CardComponent]:
        kinds = [component.type for component in components]
        if kinds.count("header") != 1:
            raise PydanticCustomError("card_header", "a card needs exactly one header (its image or video)")
        if kinds.count("body") > 1:
            raise PydanticCustomError("card_body", "a card has at most one body")
        if kinds.count("button") > MAX_CARD_BUTTONS:
            raise PydanticCustomError(
                "card_buttons", "a card has at most {most} buttons", {"most": MAX_CARD_BUTTONS}
            )
        return components


class CarouselComponent(_Model):
    """The cards of a media card carousel template, each with its own header, body and buttons."""

    type: Literal["carousel"]
    cards: list[CarouselCard] = Field(min_length=2, max_length=10)

    @field_validator("cards")
    @classmethod
    def _numbered_alike(cls, cards: list[CarouselCard]) -> list[CarouselCard]:
        # Meta: a send includes every card of the template, and all cards have the same components.
        if sorted(card.card_index for card in cards) != list(range(len(cards))):
            raise PydanticCustomError(
                "card_index",
                "card_index must number the cards 0 to {last}, each once",
                {"last": len(cards) - 1},
            )
        if any(_shape(card.components) != _shape(cards[0].components) for card in cards):
            raise PydanticCustomError("card_components", "every card must hold the same components")
        return cards


TemplateComponent = Annotated[HeaderComponent | BodyComponent | ButtonComponent | CarouselComponent, _ONE_OF]


class Language(_Model):
    code: str = Field(min_length=2, max_length=15, description="The template's language, e.g. en_US.")
    policy: Literal["deterministic"] | None = None


class Template(_Model):
    name: str = Field(min_length=1, max_length=512)
    language: Language
    components: list[TemplateComponent] | None = Field(default=None, min_length=1)

    @field_validator("components")
    @classmethod
    def _one_carousel(cls, components: list[TemplateComponent] | None) -> list[TemplateComponent] | None:
        if components is None or not any(c.type == "carousel" for c in components):
            return components
        if sum(c.type == "carousel" for c in components) > 1:
            raise PydanticCustomError("carousel", "a template has at most one carousel")
        # A carousel template is its message body and its cards: headers and buttons are the cards'.
        if any(c.type not in ("body", "carousel") for c in components):
            raise PydanticCustomError(
                "carousel",
                "beside a carousel a template takes only a body: headers and buttons go in its cards",
            )
        return components


# --- interactive ----------------------------------------------------------------------------


class InteractiveTextHeader(_Model):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=60)


InteractiveHeader = Annotated[
    InteractiveTextHeader | ImageParameter | VideoParameter | DocumentParameter, _ONE_OF
]


class InteractiveBody(_Model):
    text: str = Field(min_length=1, max_length=1024)


class ListBody(InteractiveBody):
    text: str = Field(min_length=1, max_length=4096)


class Footer(_Model):
    text: str = Field(min_length=1, max_length=60)


class Reply(_Model):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ReplyButton(_Model):
    type: Literal["reply"] = "reply"
    reply: Reply


def _unique(values: Sequence[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise PydanticCustomError("not_unique", "{what} must be unique", {"what": what})


class ButtonAction(_Model):
    buttons: list[ReplyButton] = Field(min_length=1, max_length=3)

    @field_validator("buttons")
    @classmethod
    def _distinct(cls, buttons: list[ReplyButton]) -> list[ReplyButton]:
        _unique([button.reply.id for button in buttons], "button ids")
        _unique([button.reply.title for button in buttons], "button titles")
        return buttons


class Row(_Model):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class Section(_Model):
    title: str | None = Field(default=None, min_length=1, max_length=24)
    rows: list[Row] = Field(min_length=1, max_length=10)


class ListAction(_Model):
    button: str = Field(min_length=1, max_length=20, description="Label of the button that opens the list.")
    sections: list[Section] = Field(min_length=1, max_length=10)

    @field_validator("sections")
    @classmethod
    def _meta_limits(cls, sections: list[Section]) -> list[Section]:
        rows = [row for section in sections for row in section.rows]
        if len(rows) > 10:
            raise PydanticCustomError(
                "too_many_rows", "must hold at most 10 rows in all (got {count})", {"count": len(rows)}
            )
        if len(sections) > 1 and any(section.title is None for section in sections):
            raise PydanticCustomError("section_title", "each section needs a title when there are several")
        _unique([row.id for row in rows], "row ids")
        return sections


class CtaUrlParameters(_Model):
    display_text: str = Field(min_length=1, max_length=20)
    url: Url


class CtaUrlAction(_Model):
    name: Literal["cta_url"] = "cta_url"
    parameters: CtaUrlParameters


class _Interactive(_Model):
    type: str
    header: InteractiveHeader | None = None
    body: InteractiveBody
    footer: Footer | None = None


class ButtonInteractive(_Interactive):
    """Up to three reply buttons."""

    type: Literal["button"]
    action: ButtonAction


class ListInteractive(_Interactive):
    """A menu of up to ten rows in up to ten sections."""

    type: Literal["list"]
    header: InteractiveTextHeader | None = None
    body: ListBody
    action: ListAction


class CtaUrlInteractive(_Interactive):
    """One button that opens a URL."""

    type: Literal["cta_url"]
    action: CtaUrlAction


class LocationRequestAction(_Model):
    name: Literal["send_location"] = "send_location"


class LocationRequestInteractive(_Model):
    """Asks the user to share their location: body text and WhatsApp's Send location button.

    Meta allows no header or footer on it."""

    type: Literal["location_request_message"]
    body: InteractiveBody
    action: LocationRequestAction


class FlowActionPayload(_Model):
    screen: str = Field(min_length=1, description="The id of the Flow's first screen.")
    data: dict[str, Any] | None = Field(
        default=None, min_length=1, description="Input data for the first screen: a non-empty object."
    )


class FlowParameters(_Model):
    """Which Flow to open and how: by ``flow_id`` or ``flow_name`` (exactly one)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["flow_id"]}, {"required": ["flow_name"]}]}
    )

    flow_message_version: Literal["3"] = "3"
    flow_id: str | None = Field(default=None, min_length=1, description="The Flow's id, as WhatsApp gave it.")
    flow_name: str | None = Field(
        default=None, min_length=1, description="The Flow's name, instead of its id."
    )
    # Meta's current reference advises 30 characters at most (older pages said 20) and no emoji.
    flow_cta: str = Field(
        min_length=1, max_length=30, description="Label of the button that opens the Flow, without emoji."
    )
    mode: Literal["draft", "published"] | None = Field(
        default=None, description="published (Meta's default) or draft, to test a Flow not yet published."
    )
    flow_token: str | None = Field(
        default=None,
        min_length=1,
        description="The business's identifier of this send, returned with the answers.",
    )
    flow_action: Literal["navigate", "data_exchange"] | None = Field(
        default=None,
        description="navigate (Meta's default) opens flow_action_payload.screen; data_exchange asks "
        "the Flow's endpoint for the first screen.",
    )
    flow_action_payload: FlowActionPayload | None = None

    @model_validator(mode="after")
    def _meta_rules(self) -> Self:
        if (self.flow_id is None) == (self.flow_name is None):
            raise PydanticCustomError("flow_ref", "set exactly one of 'flow_id' or 'flow_name'")
        if self.flow_action == "data_exchange" and self.flow_action_payload is not None:
            raise PydanticCustomError(
                "flow_action_payload", "flow_action_payload goes only with flow_action 'navigate'"
            )
        return self


class FlowAction(_Model):
    name: Literal["flow"] = "flow"
    parameters: FlowParameters


class FlowInteractive(_Interactive):
    """A button that opens a WhatsApp Flow."""

    type: Literal["flow"]
    action: FlowAction


class ProductAction(_Model):
    catalog_id: str = Field(min_length=1, description="The catalog connected to the business account.")
    product_retailer_id: str = Field(
        min_length=1, description="The product's SKU (Content ID) in the catalog."
    )


class ProductInteractive(_Model):
    """One product of the catalog; Meta shows its picture and price (no header)."""

    type: Literal["product"]
    body: InteractiveBody | None = None
    footer: Footer | None = None
    action: ProductAction


class ProductItem(_Model):
    product_retailer_id: str = Field(min_length=1)


MAX_PRODUCTS = 30


class ProductSection(_Model):
    title: str | None = Field(default=None, min_length=1, max_length=24)
    product_items: list[ProductItem] = Field(min_length=1, max_length=MAX_PRODUCTS)


class ProductListAction(_Model):
    catalog_id: str = Field(min_length=1, description="The catalog connected to the business account.")
    sections: list[ProductSection] = Field(min_length=1, max_length=10)

    @field_validator("sections")
    @classmethod
    def _meta_limits(cls, sections: list[ProductSection]) -> list[ProductSection]:
        count = sum(len(section.product_items) for section in sections)
        if count > MAX_PRODUCTS:
            raise PydanticCustomError(
                "too_many_products",
                "must hold at most {most} products in all (got {count})",
                {"most": MAX_PRODUCTS, "count": count},
            )
        if len(sections) > 1 and any(section.title is None for section in sections):
            raise PydanticCustomError("section_title", "each section needs a title when there are several")
        return sections


class ProductListInteractive(_Model):
    """Up to 30 products of the catalog in up to ten sections, under a text header."""

    type: Literal["product_list"]
    header: InteractiveTextHeader
    body: InteractiveBody
    footer: Footer | None = None
    action: ProductListAction


Interactive = Annotated[
    ButtonInteractive
    | ListInteractive
    | CtaUrlInteractive
    | LocationRequestInteractive
    | FlowInteractive
    | ProductInteractive
    | ProductListInteractive,
    _ONE_OF,
]


# --- location, contacts, reaction -------------------------------------------------------------


class Location(_Model):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = None
    address: str | None = None


class ContactAddress(_Model):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    type: str | None = Field(default=None, description="HOME or WORK.")


class ContactEmail(_Model):
    email: str | None = None
    type: str | None = Field(default=None, description="HOME or WORK.")


class ContactName(_Model):
    formatted_name: str = Field(min_length=1)
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    prefix: str | None = None

    @model_validator(mode="after")
    def _more_than_formatted(self) -> Self:
        # Meta refuses a name made of formatted_name alone.
        if not any((self.first_name, self.last_name, self.middle_name, self.suffix, self.prefix)):
            raise PydanticCustomError(
                "contact_name",
                "needs first_name, last_name, middle_name, suffix or prefix besides formatted_name",
            )
        return self


class ContactOrg(_Model):
    company: str | None = None
    department: str | None = None
    title: str | None = None


class ContactPhone(_Model):
    phone: str | None = None
    type: str | None = Field(default=None, description="CELL, MAIN, IPHONE, HOME or WORK.")
    wa_id: str | None = None


class ContactUrl(_Model):
    url: str | None = None
    type: str | None = Field(default=None, description="HOME or WORK.")


class Contact(_Model):
    addresses: list[ContactAddress] | None = None
    birthday: str | None = Field(default=None, pattern=_DATE)
    emails: list[ContactEmail] | None = None
    name: ContactName
    org: ContactOrg | None = None
    phones: list[ContactPhone] | None = None
    urls: list[ContactUrl] | None = None


class Reaction(_Model):
    message_id: str = Field(min_length=1, description="The wamid of the message reacted to.")
    emoji: str = Field(description="An empty string removes the reaction.")


# --- items -------------------------------------------------------------------------------------


class Context(_Model):
    message_id: str = Field(min_length=1, description="The wamid of the message replied to.")


class _Item(_Model):
    """Fields every item of a request accepts."""

    messaging_product: Literal["whatsapp"] | None = None
    phone_number_id: PhoneNumberId | None = None
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The caller's key for deduplicating resends; never sent to Meta.",
    )

    requires_open_window: ClassVar[bool] = True
    """Meta delivers it only within 24 hours of the user's last message."""
    is_template: ClassVar[bool] = False

    _NOT_SENT: ClassVar[set[str]] = {
        "messaging_product",
        "recipient_type",
        "idempotency_key",
        "phone_number_id",
    }

    @property
    def kind(self) -> str:
        """The message ``type``, or ``mark_as_read``: a label for logs and metrics."""
        raise NotImplementedError

    @property
    def addressee(self) -> str | None:
        """Who the item goes to, as the request names them: a number or a business-scoped id."""
        return None

    def _graph_envelope(self) -> dict[str, Any]:
        return {"messaging_product": "whatsapp"}

    def to_graph_body(self) -> dict[str, Any]:
        """The JSON body of ``POST /<version>/<phone-number-id>/messages`` for this item."""
        fields = self.model_dump(mode="json", exclude_none=True, exclude=self._NOT_SENT)
        return {**self._graph_envelope(), **fields}


class _Message(_Item):
    to: Recipient | None = None
    recipient: BusinessScopedId | None = None
    type: str
    recipient_type: Literal["individual"] | None = None
    context: Context | None = Field(default=None, description="Makes the message a reply.")
    biz_opaque_callback_data: str | None = Field(
        default=None, max_length=512, description="Returned by Meta in the status webhooks of this message."
    )

    @model_validator(mode="after")
    def _addressed(self) -> Self:
        if self.to is None and self.recipient is None:
            raise PydanticCustomError(_NO_ADDRESSEE, _ADDRESSEE_RULE)
        return self

    @property
    def kind(self) -> str:
        return self.type

    @property
    def addressee(self) -> str | None:
        # Meta's rule when both are given: the number wins.
        return self.to if self.to is not None else self.recipient

    def _graph_envelope(self) -> dict[str, Any]:
        return {"messaging_product": "whatsapp", "recipient_type": "individual"}


class TextBody(_Model):
    body: str = Field(min_length=1, max_length=4096)
    preview_url: bool | None = None


class TextMessage(_Message):
    type: Literal["text"]
    text: TextBody


class ImageMessage(_Message):
    type: Literal["image"]
    image: CaptionedMedia


class VideoMessage(_Message):
    type: Literal["video"]
    video: CaptionedMedia


class AudioMessage(_Message):
    type: Literal["audio"]
    audio: MediaRef


class DocumentMessage(_Message):
    type: Literal["document"]
    document: DocumentMedia


class StickerMessage(_Message):
    type: Literal["sticker"]
    sticker: MediaRef


class TemplateMessage(_Message):
    """A pre-approved template: the only kind Meta delivers outside the 24-hour window."""

    requires_open_window: ClassVar[bool] = False
    is_template: ClassVar[bool] = True

    type: Literal["template"]
    template: Template


class InteractiveMessage(_Message):
    type: Literal["interactive"]
    interactive: Interactive


class LocationMessage(_Message):
    type: Literal["location"]
    location: Location


class ContactsMessage(_Message):
    type: Literal["contacts"]
    contacts: list[Contact] = Field(min_length=1)


class ReactionMessage(_Message):
    type: Literal["reaction"]
    reaction: Reaction

    @field_validator("context")
    @classmethod
    def _not_a_reply(cls, context: Context | None) -> Context | None:
        if context is not None:
            raise PydanticCustomError(
                "reaction_context", "not allowed for a reaction: it names its message in reaction.message_id"
            )
        return context


class TypingIndicator(_Model):
    type: Literal["text"] = "text"


class MarkAsRead(_Item):
    """Meta's mark-as-read: blue ticks on the user's message, optionally a typing indicator."""

    requires_open_window: ClassVar[bool] = False

    status: Literal["read"]
    message_id: str = Field(min_length=1)
    typing_indicator: TypingIndicator | None = None

    @property
    def kind(self) -> str:
        return "mark_as_read"


OutboundItem = Annotated[
    TextMessage
    | ImageMessage
    | VideoMessage
    | AudioMessage
    | DocumentMessage
    | StickerMessage
    | TemplateMessage
    | InteractiveMessage
    | LocationMessage
    | ContactsMessage
    | ReactionMessage
    | MarkAsRead,
    _ONE_OF,
]


class SendBatch(_Model):
    messages: list[OutboundItem] = Field(min_length=1, max_length=MAX_BATCH_SIZE)

    @field_validator("messages")
    @classmethod
    def _distinct_keys(cls, messages: list[OutboundItem]) -> list[OutboundItem]:
        keys = [item.idempotency_key for item in messages if item.idempotency_key is not None]
        _unique(keys, "idempotency keys")
        return messages


SendRequest = SendBatch | OutboundItem
_ITEM: TypeAdapter[OutboundItem] = TypeAdapter(OutboundItem, config=ConfigDict(defer_build=True))


# --- parsing ----------------------------------------------------------------------------------


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
            return items if items is not None else list(SendBatch.model_validate(event).messages)
        validate = _member(event)
        return [validate(event) if validate is not None else _ITEM.validate_python(event)]
    except ValidationError as exc:
        raise SendRequestError(_problems(exc.errors())) from exc


# Validating through the union first builds the validator of every message type (most of the
# sender's cold start). An item whose tag names a member is validated by that member's model
# alone, which builds only its own validator: the same checks, errors and locations, the union's
# tag aside, which _problems drops anyway. Anything else goes through the union, for its errors.
_MEMBERS: dict[str, Callable[[object], OutboundItem]] = {}


def _member(value: object) -> Callable[[object], OutboundItem] | None:
    """The ``model_validate`` of the union member ``value``'s tag names, if any."""
    if not _MEMBERS:
        for member in get_args(get_args(OutboundItem)[0]):
            field = "type" if "type" in member.model_fields else "status"
            _MEMBERS[f"{field}={get_args(member.model_fields[field].annotation)[0]}"] = member.model_validate
    tag = _tag(value) if isinstance(value, Mapping) else None
    return _MEMBERS.get(tag) if tag is not None else None


def _batch_by_type(event: Mapping[str, Any]) -> list[OutboundItem] | None:
    """A batch's items validated each by its own model, or None when the batch needs
    :class:`SendBatch` itself: its shape is wrong, an item is no member, or its keys repeat."""
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
        if error["type"] == _NO_ADDRESSEE:
            loc.append("to")
        if error["type"] == _UNKNOWN_TYPE:
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
    "string_pattern_mismatch": lambda ctx: _PATTERN_RULES.get(ctx["pattern"], f"must match {ctx['pattern']}"),
    "model_type": lambda ctx: "must be a JSON object",
    "model_attributes_type": lambda ctx: "must be a JSON object",
    "dict_type": lambda ctx: "must be a JSON object",
    "literal_error": lambda ctx: f"must be {ctx['expected']}",
}


# --- results -----------------------------------------------------------------------------------


class SendError(BaseModel):
    """Why Meta refused a message, and whether the same request may succeed later."""

    model_config = ConfigDict(frozen=True)

    code: int
    title: str | None = None
    message: str | None = None
    details: str | None = None
    retryable: bool
    hint: str | None = Field(default=None, description="What to do about it, when the sender knows.")
    retry_after_seconds: int | None = Field(
        default=None, description="For a retryable error: the earliest sensible retry, when known."
    )

    @classmethod
    def from_graph(cls, error: Mapping[str, Any]) -> SendError:
        """From Meta's error object, as in a Graph API error answer or a ``failed`` status webhook.

        A code that is not a number (or digits) becomes -1, which no remedy lists: not retried.
        The texts are Meta's strings; anything else in their place is kept as compact JSON, so
        that no answer, however odd, can stop the sender from settling the item.
        """
        code = error_code(error.get("code"))
        data = error.get("error_data")
        return cls(
            code=code,
            title=error_text(error.get("title")) or error_text(error.get("error_user_title")),
            message=error_text(error.get("message")) or error_text(error.get("error_user_msg")),
            details=error_text(data.get("details") if isinstance(data, Mapping) else data),
            retryable=is_retryable(code),
        )


def error_text(value: object) -> str | None:
    """A field of an error as text of at most :data:`MAX_ERROR_TEXT` characters (None when empty).

    Errors are stored with the failed send and returned to callers: a value of any size or type
    must fit in a table item and in the answer.
    """
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "\u2026"


class SendResult(BaseModel):
    """The outcome of one item, in the order of the request.

    ``status`` is Meta's ``message_status`` (``accepted``, ``held_for_quality_assessment``, ...)
    for an accepted message, ``read`` for an acknowledged mark-as-read and ``failed`` with
    ``error`` set when Meta refused the request. Acceptance is not delivery: that arrives later
    in status webhooks.
    """

    model_config = ConfigDict(frozen=True)

    to: str | None
    message_id: str | None = None
    status: str
    error: SendError | None = None


class SendResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    results: list[SendResult]
