"""A whole request: one item of any type, or a batch of them.

Importing this builds the models of every message type; the sender's own path validates an item
by the model of its type alone (:mod:`wacloud.meta.outbound.parsing`) and comes here only for
what that cannot judge, and for the JSON Schema.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, TypeAdapter, field_validator

from wacloud.meta.outbound.contacts import ContactsMessage
from wacloud.meta.outbound.interactive import InteractiveMessage
from wacloud.meta.outbound.items import MAX_BATCH_SIZE
from wacloud.meta.outbound.location import LocationMessage
from wacloud.meta.outbound.media import (
    AudioMessage,
    DocumentMessage,
    ImageMessage,
    StickerMessage,
    VideoMessage,
)
from wacloud.meta.outbound.model import ONE_OF, ContractModel, unique
from wacloud.meta.outbound.reaction import ReactionMessage
from wacloud.meta.outbound.read import MarkAsRead
from wacloud.meta.outbound.template import TemplateMessage
from wacloud.meta.outbound.text import TextMessage

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
    ONE_OF,
]


class SendBatch(ContractModel):
    messages: list[OutboundItem] = Field(min_length=1, max_length=MAX_BATCH_SIZE)

    @field_validator("messages")
    @classmethod
    def _distinct_keys(cls, messages: list[OutboundItem]) -> list[OutboundItem]:
        keys = [item.idempotency_key for item in messages if item.idempotency_key is not None]
        unique(keys, "idempotency keys")
        return messages


SendRequest = SendBatch | OutboundItem
ITEM: TypeAdapter[OutboundItem] = TypeAdapter(OutboundItem, config=ConfigDict(defer_build=True))
