"""Short human-readable renderings of messages, for listing a conversation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Annotations only: the sender renders outbound texts and must not load the webhook models.
    from wacloud.meta.inbound import InboundMessage


def inbound_text(message: InboundMessage) -> str | None:
    """The text of an inbound message, or what stands for it (emoji, button, place, ...)."""
    if message.text is not None:
        return message.text.body
    if message.reaction is not None:
        return message.reaction.emoji
    if message.button is not None:
        return message.button.text
    if message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        return reply.title if reply is not None else message.interactive.type
    if message.location is not None:
        return message.location.name or f"{message.location.latitude},{message.location.longitude}"
    if message.system is not None:
        return message.system.body
    if message.order is not None:
        return message.order.text
    if message.contacts and message.contacts[0].name is not None:
        return message.contacts[0].name.formatted_name
    for media in (message.image, message.video, message.document):
        if media is not None and getattr(media, "caption", None):
            return str(media.caption)
    return None


def outbound_text(body: Mapping[str, Any]) -> str | None:
    """The text of a Graph API send request: its body, template name or media caption."""
    kind = body.get("type")
    if kind == "text":
        return str(body["text"]["body"])
    if kind == "template":
        return f"[template {body['template']['name']}]"
    if kind == "interactive":
        return _interactive_text(body["interactive"])
    content = body.get(str(kind))
    if isinstance(content, Mapping) and content.get("caption"):
        return str(content["caption"])
    return None


def _interactive_text(interactive: Mapping[str, Any]) -> str | None:
    """An interactive message's body text; a product without one is named by its SKU."""
    body = interactive.get("body")
    if isinstance(body, Mapping) and body.get("text"):
        return str(body["text"])
    action = interactive.get("action")
    if interactive.get("type") == "product" and isinstance(action, Mapping):
        return f"[product {action.get('product_retailer_id')}]"
    return None
