"""A location message."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from wacloud.meta.outbound.items import Message
from wacloud.meta.outbound.model import ContractModel


class Location(ContractModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = None
    address: str | None = None


class LocationMessage(Message):
    type: Literal["location"]
    location: Location
