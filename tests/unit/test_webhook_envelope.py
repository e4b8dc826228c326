"""Which bodies SQS can carry inline: every character class SQS refuses, found by byte searches."""

from __future__ import annotations

import re

import pytest

from wacloud.webhook.envelope import INLINE_BODY_LIMIT, sqs_can_carry

# SQS's rule, as the XML character range: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
# #x10000-#x10FFFF. Valid UTF-8 holds no surrogates, which leaves these.
REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
BODY = '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}],"text":"%s"}'
# Small bodies and large ones are scanned differently: every rule is checked on both.
LARGE = BODY.replace("%s", "%s" + "x" * 20_000)
SIZES = pytest.mark.parametrize("template", [BODY, LARGE], ids=["small", "large"])


def _carried(character: str, template: str = BODY) -> bool:
    text = template % character
    body = text.encode("utf-8")
    carried = sqs_can_carry(body) == text
    # Judged alike when the text comes with the bytes (the webhook's event body).
    assert (sqs_can_carry(body, text) == text) is carried
    return carried


@SIZES
@pytest.mark.parametrize("code", [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
def test_every_character_sqs_refuses_sends_the_body_elsewhere(code: int, template: str) -> None:
    body = (template % chr(code)).encode("utf-8")
    assert sqs_can_carry(body) is None
    assert sqs_can_carry(body, body.decode("utf-8")) is None
    # Wherever it stands: first, last, alone.
    assert sqs_can_carry(chr(code).encode("utf-8") + body) is None
    assert sqs_can_carry(body + chr(code).encode("utf-8")) is None
    assert sqs_can_carry(chr(code).encode("utf-8")) is None


@pytest.mark.parametrize(
    "code", [0x09, 0x0A, 0x0D, 0x20, 0x7E, 0x7F, 0x80, 0xFF, 0xD7FF, 0xE000, 0xFFFD, 0x10000, 0x10FFFF]
)
@SIZES
def test_the_characters_at_the_edges_of_what_sqs_accepts_travel_inline(code: int, template: str) -> None:
    assert _carried(chr(code), template)


def test_every_character_is_judged_as_sqs_judges_it() -> None:
    # Every character of the basic plane and the start and end of each supplementary one.
    codes = [code for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF]
    codes += [
        code
        for plane in range(1, 17)
        for code in (plane << 16, (plane << 16) | 0xFFFD, (plane << 16) | 0xFFFF)
    ]
    wrong = [hex(code) for code in codes if _carried(chr(code)) != (REFUSED.search(chr(code)) is None)]
    assert wrong == []
    # The large bodies' scan, over the characters below U+0100 and the noncharacters' neighbours.
    codes = [*range(0x100), *range(0xFFF0, 0x10000)]
    wrong = [hex(code) for code in codes if _carried(chr(code), LARGE) != (REFUSED.search(chr(code)) is None)]
    assert wrong == []


def test_neighbours_of_the_refused_noncharacters_are_not_mistaken_for_them() -> None:
    # Their UTF-8 (EF BF BE, EF BF BF) next to bytes that share a prefix with it.
    assert _carried("\uffbe\uffbf\ufffd\uefbf")
    assert _carried("\u0fbf\ufbbe")


@pytest.mark.parametrize("body", [b"\xed\xa0\x80", b"{\xff}", b'{"a":"\xc3"}', b"\xef\xbf"])
def test_bytes_that_are_not_utf8_are_not_carried(body: bytes) -> None:
    assert sqs_can_carry(body) is None


def test_a_body_over_the_inline_limit_is_not_carried_whatever_it_holds() -> None:
    assert sqs_can_carry(b"a" * INLINE_BODY_LIMIT) == "a" * INLINE_BODY_LIMIT
    assert sqs_can_carry(b"a" * (INLINE_BODY_LIMIT + 1)) is None


def test_an_ascii_body_comes_back_as_the_same_text() -> None:
    body = b'{"entry":[{"text":"caf\\u00e9\\n"}]}\n\r\t'
    assert sqs_can_carry(body) == body.decode("ascii")
