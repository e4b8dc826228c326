"""The field types the contract's models share, and the rule each of their patterns states."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from wacloud.meta.identifiers import BUSINESS_SCOPED_ID_PATTERN, BUSINESS_SCOPED_ID_RULE

URL_PATTERN = r"^https?://\S+$"
CURRENCY_CODE_PATTERN = r"^[A-Z]{3}$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PHONE_NUMBER_ID = r"^[0-9]{5,20}$"
# A refused pattern is reported as the rule it states, not as the expression.
PATTERN_RULES = {
    BUSINESS_SCOPED_ID_PATTERN: BUSINESS_SCOPED_ID_RULE,
    _PHONE_NUMBER_ID: "must be a business phone number id (5 to 20 digits)",
    URL_PATTERN: "must be an http(s) URL",
    CURRENCY_CODE_PATTERN: "must be an ISO 4217 currency code such as 'USD'",
    DATE_PATTERN: "must be a date YYYY-MM-DD",
}
_E164_DIGITS = re.compile(r"[0-9]{8,15}")  # not \d: it also matches non-ASCII digits
_RECIPIENT_RULE = "must be 8 to 15 digits (E.164 without '+')"


def _recipient(value: object) -> str:
    digits = value.removeprefix("+") if isinstance(value, str) else ""
    if not _E164_DIGITS.fullmatch(digits):
        raise PydanticCustomError("recipient", _RECIPIENT_RULE)
    if digits.startswith("0"):
        raise PydanticCustomError("recipient", "must start with the country code, not 0")
    return digits


Recipient = Annotated[
    str,
    PlainValidator(_recipient),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\+?[1-9][0-9]{7,14}$",
            "description": "E.164 number, digits only; a leading '+' is accepted and removed.",
        }
    ),
]
BusinessScopedId = Annotated[
    str,
    Field(
        pattern=BUSINESS_SCOPED_ID_PATTERN,
        description="A business-scoped user id (BSUID) or parent BSUID, for a contact known without "
        "a number; sent to Meta as `recipient`.",
    ),
]
PhoneNumberId = Annotated[
    str,
    Field(
        pattern=_PHONE_NUMBER_ID,
        description="The business number to send from: one of the stack's (WHATSAPP_PHONE_NUMBER_IDS). "
        "Default: the number the contact last wrote to, else the stack's default. Never in the body.",
    ),
]
Url = Annotated[str, Field(pattern=URL_PATTERN)]
# An object of the stack's own bucket: s3://<bucket>/<key>.
S3Uri = Annotated[
    str,
    Field(
        pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/\S.*$",
        max_length=1100,
        description="An object in the stack's payload bucket (media/ or outbound/): the sender uploads it "
        "to Meta once per content and sends the media id. Never sent to Meta.",
    ),
]
