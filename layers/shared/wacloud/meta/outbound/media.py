"""Media: an object by id, link or S3 URI; its forms as a header parameter; and the media messages."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from wacloud.meta.outbound.fields import S3Uri, Url
from wacloud.meta.outbound.items import Message
from wacloud.meta.outbound.model import ContractModel


class MediaRef(ContractModel):
    """A media object: an uploaded media ``id``, a public ``link``, or ``s3_uri``, an object of the
    stack's bucket (the sender's own field: it uploads the object and sends the id), exactly one."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["id"]}, {"required": ["link"]}, {"required": ["s3_uri"]}]}
    )

    id: str | None = Field(default=None, min_length=1)
    link: Url | None = None
    s3_uri: S3Uri | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if sum(source is not None for source in (self.id, self.link, self.s3_uri)) != 1:
            raise PydanticCustomError("media_source", "set exactly one of 'link', 'id' or 's3_uri'")
        return self


class DocumentRef(MediaRef):
    filename: str | None = Field(default=None, min_length=1)


class CaptionedMedia(MediaRef):
    caption: str | None = Field(default=None, max_length=1024)


class DocumentMedia(DocumentRef):
    caption: str | None = Field(default=None, max_length=1024)


class ImageParameter(ContractModel):
    type: Literal["image"]
    image: MediaRef


class VideoParameter(ContractModel):
    type: Literal["video"]
    video: MediaRef


class DocumentParameter(ContractModel):
    type: Literal["document"]
    document: DocumentRef


class ImageMessage(Message):
    type: Literal["image"]
    image: CaptionedMedia


class VideoMessage(Message):
    type: Literal["video"]
    video: CaptionedMedia


class AudioMessage(Message):
    type: Literal["audio"]
    audio: MediaRef


class DocumentMessage(Message):
    type: Literal["document"]
    document: DocumentMedia


class StickerMessage(Message):
    type: Literal["sticker"]
    sticker: MediaRef
