"""The example reply bot's rules: what it answers, what it leaves alone, and that it answers once."""

from __future__ import annotations

import pytest

from wacloud.events.models import MessageReceived
from wacloud.events.replybot import ACKNOWLEDGEMENT, HELP_TEXT, reply_to

NOW = 1763700100.0
QUIET = ("STOP", "UNSUBSCRIBE", "START")


def received(kind: str = "text", text: str | None = "hello", timestamp: int = 1763700000) -> MessageReceived:
    return MessageReceived(
        event_id="e",
        wa_id="16505551234",
        timestamp=timestamp,
        wamid="wamid.IN1",
        type=kind,
        text=text,
        message={"type": kind},
    )


@pytest.mark.parametrize(
    ("text", "answer"), [("HELP", HELP_TEXT), (" help ", HELP_TEXT), ("hello", ACKNOWLEDGEMENT)]
)
def test_help_gets_the_help_text_and_anything_else_an_acknowledgement(text: str, answer: str) -> None:
    request = reply_to(received(text=text), NOW, QUIET)
    assert request == {
        "to": "16505551234",
        "type": "text",
        "text": {"body": answer},
        "context": {"message_id": "wamid.IN1"},
        "idempotency_key": "replybot:wamid.IN1",
    }


def test_media_is_acknowledged_too() -> None:
    request = reply_to(received("image", "a caption"), NOW, QUIET)
    assert request is not None
    assert request["text"]["body"] == ACKNOWLEDGEMENT


@pytest.mark.parametrize(
    "message",
    [
        received(text="STOP"),
        received(text="start"),
        received("reaction", "👍"),
        received("system", "changed number"),
        received("unsupported", None),
        received(timestamp=int(NOW) - 24 * 3600),  # outside the window: a free-form answer is refused
    ],
)
def test_what_is_no_conversation_or_too_late_gets_no_answer(message: MessageReceived) -> None:
    assert reply_to(message, NOW, QUIET) is None


def test_the_same_message_always_gets_the_same_idempotency_key() -> None:
    first, again = reply_to(received(), NOW, QUIET), reply_to(received(), NOW + 60, QUIET)
    assert first is not None
    assert again is not None
    assert first["idempotency_key"] == again["idempotency_key"]
