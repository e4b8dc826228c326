"""A template message: a pre-approved template and the values of its parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, WithJsonSchema, field_serializer, field_validator
from pydantic_core import PydanticCustomError

from wacloud.meta.outbound.fields import CURRENCY_CODE_PATTERN
from wacloud.meta.outbound.items import Message
from wacloud.meta.outbound.media import DocumentParameter, ImageParameter, VideoParameter
from wacloud.meta.outbound.model import ONE_OF, ContractModel


class _TemplateParameter(ContractModel):
    parameter_name: str | None = Field(
        default=None, min_length=1, description="Only for templates created with named parameters."
    )


class TextParameter(_TemplateParameter):
    type: Literal["text"]
    text: str = Field(min_length=1)


class Currency(ContractModel):
    fallback_value: str = Field(min_length=1)
    code: str = Field(pattern=CURRENCY_CODE_PATTERN)
    amount_1000: int = Field(description="The amount multiplied by 1000: 100990 for 100.99.")


class CurrencyParameter(_TemplateParameter):
    type: Literal["currency"]
    currency: Currency


class DateTime(ContractModel):
    fallback_value: str = Field(min_length=1)


class DateTimeParameter(_TemplateParameter):
    type: Literal["date_time"]
    date_time: DateTime


class PayloadParameter(ContractModel):
    type: Literal["payload"]
    payload: str = Field(min_length=1)


HeaderParameter = Annotated[TextParameter | ImageParameter | VideoParameter | DocumentParameter, ONE_OF]
BodyParameter = Annotated[TextParameter | CurrencyParameter | DateTimeParameter, ONE_OF]
ButtonParameter = Annotated[PayloadParameter | TextParameter, ONE_OF]


class HeaderComponent(ContractModel):
    type: Literal["header"]
    parameters: list[HeaderParameter] = Field(min_length=1, max_length=1)


class BodyComponent(ContractModel):
    type: Literal["body"]
    parameters: list[BodyParameter] = Field(min_length=1)


class ButtonComponent(ContractModel):
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


CardHeaderParameter = Annotated[ImageParameter | VideoParameter, ONE_OF]


class CardHeaderComponent(ContractModel):
    """A carousel card's header: its image or video (every card of a carousel has one)."""

    type: Literal["header"]
    parameters: list[CardHeaderParameter] = Field(min_length=1, max_length=1)


CardComponent = Annotated[CardHeaderComponent | BodyComponent | ButtonComponent, ONE_OF]
MAX_CARD_BUTTONS = 2


def _shape(components: Sequence[Any]) -> list[str]:
    """What a card holds, as Meta compares cards: each component's type (and a button's sub_type)."""
    return sorted(f"{c.type}:{c.sub_type}" if isinstance(c, ButtonComponent) else c.type for c in components)


class CarouselCard(ContractModel):
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


class CarouselComponent(ContractModel):
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


TemplateComponent = Annotated[HeaderComponent | BodyComponent | ButtonComponent | CarouselComponent, ONE_OF]


class Language(ContractModel):
    code: str = Field(min_length=2, max_length=15, description="The template's language, e.g. en_US.")
    policy: Literal["deterministic"] | None = None


class Template(ContractModel):
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


class TemplateMessage(Message):
    """A pre-approved template: the only kind Meta delivers outside the 24-hour window."""

    requires_open_window: ClassVar[bool] = False
    is_template: ClassVar[bool] = True

    type: Literal["template"]
    template: Template
