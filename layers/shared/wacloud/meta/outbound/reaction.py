"""A reaction message: an emoji on a message of the conversation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from wacloud.meta.outbound.items import Context, Message
from wacloud.meta.outbound.model import ContractModel


class Reaction(ContractModel):
    message_id: str = Field(min_length=1, description="The wamid of the message reacted to.")
    emoji: str = Field(description="An empty string removes the reaction.")


class ReactionMessage(Message):
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
