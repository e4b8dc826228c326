"""The payload bucket as the processor uses it: bodies too large to queue, archives of bodies too
large to keep in the table, and attributes too large for an item (:mod:`wacloud.table.spill`)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from wacloud.core.errors import PayloadFetchError, WaCloudError
from wacloud.webhook.envelope import PayloadPointer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class PayloadStoreError(WaCloudError):
    """An object could not be put in the payload bucket."""

    retryable = True


class PayloadBucket:
    def __init__(self, s3_factory: Callable[[], S3Client], name: str) -> None:
        self.name = name
        self._s3_factory = s3_factory
        self._s3: S3Client | None = None
        self._lock = threading.Lock()

    def read(self, pointer: PayloadPointer) -> bytes:
        """The body a pointer names, checked against its SHA-256."""
        try:
            obj = self._client().get_object(Bucket=pointer.bucket, Key=pointer.key)
            body = obj["Body"].read()
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            raise PayloadFetchError(f"cannot read payload {pointer.key} ({code})") from exc
        if hashlib.sha256(body).hexdigest() != pointer.sha256:
            raise PayloadFetchError(f"payload {pointer.key} does not match its checksum")
        return body

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self._client().put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            raise PayloadStoreError(f"cannot put {key} in the payload bucket ({code})") from exc

    def _client(self) -> S3Client:
        # Created on first use (most webhooks never need S3), once, whichever thread asks first.
        with self._lock:
            if self._s3 is None:
                self._s3 = self._s3_factory()
            return self._s3
