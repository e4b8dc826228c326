"""What every item of a request is: its common fields, and those of a message to a contact."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from wacloud.meta.outbound.fields import BusinessScopedId, PhoneNumberId, Recipient
from wacloud.meta.outbound.model import ContractModel

MAX_BATCH_SIZE = 100
NO_ADDRESSEE = "addressee"
_ADDRESSEE_RULE = "required: a phone number (or 'recipient': a business-scoped user id)"


class Context(ContractModel):
    message_id: str = Field(min_length=1, description="The wamid of the message replied to.")


class Item(ContractModel):
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


class Message(Item):
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
            raise PydanticCustomError(NO_ADDRESSEE, _ADDRESSEE_RULE)
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
