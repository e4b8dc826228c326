"""Meta's webhook signatures: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.

Meta signs the exact bytes it sends, so the signature is always computed over the raw request
body, never over re-serialised JSON.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="
# A set, not a scan of a string per character: checked on every POST before the HMAC.
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for ``body``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def looks_like_signature(header_value: str | None) -> bool:
    """Whether the header has the shape of a signature (``sha256=`` and 64 hex digits)."""
    if not header_value:
        return False
    candidate = header_value.strip()
    digest = candidate[len(_PREFIX) :]
    return (
        candidate[: len(_PREFIX)].lower() == _PREFIX and len(digest) == 64 and _HEX_DIGITS.issuperset(digest)
    )


def is_valid_signature(body: bytes, header_value: str | None, app_secret: str) -> bool:
    """Whether ``header_value`` is Meta's signature of ``body``, compared in constant time."""
    if not header_value or not app_secret:
        return False
    candidate = header_value.strip()
    if candidate[: len(_PREFIX)].lower() != _PREFIX:
        return False
    expected = sign(body, app_secret)[len(_PREFIX) :]
    # compare_digest over ASCII bytes: constant time, and a non-hex header cannot raise.
    return hmac.compare_digest(
        expected.encode("ascii"), candidate[len(_PREFIX) :].lower().encode("ascii", "replace")
    )
