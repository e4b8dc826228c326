"""An interactive message: reply buttons, a list, a URL button, a location request, a Flow or products."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from wacloud.meta.outbound.fields import Url
from wacloud.meta.outbound.items import Message
from wacloud.meta.outbound.media import DocumentParameter, ImageParameter, VideoParameter
from wacloud.meta.outbound.model import ONE_OF, ContractModel, unique


class InteractiveTextHeader(ContractModel):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=60)


InteractiveHeader = Annotated[
    InteractiveTextHeader | ImageParameter | VideoParameter | DocumentParameter, ONE_OF
]


class InteractiveBody(ContractModel):
    text: str = Field(min_length=1, max_length=1024)


class ListBody(InteractiveBody):
    text: str = Field(min_length=1, max_length=4096)


class Footer(ContractModel):
    text: str = Field(min_length=1, max_length=60)


class Reply(ContractModel):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ReplyButton(ContractModel):
    type: Literal["reply"] = "reply"
    reply: Reply


class ButtonAction(ContractModel):
    buttons: list[ReplyButton] = Field(min_length=1, max_length=3)

    @field_validator("buttons")
    @classmethod
    def _distinct(cls, buttons: list[ReplyButton]) -> list[ReplyButton]:
        unique([button.reply.id for button in buttons], "button ids")
        unique([button.reply.title for button in buttons], "button titles")
        return buttons


class Row(ContractModel):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class Section(ContractModel):
    title: str | None = Field(default=None, min_length=1, max_length=24)
    rows: list[Row] = Field(min_length=1, max_length=10)


class ListAction(ContractModel):
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
        unique([row.id for row in rows], "row ids")
        return sections


class CtaUrlParameters(ContractModel):
    display_text: str = Field(min_length=1, max_length=20)
    url: Url


class CtaUrlAction(ContractModel):
    name: Literal["cta_url"] = "cta_url"
    parameters: CtaUrlParameters


class _Interactive(ContractModel):
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


class LocationRequestAction(ContractModel):
    name: Literal["send_location"] = "send_location"


class LocationRequestInteractive(ContractModel):
    """Asks the user to share their location: body text and WhatsApp's Send location button.

    Meta allows no header or footer on it."""

    type: Literal["location_request_message"]
    body: InteractiveBody
    action: LocationRequestAction


class FlowActionPayload(ContractModel):
    screen: str = Field(min_length=1, description="The id of the Flow's first screen.")
    data: dict[str, Any] | None = Field(
        default=None, min_length=1, description="Input data for the first screen: a non-empty object."
    )


class FlowParameters(ContractModel):
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


class FlowAction(ContractModel):
    name: Literal["flow"] = "flow"
    parameters: FlowParameters


class FlowInteractive(_Interactive):
    """A button that opens a WhatsApp Flow."""

    type: Literal["flow"]
    action: FlowAction


class ProductAction(ContractModel):
    catalog_id: str = Field(min_length=1, description="The catalog connected to the business account.")
    product_retailer_id: str = Field(
        min_length=1, description="The product's SKU (Content ID) in the catalog."
    )


class ProductInteractive(ContractModel):
    """One product of the catalog; Meta shows its picture and price (no header)."""

    type: Literal["product"]
    body: InteractiveBody | None = None
    footer: Footer | None = None
    action: ProductAction


class ProductItem(ContractModel):
    product_retailer_id: str = Field(min_length=1)


MAX_PRODUCTS = 30


class ProductSection(ContractModel):
    title: str | None = Field(default=None, min_length=1, max_length=24)
    product_items: list[ProductItem] = Field(min_length=1, max_length=MAX_PRODUCTS)


class ProductListAction(ContractModel):
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


class ProductListInteractive(ContractModel):
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
    ONE_OF,
]


class InteractiveMessage(Message):
    type: Literal["interactive"]
    interactive: Interactive
