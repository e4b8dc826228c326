"""The sender's input contract: one model per outbound message type, and the Graph API body of each.

A request is one item or a batch ``{"messages": [item, ...]}``. An item is a message in Meta's
own ``POST /<version>/<phone-number-id>/messages`` shape (``to``, ``type`` and the object named
by ``type``), or Meta's mark-as-read form ``{"status": "read", "message_id": ...}``. The sender
adds what Meta requires but callers may omit (``messaging_product``, ``recipient_type``) and
accepts one field of its own, ``idempotency_key``, which is never sent to Meta.

Unknown fields are refused rather than ignored: a misspelt optional field would otherwise be
dropped silently and the user would get a different message than intended.

Each family of message types has its own module, imported on first use of one of its names (or
of an item of its type, see :mod:`wacloud.meta.outbound.parsing`): creating the classes of some
eighty models is a large part of the sender's cold start, and a send needs only its own type's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wacloud.core.lazy import lazy_names
from wacloud.meta.outbound.fields import BusinessScopedId, PhoneNumberId, Recipient, S3Uri, Url
from wacloud.meta.outbound.items import MAX_BATCH_SIZE, Context
from wacloud.meta.outbound.parsing import Problem, SendRequestError, parse_send_request
from wacloud.meta.outbound.results import (
    MAX_ERROR_TEXT,
    STATUS_FAILED,
    SendError,
    SendResponse,
    SendResult,
    error_text,
)

if TYPE_CHECKING:
    from wacloud.meta.outbound.contacts import (
        Contact,
        ContactAddress,
        ContactEmail,
        ContactName,
        ContactOrg,
        ContactPhone,
        ContactsMessage,
        ContactUrl,
    )
    from wacloud.meta.outbound.interactive import (
        MAX_PRODUCTS,
        ButtonAction,
        ButtonInteractive,
        CtaUrlAction,
        CtaUrlInteractive,
        CtaUrlParameters,
        FlowAction,
        FlowActionPayload,
        FlowInteractive,
        FlowParameters,
        Footer,
        Interactive,
        InteractiveBody,
        InteractiveHeader,
        InteractiveMessage,
        InteractiveTextHeader,
        ListAction,
        ListBody,
        ListInteractive,
        LocationRequestAction,
        LocationRequestInteractive,
        ProductAction,
        ProductInteractive,
        ProductItem,
        ProductListAction,
        ProductListInteractive,
        ProductSection,
        Reply,
        ReplyButton,
        Row,
        Section,
    )
    from wacloud.meta.outbound.location import Location, LocationMessage
    from wacloud.meta.outbound.media import (
        AudioMessage,
        CaptionedMedia,
        DocumentMedia,
        DocumentMessage,
        DocumentParameter,
        DocumentRef,
        ImageMessage,
        ImageParameter,
        MediaRef,
        StickerMessage,
        VideoMessage,
        VideoParameter,
    )
    from wacloud.meta.outbound.reaction import Reaction, ReactionMessage
    from wacloud.meta.outbound.read import MarkAsRead, TypingIndicator
    from wacloud.meta.outbound.request import OutboundItem, SendBatch, SendRequest
    from wacloud.meta.outbound.template import (
        MAX_CARD_BUTTONS,
        BodyComponent,
        BodyParameter,
        ButtonComponent,
        ButtonParameter,
        CardComponent,
        CardHeaderComponent,
        CardHeaderParameter,
        CarouselCard,
        CarouselComponent,
        Currency,
        CurrencyParameter,
        DateTime,
        DateTimeParameter,
        HeaderComponent,
        HeaderParameter,
        Language,
        PayloadParameter,
        Template,
        TemplateComponent,
        TemplateMessage,
        TextParameter,
    )
    from wacloud.meta.outbound.text import TextBody, TextMessage

__all__ = [
    "MAX_BATCH_SIZE",
    "MAX_CARD_BUTTONS",
    "MAX_ERROR_TEXT",
    "MAX_PRODUCTS",
    "STATUS_FAILED",
    "AudioMessage",
    "BodyComponent",
    "BodyParameter",
    "BusinessScopedId",
    "ButtonAction",
    "ButtonComponent",
    "ButtonInteractive",
    "ButtonParameter",
    "CaptionedMedia",
    "CardComponent",
    "CardHeaderComponent",
    "CardHeaderParameter",
    "CarouselCard",
    "CarouselComponent",
    "Contact",
    "ContactAddress",
    "ContactEmail",
    "ContactName",
    "ContactOrg",
    "ContactPhone",
    "ContactUrl",
    "ContactsMessage",
    "Context",
    "CtaUrlAction",
    "CtaUrlInteractive",
    "CtaUrlParameters",
    "Currency",
    "CurrencyParameter",
    "DateTime",
    "DateTimeParameter",
    "DocumentMedia",
    "DocumentMessage",
    "DocumentParameter",
    "DocumentRef",
    "FlowAction",
    "FlowActionPayload",
    "FlowInteractive",
    "FlowParameters",
    "Footer",
    "HeaderComponent",
    "HeaderParameter",
    "ImageMessage",
    "ImageParameter",
    "Interactive",
    "InteractiveBody",
    "InteractiveHeader",
    "InteractiveMessage",
    "InteractiveTextHeader",
    "Language",
    "ListAction",
    "ListBody",
    "ListInteractive",
    "Location",
    "LocationMessage",
    "LocationRequestAction",
    "LocationRequestInteractive",
    "MarkAsRead",
    "MediaRef",
    "OutboundItem",
    "PayloadParameter",
    "PhoneNumberId",
    "Problem",
    "ProductAction",
    "ProductInteractive",
    "ProductItem",
    "ProductListAction",
    "ProductListInteractive",
    "ProductSection",
    "Reaction",
    "ReactionMessage",
    "Recipient",
    "Reply",
    "ReplyButton",
    "Row",
    "S3Uri",
    "Section",
    "SendBatch",
    "SendError",
    "SendRequest",
    "SendRequestError",
    "SendResponse",
    "SendResult",
    "StickerMessage",
    "Template",
    "TemplateComponent",
    "TemplateMessage",
    "TextBody",
    "TextMessage",
    "TextParameter",
    "TypingIndicator",
    "Url",
    "VideoMessage",
    "VideoParameter",
    "error_text",
    "parse_send_request",
]

FAMILIES = {
    "text": "TextBody TextMessage",
    "media": (
        "MediaRef DocumentRef CaptionedMedia DocumentMedia ImageParameter VideoParameter "
        "DocumentParameter ImageMessage VideoMessage AudioMessage DocumentMessage StickerMessage"
    ),
    "template": (
        "TextParameter Currency CurrencyParameter DateTime DateTimeParameter PayloadParameter "
        "HeaderParameter BodyParameter ButtonParameter HeaderComponent BodyComponent "
        "ButtonComponent CardHeaderParameter CardHeaderComponent CardComponent MAX_CARD_BUTTONS "
        "CarouselCard CarouselComponent TemplateComponent Language Template TemplateMessage"
    ),
    "interactive": (
        "InteractiveTextHeader InteractiveHeader InteractiveBody ListBody Footer Reply ReplyButton "
        "ButtonAction Row Section ListAction CtaUrlParameters CtaUrlAction ButtonInteractive "
        "ListInteractive CtaUrlInteractive LocationRequestAction LocationRequestInteractive "
        "FlowActionPayload FlowParameters FlowAction FlowInteractive ProductAction "
        "ProductInteractive ProductItem MAX_PRODUCTS ProductSection ProductListAction "
        "ProductListInteractive Interactive InteractiveMessage"
    ),
    "location": "Location LocationMessage",
    "contacts": (
        "ContactAddress ContactEmail ContactName ContactOrg ContactPhone ContactUrl Contact ContactsMessage"
    ),
    "reaction": "Reaction ReactionMessage",
    "read": "TypingIndicator MarkAsRead",
    "request": "OutboundItem SendBatch SendRequest",
}
_FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names.split()}


__getattr__ = lazy_names(__name__, _FAMILY_OF)
