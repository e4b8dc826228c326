"""What the webhook function does: answer Meta's handshake, authenticate POSTs, queue raw bodies."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from wacloud.core.credentials import CredentialsCache, WebhookCredentials
from wacloud.core.errors import EnqueueError
from wacloud.meta.signature import is_valid_signature, looks_like_signature
from wacloud.webhook.envelope import (
    LOCATION_INLINE,
    LOCATION_S3,
    PayloadPointer,
    QueuedWebhook,
    sqs_can_carry,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


class WebhookIntake:
    def __init__(
        self,
        credentials: CredentialsCache[WebhookCredentials],
        sqs: SQSClient,
        s3_factory: Callable[[], S3Client],
        queue_url: str,
        payload_bucket: str,
    ) -> None:
        self._credentials = credentials
        self._sqs = sqs
        # Created on first use: only oversized payloads need S3, so cold starts skip it.
        self._s3_factory = s3_factory
        self._s3: S3Client | None = None
        self._queue_url = queue_url
        self._bucket = payload_bucket

    def handshake(self, params: Mapping[str, str]) -> str | None:
        """The challenge to echo when Meta's verification request is genuine, else None."""
        token = params.get("hub.verify_token")
        challenge = params.get("hub.challenge")
        if params.get("hub.mode") != "subscribe" or token is None or challenge is None:
            return None
        # A token changed in the secret within the cache's lifetime is read again (rate limited).
        return challenge if self._credentials.accepted(lambda c: _same(token, c.verify_token)) else None

    def is_authentic(self, body: bytes, signature_header: str | None) -> bool:
        """Whether Meta signed ``body`` with the app secret, or with the previous one mid-rotation.

        When no cached secret matches a well-formed signature, the secret is read again, at most
        once per the cache's refresh interval: after the app secret is reset in Meta's dashboard
        and stored in the secret, webhooks verify within seconds instead of after the cache's TTL.
        """
        if not looks_like_signature(signature_header):
            return False  # no secret could match it: no reason to read the secret again
        return self._credentials.accepted(lambda c: _signed_with_any(body, signature_header, c))

    def enqueue(self, body: bytes, request_id: str, received_at_ms: int, text: str | None = None) -> str:
        """Hand the raw body to the queue; returns the SQS message id. Raises EnqueueError.

        ``text``: the body as it came, when it came as text (``body`` is then its UTF-8).
        """
        request_id = request_id or "unknown"
        text = sqs_can_carry(body, text)
        location = LOCATION_INLINE
        if text is None:
            text = self._store_in_bucket(body, request_id, received_at_ms)
            location = LOCATION_S3
        message = QueuedWebhook(text, location, received_at_ms, request_id)
        try:
            response = self._sqs.send_message(
                QueueUrl=self._queue_url, MessageBody=message.body, MessageAttributes=message.sqs_attributes()
            )
        except Exception as exc:
            raise EnqueueError(f"the webhook queue refused the payload ({type(exc).__name__})") from exc
        return str(response["MessageId"])

    def _store_in_bucket(self, body: bytes, request_id: str, received_at_ms: int) -> str:
        digest = hashlib.sha256(body).hexdigest()
        day = time.strftime("%Y/%m/%d", time.gmtime(received_at_ms / 1000))
        # Content-addressed: Meta's redeliveries of the same body land on the same object.
        key = f"inbound/{day}/{digest}.json"
        if self._s3 is None:
            self._s3 = self._s3_factory()
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                Metadata={"request-id": request_id, "received-at-ms": str(received_at_ms)},
            )
        except Exception as exc:
            raise EnqueueError(f"the payload bucket refused the payload ({type(exc).__name__})") from exc
        return PayloadPointer(self._bucket, key, len(body), digest).to_json()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _signed_with_any(body: bytes, signature_header: str | None, credentials: WebhookCredentials) -> bool:
    # Every candidate is checked, so the time taken does not tell which secret matched.
    results = [is_valid_signature(body, signature_header, secret) for secret in credentials.app_secrets]
    return any(results)
