"""A contacts message: one or more contact cards."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from wacloud.meta.outbound.fields import DATE_PATTERN
from wacloud.meta.outbound.items import Message
from wacloud.meta.outbound.model import ContractModel


class ContactAddress(ContractModel):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    type: str | None = Field(default=None, description="HOME or WORK.")


class ContactEmail(ContractModel):
    email: str | None = None
    type: str | None = Field(default=None, description="HOME or WORK.")


class ContactName(ContractModel):
    formatted_name: str = Field(min_length=1)
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    prefix: str | None = None

    @model_validator(mode="after")
    def _more_than_formatted(self) -> Self:
        # Meta refuses a name made of formatted_name alone.
        if not any((self.first_name, self.last_name, self.middle_name, self.suffix, self.prefix)):
            raise PydanticCustomError(
                "contact_name",
                "needs first_name, last_name, middle_name, suffix or prefix besides formatted_name",
            )
        return self


class ContactOrg(ContractModel):
    company: str | None = None
    department: str | None = None
    title: str | None = None


class ContactPhone(ContractModel):
    phone: str | None = None
    type: str | None = Field(default=None, description="CELL, MAIN, IPHONE, HOME or WORK.")
    wa_id: str | None = None


class ContactUrl(ContractModel):
    url: str | None = None
    type: str | None = Field(default=None, description="HOME or WORK.")


class Contact(ContractModel):
    addresses: list[ContactAddress] | None = None
    birthday: str | None = Field(default=None, pattern=DATE_PATTERN)
    emails: list[ContactEmail] | None = None
    name: ContactName
    org: ContactOrg | None = None
    phones: list[ContactPhone] | None = None
    urls: list[ContactUrl] | None = None


class ContactsMessage(Message):
    type: Literal["contacts"]
    contacts: list[Contact] = Field(min_length=1)
