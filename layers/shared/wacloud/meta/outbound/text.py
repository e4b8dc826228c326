"""A text message."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wacloud.meta.outbound.items import Message
from wacloud.meta.outbound.model import ContractModel


class TextBody(ContractModel):
    body: str = Field(min_length=1, max_length=4096)
    preview_url: bool | None = None


class TextMessage(Message):
    type: Literal["text"]
    text: TextBody
