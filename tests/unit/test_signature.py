"""The shape check that decides whether a signature header is worth an HMAC (and a secret re-read)."""

from __future__ import annotations

import pytest

from wacloud.meta.signature import is_valid_signature, looks_like_signature, sign

DIGEST = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "header", [f"sha256={DIGEST}", f"sha256={DIGEST.upper()}", f"SHA256={DIGEST}", f"  sha256={DIGEST} "]
)
def test_sha256_and_64_hex_digits_look_like_a_signature(header: str) -> None:
    assert looks_like_signature(header)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        DIGEST,
        f"sha1={DIGEST}",
        f"sha256={DIGEST[:-1]}",
        f"sha256={DIGEST}0",
        f"sha256={DIGEST[:-1]}g",
        f"sha256={DIGEST[:-1]}\u0663",  # a digit, but not an ASCII one
        f"sha256={DIGEST[:-1]}\uff41",  # a fullwidth 'a'
        f"sha256={DIGEST[:32]} {DIGEST[33:]}",
    ],
)
def test_anything_else_does_not(header: str | None) -> None:
    assert not looks_like_signature(header)


def test_a_signature_made_for_the_body_is_valid_and_looks_like_one() -> None:
    header = sign(b"{}", "secret")
    assert looks_like_signature(header)
    assert is_valid_signature(b"{}", header, "secret")
    assert not is_valid_signature(b"{} ", header, "secret")
