"""What the sender does with a request: send each item through the Graph API and record it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from wacloud.credentials import CredentialsCache
from wacloud.errors import WaCloudError
from wacloud.graph_client import GraphApiError, GraphClient
from wacloud.observability import logger
from wacloud.outbound.meta_errors import Remedy, classify
from wacloud.outbound.models import (
    STATUS_FAILED,
    OutboundItem,
    SendError,
    SendResponse,
    SendResult,
)
from wacloud.store import ConversationStore, compact_json, contact_pk, time_key

TOKEN_EXPIRED = 190


class MessageSender:
    def __init__(
        self,
        graph: GraphClient,
        credentials: CredentialsCache,
        store: ConversationStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._graph = graph
        self._credentials = credentials
        self._store = store
        self._clock = clock

    def send_all(self, items: list[OutboundItem]) -> SendResponse:
        return SendResponse(results=[self.send(item) for item in items])

    def send(self, item: OutboundItem) -> SendResult:
        body = item.to_graph_body()
        try:
            answer = self._post(body)
        except GraphApiError as exc:
            error = SendError.from_graph(exc.error)
            logger.warning(
                "send refused", extra={"to": item.recipient, "kind": item.kind, "code": error.code}
            )
            return SendResult(to=item.recipient, message_id=None, status=STATUS_FAILED, error=error)
        except WaCloudError as exc:
            error = SendError(code=-1, title=type(exc).__name__, message=str(exc), retryable=exc.retryable)
            logger.warning("send failed", extra={"to": item.recipient, "kind": item.kind, "error": str(exc)})
            return SendResult(to=item.recipient, message_id=None, status=STATUS_FAILED, error=error)
        if item.kind == "mark_as_read":
            return SendResult(to=None, message_id=body["message_id"], status="read", error=None)
        accepted = (answer.get("messages") or [{}])[0]
        wamid = str(accepted.get("id", ""))
        status = str(accepted.get("message_status") or "accepted")
        self._record(wamid, item, body, status)
        logger.info("message sent", extra={"wamid": wamid, "kind": item.kind, "message_status": status})
        return SendResult(to=item.recipient, message_id=wamid, status=status, error=None)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._graph.post_message(body, self._credentials.get().access_token)
        except GraphApiError as exc:
            if classify(exc.code) is not Remedy.REFRESH_TOKEN:
                raise
            # The cached token may be the stale one: read the secret again and try once more.
            logger.info("access token refused, reading the secret again")
            return self._graph.post_message(body, self._credentials.refresh().access_token)

    def _record(self, wamid: str, item: OutboundItem, body: Mapping[str, Any], status: str) -> None:
        now = int(self._clock())
        to = str(item.recipient)
        fields: dict[str, Any] = {
            "wamid": wamid,
            "direction": "outbound",
            "wa_id": to,
            "type": item.kind,
            "timestamp": now,
            "accepted_status": status,
            "phone_number_id": self._graph.endpoint.phone_number_id,
            "request": compact_json(dict(body)),
            "gsi1pk": contact_pk(to),
            "gsi1sk": time_key(now, wamid),
        }
        text = _outbound_text(body)
        if text:
            fields["text"] = text
        self._store.record_outbound(wamid, fields)


def _outbound_text(body: Mapping[str, Any]) -> str | None:
    kind = body.get("type")
    if kind == "text":
        return str(body["text"]["body"])
    if kind == "template":
        return f"[template {body['template']['name']}]"
    content = body.get(str(kind))
    if isinstance(content, Mapping) and content.get("caption"):
        return str(content["caption"])
    return None
