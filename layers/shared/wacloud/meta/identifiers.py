"""How Meta identifies a WhatsApp user: a phone number (``wa_id``) or a business-scoped user id.

A business-scoped user id (BSUID) is Meta's per-business id of a user, sent beside the number or,
for a user who adopted a username and hides the number, instead of it: an ISO 3166 alpha-2
country code, a period and up to 128 letters and digits (``US.13491208655302741918``). A parent
BSUID, shared by linked business portfolios, has ``ENT.`` after the country (``US.ENT.1181...``).

Plain regular expressions: the processor and the sender both ask, and neither should load a
model for it.
"""

from __future__ import annotations

import re

_BUSINESS_SCOPED_ID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
BUSINESS_SCOPED_ID_PATTERN = r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$"
BUSINESS_SCOPED_ID_RULE = (
    "must be a business-scoped user id: a country code, a period and up to 128 letters or digits "
    "(US.13491208655302741918; a parent id has ENT. after the country)"
)


def is_business_scoped_id(value: str) -> bool:
    return _BUSINESS_SCOPED_ID.fullmatch(value) is not None and value.isascii()
