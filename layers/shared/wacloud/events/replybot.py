"""The example reply bot's rules: which received message gets which answer, as a send request.

The bot shows how a business's own code reacts to ``WhatsApp Message Received`` and answers
through the sender by putting a send request on the stack's bus, as any other service would. It
answers HELP with a fixed text and any other message with an acknowledgement, quoting it; it
leaves alone what is no conversation (reactions, system notices, unknown types), the consent
keywords (the processor records them and the sender applies them) and messages older than the
24-hour window (a late replay: a free-form answer would be refused). Each answer carries an
idempotency key derived from the message, so the sender sends it at most once per message,
however often the event comes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from wacloud.events.models import MessageReceived

HELP_TEXT = (
    "This is an automatic assistant. Write your question and a person will answer. "
    "Send STOP to stop messages, START to receive them again."
)
ACKNOWLEDGEMENT = "Thanks, we got your message and will answer soon."
ANSWERED_TYPES = frozenset(
    {
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "button",
    }
)
# Answers are sent within the window, with room for the sender's retries.
WINDOW_SECONDS = 24 * 3600 - 600


def reply_to(message: MessageReceived, now: float, quiet_words: Collection[str]) -> dict[str, Any] | None:
    """The send request answering ``message``, or None when the bot leaves it alone."""
    if message.type not in ANSWERED_TYPES or message.wa_id is None:
        return None
    if now - message.timestamp > WINDOW_SECONDS:
        return None
    words = (message.text or "").strip().upper() if message.type == "text" else ""
    if words in quiet_words:
        return None
    body = HELP_TEXT if words == "HELP" else ACKNOWLEDGEMENT
    request: dict[str, Any] = {
        "to": message.wa_id,
        "type": "text",
        "text": {"body": body},
        "context": {"message_id": message.wamid},
        "idempotency_key": f"replybot:{message.wamid}"[:128],
    }
    return request
