"""Meta's error codes sorted by what the sender should do about them.

The classes are Meta's own remedies for Cloud API errors. A code missing from the table is
treated as "do not retry": resending a request Meta refused for an unknown reason risks
duplicate messages to the user and burns the rate limit, while a person reading the logged
error can add the code here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Remedy(StrEnum):
    RETRY_WITH_BACKOFF = "retry_with_backoff"
    RETRY_AFTER_24H = "retry_after_24h"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a remedy, not a secret)
    OPT_OUT = "opt_out"
    DO_NOT_RETRY = "do_not_retry"


PAIR_RATE_LIMIT = 131056
RETRY_TOMORROW = 131049
OPTED_OUT_OF_MARKETING = 131050
TOKEN_EXPIRED = 190
_DIGITS = re.compile(r"-?[0-9]{1,18}")  # not \d: it also matches non-ASCII digits

_RETRY_WITH_BACKOFF = (1, 2, 4, 80007, 130429, 131000, 131016, PAIR_RATE_LIMIT, 131057)
# Listed although they share the default remedy, so the table documents every code Meta names.
# 131047 belongs here: outside the 24-hour window only a template can reach the user.
# fmt: off
_DO_NOT_RETRY = (
    0, 3, 10, 100, 200, 368, 130403, 130497,
    131008, 131009, 131021, 131026, 131031, 131042, 131045, 131047, 131048, 131051, 131052, 131053,
    132000, 132001, 132012, 132015, 132016,
)
# fmt: on

REMEDIES: Mapping[int, Remedy] = MappingProxyType(
    {
        **dict.fromkeys(_RETRY_WITH_BACKOFF, Remedy.RETRY_WITH_BACKOFF),
        **dict.fromkeys(_DO_NOT_RETRY, Remedy.DO_NOT_RETRY),
        RETRY_TOMORROW: Remedy.RETRY_AFTER_24H,
        TOKEN_EXPIRED: Remedy.REFRESH_TOKEN,
        OPTED_OUT_OF_MARKETING: Remedy.OPT_OUT,
    }
)


def error_code(value: object) -> int:
    """Meta's ``code`` as an int: a number, or digits in a string; -1 for anything else.

    -1 is in no remedy's list, so a code that cannot be read is never retried on its strength.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    return -1


def classify(code: int) -> Remedy:
    """Meta's remedy for error ``code``; :attr:`Remedy.DO_NOT_RETRY` for codes not in the table."""
    return REMEDIES.get(code, Remedy.DO_NOT_RETRY)


def is_retryable(code: int) -> bool:
    """Whether the same request may succeed later, now with backoff or after 24 hours.

    190 is not retryable as such: the request only succeeds once the token is replaced.
    """
    return classify(code) in (Remedy.RETRY_WITH_BACKOFF, Remedy.RETRY_AFTER_24H)


def pair_limit_delay(attempt: int, cap_seconds: int | None = None) -> int:
    """Seconds to wait before retry number ``attempt`` (0, 1, 2, ...) after error 131056.

    Meta's advice for the pair rate limit (about one message per 6 s to the same user) is
    4**attempt seconds; ``cap_seconds`` bounds it, e.g. by the 900 s an SQS delay allows.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be 0 or more, got {attempt}")
    delay = int(4**attempt)  # int(): mypy types int ** int as Any (a negative power is a float)
    return delay if cap_seconds is None else min(delay, cap_seconds)
