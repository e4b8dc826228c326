"""Media sent from the stack's bucket: uploaded to Meta once per content, sent by media id.

A media object may name ``s3_uri`` instead of Meta's ``link`` or ``id``. The object's type and
size are checked against Meta's limits from its metadata, before anything is read or uploaded;
the bytes are then read, hashed, and uploaded (``POST /<phone-number-id>/media``) unless an upload
of the same content is still usable: Meta keeps an uploaded media id about 30 days, and the id is
remembered by content hash for a day less. The message then goes out with ``{"id": ...}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.core.errors import WaCloudError
from wacloud.core.observability import logger
from wacloud.meta.error_codes import TOKEN_EXPIRED
from wacloud.meta.graph_client import GraphApiError, GraphClient
from wacloud.meta.media import upload_problem
from wacloud.meta.outbound import SendError
from wacloud.table.errors import TableUnavailableError
from wacloud.table.media import MediaLedger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Meta keeps an uploaded media id about 30 days: the cache trusts it a day less.
UPLOAD_USABLE_SECONDS = 29 * 86_400
# Prefixes of the bucket the sender may read: received media, and files put there to be sent.
SENDABLE_PREFIXES = ("media/", "outbound/")
LOCAL_ERROR = -1


def s3_source(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """The media kind and ``s3_uri`` of a message body that names one."""
    kind = body.get("type")
    ref = body.get(kind) if isinstance(kind, str) else None
    uri = ref.get("s3_uri") if isinstance(ref, Mapping) else None
    return (str(kind), uri) if isinstance(uri, str) else None


class MediaUploads:
    def __init__(
        self, s3: Callable[[], S3Client], bucket: str, ledger: MediaLedger, graph: GraphClient
    ) -> None:
        # A factory: only sends from the bucket need the client.
        self._s3 = s3
        self._bucket = bucket
        self._ledger = ledger
        self._graph = graph

    def resolve(
        self,
        body: Mapping[str, Any],
        token: Callable[[], str | SendError],
        phone_number_id: str | None = None,
    ) -> dict[str, Any] | SendError:
        """``body`` with its ``s3_uri`` replaced by the media id of that content, or why not.

        Uploaded through ``phone_number_id`` (None: the default number), whose media id it sends.
        """
        source = s3_source(body)
        if source is None:
            return dict(body)
        kind, uri = source
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if bucket != self._bucket or not key.startswith(SENDABLE_PREFIXES):
            return _refused(
                "Media not in the stack's bucket",
                f"{uri} is not under s3://{self._bucket}/{' or '.join(SENDABLE_PREFIXES)}; nothing was sent.",
            )
        try:
            media_id = self._media_id(kind, key, token, phone_number_id)
        except _Refused as refused:
            return refused.error
        except (ClientError, BotoCoreError, TableUnavailableError) as exc:
            return SendError(
                code=LOCAL_ERROR,
                title="Media unavailable",
                message=f"could not read {uri} or the upload cache ({type(exc).__name__}); nothing was sent.",
                retryable=True,
            )
        ref = {name: value for name, value in body[kind].items() if name != "s3_uri"}
        return {**body, kind: {**ref, "id": media_id}}

    def _media_id(
        self, kind: str, key: str, token: Callable[[], str | SendError], phone_number_id: str | None
    ) -> str:
        try:
            head = self._s3().head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                raise _Refused(
                    "Media not found", f"s3://{self._bucket}/{key} does not exist; nothing was sent."
                ) from exc
            raise
        mime_type = str(head.get("ContentType") or "")
        problem = upload_problem(kind, mime_type, int(head.get("ContentLength") or 0))
        if problem is not None:
            # Before reading or uploading anything: Meta would refuse it (131053) after the upload.
            raise _Refused("Media refused by Meta's limits", f"{problem}; nothing was uploaded or sent.")
        data = self._s3().get_object(Bucket=self._bucket, Key=key)["Body"].read()
        digest = hashlib.sha256(data).hexdigest()
        cached = self._ledger.uploaded(digest, phone_number_id)
        if cached is not None:
            logger.info("media uploaded before, sent by its id", extra={"sha256": digest})
            return cached
        access_token = token()
        if isinstance(access_token, SendError):
            raise _Refused(error=access_token)
        try:
            answer = self._graph.upload_media(
                data, mime_type, key.rsplit("/", 1)[-1], access_token, phone_number_id
            )
        except GraphApiError as exc:
            error = SendError.from_graph(exc.error).model_copy(update={"retryable": exc.retryable})
            if exc.code == TOKEN_EXPIRED:
                # As for a send: kept for a later retry (queue, Lambda), since the same request
                # succeeds once the secret holds a token Meta takes.
                error = error.model_copy(
                    update={"title": "Access token rejected", "retryable": True, "retry_after_seconds": 30}
                )
            raise _Refused(error=error) from exc
        except WaCloudError as exc:
            raise _Refused(
                error=SendError(
                    code=LOCAL_ERROR,
                    title="Media upload failed",
                    message=f"{exc}; nothing was sent.",
                    retryable=True,
                )
            ) from exc
        media_id = answer.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise _Refused(error=SendError(code=LOCAL_ERROR, title="Media upload failed", retryable=True))
        self._ledger.remember_upload(digest, media_id, UPLOAD_USABLE_SECONDS, phone_number_id)
        logger.info("media uploaded", extra={"sha256": digest, "size": len(data), "mime_type": mime_type})
        return media_id


class _Refused(Exception):
    def __init__(self, title: str = "", message: str = "", *, error: SendError | None = None) -> None:
        super().__init__(title)
        self.error = error or SendError(code=LOCAL_ERROR, title=title, message=message, retryable=False)


def _refused(title: str, message: str) -> SendError:
    return SendError(code=LOCAL_ERROR, title=title, message=message, retryable=False)
