"""Downloads a contact's media from Meta before Meta forgets it, verifies it, keeps it in the bucket.

``GET /<version>/<media-id>`` gives a URL that lives about five minutes, downloaded with the same
bearer token. What can go wrong, and where it ends:

- **Meta no longer has it** (error 100 / subcode 33, or HTTP 404 for the id): recorded on the
  message as ``unavailable``; trying again cannot bring it back.
- **Transient** (5xx, no answer, an expired URL, rate limits, a wrong sha256 or size, a token Meta
  refused while the secret holds no other): tried again here with exponential backoff and full
  jitter within the invocation, then the invocation fails with the reason, Lambda retries it
  (twice, a minute or two apart) and then sets it aside on the media dead-letter queue.

The message itself is stored before its event exists, whatever becomes of its media.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.core.errors import WaCloudError
from wacloud.core.observability import logger
from wacloud.media.job import MediaJob, RecordedMedia
from wacloud.meta.access_token import AccessTokens
from wacloud.meta.graph_client import (
    GraphApiError,
    GraphClient,
    GraphOutcomeUnknownError,
    GraphRequestError,
    GraphUnreachableError,
    MediaTooLargeError,
)
from wacloud.meta.inbound_media import InboundMedia, MediaDescription, hex_sha256, sha256_matches
from wacloud.meta.media import MAX_MEDIA_BYTES
from wacloud.table.media import MediaLedger, MediaRecord, media_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Meta's answer for an object id it does not know (or no longer has).
UNKNOWN_OBJECT_CODE = 100
UNKNOWN_OBJECT_SUBCODE = 33
TOKEN_REFUSED_CODE = 190
# What Meta's CDN answers for a download URL past its life.
_EXPIRED_URL_STATUSES = (401, 403, 404, 410)


class MediaDownloadError(WaCloudError):
    """The media could not be downloaded and kept this time; the reason says why (never a secret)."""

    retryable = True


class _MediaGone(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    result: Literal["stored", "unavailable", "already_stored", "no_media", "restored", "recorded"]
    record: MediaRecord | None = None


@dataclass(frozen=True)
class Backoff:
    attempts: int = 4
    base_seconds: float = 0.5
    max_seconds: float = 8.0

    def delay(self, attempt: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        """Full jitter: a wait anywhere up to the exponential bound, so retries spread out."""
        return rng(0.0, min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)))


class MediaKeeper:
    def __init__(
        self,
        graph: GraphClient,
        tokens: AccessTokens,
        s3: S3Client,
        bucket: str,
        ledger: MediaLedger,
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._graph = graph
        self._tokens = tokens
        self._s3 = s3
        self._bucket = bucket
        self._ledger = ledger
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._sleep = sleep

    def keep(self, job: MediaJob, remaining_seconds: Callable[[], float]) -> Outcome:
        """Download, verify, store and record the job's media; raises :class:`MediaDownloadError`
        (retryable) when it could not this time."""
        media = job.media
        if media is None:
            return Outcome("no_media")
        recorded = self._ledger.media_of(job.wa_id, job.timestamp, job.wamid)
        if recorded is not None and recorded.get("state") == "stored":
            return Outcome("already_stored")
        kept = self._kept_before(job, media)
        if kept is not None:
            return Outcome("stored", kept)
        attempt = 0
        while True:
            attempt += 1
            try:
                record = self._attempt(job, media)
            except _MediaGone as gone:
                record = self._record(job, media, "unavailable", reason=gone.reason)
                return Outcome("unavailable", record)
            except _Retryable as exc:
                wait = max(exc.retry_after or 0.0, self._backoff.delay(attempt))
                # The next attempt must fit: a download of the largest media takes a while.
                if attempt >= self._backoff.attempts or wait + 10.0 > remaining_seconds():
                    raise MediaDownloadError(f"media {media.media_id} of {job.wamid}: {exc.reason}") from exc
                logger.warning(
                    "media download failed; trying again",
                    extra={
                        "wamid": job.wamid,
                        "reason": exc.reason,
                        "attempt": attempt,
                        "wait": round(wait, 2),
                    },
                )
                self._sleep(wait)
                continue
            return Outcome("stored", record)

    def restore(self, recorded: RecordedMedia) -> Outcome:
        """Put back the record a redelivered webhook's put of the message dropped (the event of the
        record's own write finds it in place: ``recorded``). A stored media is still in the
        bucket: it is not downloaded again."""
        if self._ledger.media_of(recorded.wa_id, recorded.timestamp, recorded.wamid) is not None:
            return Outcome("recorded")
        bucket = recorded.s3.get("bucket") if recorded.s3 else None
        key = recorded.s3.get("key") if recorded.s3 else None
        if recorded.state == "stored" and (bucket is None or key is None or not self._exists(bucket, key)):
            logger.warning("a stored media is gone from the bucket", extra={"wamid": recorded.wamid})
            return Outcome("recorded")
        record = MediaRecord(
            state=recorded.state,
            kind=recorded.type,
            media_id=recorded.media_id,
            recorded_at=int(self._clock()),
            bucket=bucket,
            key=key,
            size=recorded.size,
            mime_type=recorded.mime_type,
            sha256=recorded.sha256,
            reason=recorded.reason,
        )
        if self._ledger.restore(recorded.wa_id, recorded.timestamp, recorded.wamid, record):
            return Outcome("restored", record)
        return Outcome("recorded")

    def _kept_before(self, job: MediaJob, media: InboundMedia) -> MediaRecord | None:
        """The same content, kept before (a forwarded photo, the message's own record dropped by a
        redelivered webhook): Meta's sha256 names its object, verified when it was put."""
        digest = hex_sha256(media.sha256) if media.sha256 else None
        if digest is None:
            return None
        key = media_key(digest)
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise MediaDownloadError(f"reading the bucket failed ({type(exc).__name__})") from exc
        except BotoCoreError as exc:
            raise MediaDownloadError(f"reading the bucket failed ({type(exc).__name__})") from exc
        return self._record(
            job,
            media,
            "stored",
            key=key,
            size=int(head.get("ContentLength") or 0),
            mime_type=str(head.get("ContentType") or media.mime_type or ""),
            sha256=digest,
        )

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _attempt(self, job: MediaJob, media: InboundMedia) -> MediaRecord:
        token = self._tokens.for_request()
        if token is None:
            raise _Retryable("Meta refused the access token (190) and the secret holds no other")
        description = self._describe(media, token)
        data = self._download(description, token)
        self._tokens.accepted(token)
        if description.file_size is not None and len(data) != description.file_size:
            raise _Retryable(f"the download has {len(data)} bytes, Meta said {description.file_size}")
        for expected in (media.sha256, description.sha256):
            if expected and not sha256_matches(expected, data):
                raise _Retryable("the download's sha256 does not match Meta's")
        mime_type = description.mime_type or media.mime_type or "application/octet-stream"
        key, digest = self._store(data, mime_type, job, media)
        return self._record(job, media, "stored", key=key, size=len(data), mime_type=mime_type, sha256=digest)

    def _describe(self, media: InboundMedia, token: str) -> MediaDescription:
        try:
            return MediaDescription.model_validate(self._graph.get_object(media.media_id, token))
        except GraphApiError as exc:
            if exc.code == UNKNOWN_OBJECT_CODE and exc.error.get("error_subcode") == UNKNOWN_OBJECT_SUBCODE:
                raise _MediaGone(f"Meta no longer has media {media.media_id} (error 100/33)") from exc
            if exc.http_status == HTTPStatus.NOT_FOUND:
                raise _MediaGone(f"Meta no longer has media {media.media_id} (HTTP 404)") from exc
            raise self._graph_failure("looking the media up", exc, token) from exc
        except (GraphUnreachableError, GraphOutcomeUnknownError, GraphRequestError) as exc:
            raise _Retryable(f"looking the media up: {exc}") from exc
        except ValueError as exc:  # pydantic's ValidationError: no URL in the answer
            raise _Retryable("looking the media up: the answer has no download URL") from exc

    def _download(self, description: MediaDescription, token: str) -> bytes:
        if description.file_size is not None and description.file_size > MAX_MEDIA_BYTES:
            raise _Retryable(f"Meta says the media has {description.file_size} bytes, over {MAX_MEDIA_BYTES}")
        try:
            return self._graph.download(description.url, token, MAX_MEDIA_BYTES)
        except GraphApiError as exc:
            if exc.http_status in _EXPIRED_URL_STATUSES:
                # The URL lives about five minutes: the next attempt asks for a fresh one.
                raise _Retryable(f"the download URL was refused (HTTP {exc.http_status}): expired") from exc
            raise self._graph_failure("downloading the media", exc, token) from exc
        except (
            GraphUnreachableError,
            GraphOutcomeUnknownError,
            GraphRequestError,
            MediaTooLargeError,
        ) as exc:
            raise _Retryable(f"downloading the media: {exc}") from exc

    def _graph_failure(self, what: str, exc: GraphApiError, token: str) -> _Retryable:
        if exc.code == TOKEN_REFUSED_CODE:
            if not self._tokens.refused(token):
                return _Retryable(f"{what}: Meta refused the access token (190)")
            return _Retryable(f"{what}: Meta refused the access token (190); the secret holds a new one", 0.0)
        return _Retryable(f"{what}: {exc}", exc.retry_after)

    def _store(self, data: bytes, mime_type: str, job: MediaJob, media: InboundMedia) -> tuple[str, str]:
        """Put the bytes under their content's key, once: the key and the hex SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        key = media_key(digest)
        # Looked for under Meta's sha256 before the download (_kept_before): the bytes verified
        # against it have the same key. Without one, the same content is put again, unchanged.
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=data,
                ContentType=mime_type,
                Metadata={"wamid": job.wamid, "media-id": media.media_id, "sha256": digest},
            )
        except (ClientError, BotoCoreError) as exc:
            raise _Retryable(f"storing the media in the bucket failed ({type(exc).__name__})") from exc
        return key, digest

    def _record(
        self,
        job: MediaJob,
        media: InboundMedia,
        state: Literal["stored", "unavailable"],
        *,
        key: str | None = None,
        size: int | None = None,
        mime_type: str | None = None,
        sha256: str | None = None,
        reason: str | None = None,
    ) -> MediaRecord:
        record = MediaRecord(
            state=state,
            kind=media.kind,
            media_id=media.media_id,
            recorded_at=int(self._clock()),
            bucket=self._bucket if key else None,
            key=key,
            size=size,
            mime_type=mime_type or media.mime_type,
            sha256=sha256,
            reason=reason,
        )
        self._ledger.record(job.wa_id, job.timestamp, job.wamid, record)
        return record


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
