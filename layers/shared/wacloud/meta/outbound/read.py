"""Meta's mark-as-read, the one item that is not a message."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from wacloud.meta.outbound.items import Item
from wacloud.meta.outbound.model import ContractModel


class TypingIndicator(ContractModel):
    type: Literal["text"] = "text"


class MarkAsRead(Item):
    """Meta's mark-as-read: blue ticks on the user's message, optionally a typing indicator."""

    requires_open_window: ClassVar[bool] = False

    status: Literal["read"]
    message_id: str = Field(min_length=1)
    typing_indicator: TypingIndicator | None = None

    @property
    def kind(self) -> str:
        return "mark_as_read"
