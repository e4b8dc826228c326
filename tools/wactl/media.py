"""``wactl media``: the media contacts send, as the media function keeps them.

``get`` downloads one from the stack's bucket by the wamid of its message. ``failed`` lists the
media the function could not keep after its retries (Lambda's failure records on
``MediaDeadLetterQueueUrl``, each with its event and the reason), and ``retry`` invokes the
function with each of them again (after a fix: a new access token, Meta back), deleting those
that succeed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import mimetypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.table.media import media_view
from wactl.arguments import positive_int
from wactl.errors import WactlError, reason
from wactl.held import hold_messages
from wactl.output import Output, plain, shorten, table
from wactl.records import Records
from wactl.target import OUTPUT_TABLE, Target, from_arguments

OUTPUT_MEDIA_DLQ = "MediaDeadLetterQueueUrl"
OUTPUT_MEDIA_FUNCTION = "MediaFunctionName"
LOCAL_MEDIA_DLQ = "whatsapp-cloud-MediaDeadLetterQueue"
LOCAL_MEDIA_FUNCTION = "MediaFunction"
HOLD_SECONDS = 300


class MediaNotStoredError(WactlError):
    """The message has no media in the bucket (none, not yet, or unavailable at Meta)."""


def sender_of(wamid: str) -> str | None:
    """The contact a wamid names: Meta's wamids are base64 of a frame that starts with the number."""
    try:
        frame = base64.b64decode(wamid.removeprefix("wamid.") + "==", validate=False)
    except (binascii.Error, ValueError):
        return None
    if len(frame) < 3 or frame[:2] != b"\x1c\x18":
        return None
    number = frame[3 : 3 + frame[2]]
    return number.decode("ascii") if number.isdigit() else None


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    media = commands.add_parser("media", help="media contacts sent, as kept in the stack's bucket")
    actions = media.add_subparsers(dest="media_command", required=True, metavar="ACTION")
    get = actions.add_parser(
        "get",
        parents=[common],
        help="download the media of a message a contact sent",
        description="Downloads the media of a received message (image, voice note, video, document, "
        "sticker) from the stack's bucket, where the media function kept it.",
    )
    get.add_argument("wamid", help="the message's id, e.g. wamid.HBgL... (wactl conversation lists them)")
    get.add_argument(
        "--contact",
        metavar="WA_ID",
        help="who sent it; by default the number the wamid carries",
    )
    get.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write it (- for stdout); default: <media id><extension> in this directory",
    )
    get.set_defaults(handler=_get_command)

    failed = actions.add_parser(
        "failed",
        parents=[common],
        help="media the media function could not keep after its retries, with the reason",
    )
    failed.add_argument("--max", type=positive_int, default=100, metavar="N", help="list at most N (100)")
    failed.set_defaults(handler=_failed_command)
    retry = actions.add_parser(
        "retry",
        parents=[common],
        help="invoke the media function again with each failed media; those kept leave the queue",
    )
    retry.add_argument("--max", type=positive_int, default=100, metavar="N", help="retry at most N (100)")
    retry.set_defaults(handler=_retry_command)


@dataclass(frozen=True)
class FailedMedia:
    receipt_handle: str
    event: dict[str, Any]
    reason: str
    attempts: int

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> FailedMedia:
        record = json.loads(message["Body"])
        response = record.get("responsePayload") or {}
        return cls(
            receipt_handle=str(message["ReceiptHandle"]),
            event=dict(record.get("requestPayload") or {}),
            reason=str(response.get("errorMessage") or response.get("errorType") or "-"),
            attempts=int((record.get("requestContext") or {}).get("approximateInvokeCount") or 0),
        )

    def as_json(self) -> dict[str, Any]:
        detail = self.event.get("detail") or {}
        return {
            "wamid": detail.get("wamid"),
            "wa_id": detail.get("wa_id"),
            "type": detail.get("type"),
            "timestamp": detail.get("timestamp"),
            "attempts": self.attempts,
            "reason": self.reason,
        }


@contextmanager
def held_failures(target: Target, limit: int) -> Iterator[tuple[Any, str, list[FailedMedia]]]:
    """Up to ``limit`` failure records, out of sight while held; those not deleted come back after."""
    sqs = target.sqs()
    try:
        url = (
            str(sqs.get_queue_url(QueueName=LOCAL_MEDIA_DLQ)["QueueUrl"])
            if target.is_local
            else target.resource(OUTPUT_MEDIA_DLQ)
        )
        found = [
            FailedMedia.from_message(message) for message in hold_messages(sqs, url, limit, HOLD_SECONDS)
        ]
    except (BotoCoreError, ClientError) as exc:
        raise WactlError(f"cannot read the media dead-letter queue ({reason(exc)})") from exc
    kept: list[FailedMedia] = list(found)
    try:
        yield sqs, url, kept
    finally:
        for failure in kept:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=failure.receipt_handle, VisibilityTimeout=0
            )


def _failed_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_MEDIA_DLQ])
    with held_failures(target, args.max) as (_, _, failures):
        listed = [failure.as_json() for failure in failures]
        document = {"target": target.description, "failed": listed}
        rows = [
            [str(entry["wamid"]), str(entry["wa_id"]), str(entry["type"]), shorten(entry["reason"], 80)]
            for entry in listed
        ]
        lines = [f"{len(failures)} media not kept ({target.description})"]
        if rows:
            lines += table(["WAMID", "CONTACT", "TYPE", "REASON"], rows)
            lines.append("After a fix: wactl media retry")
        out.result(document, lines)
    return 0


def _retry_command(args: argparse.Namespace, out: Output) -> int:
    target = from_arguments(args, needs=[OUTPUT_MEDIA_DLQ, OUTPUT_MEDIA_FUNCTION])
    function = LOCAL_MEDIA_FUNCTION if target.is_local else target.resource(OUTPUT_MEDIA_FUNCTION)
    results = []
    with held_failures(target, args.max) as (sqs, url, failures):
        for failure in list(failures):
            outcome = _invoke(target, function, failure.event)
            entry = {**failure.as_json(), **outcome}
            if "error" not in outcome:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=failure.receipt_handle)
                failures.remove(failure)
            results.append(entry)
    kept = sum(1 for entry in results if "error" not in entry)
    rows = [
        [
            str(e["wamid"]),
            str(e.get("result") or "failed"),
            shorten(str(e.get("error") or e.get("s3_uri") or "-"), 80),
        ]
        for e in results
    ]
    lines = [f"{kept} of {len(results)} media kept ({target.description})"]
    if rows:
        lines += table(["WAMID", "RESULT", "WHERE OR WHY"], rows)
    out.result({"target": target.description, "retried": results}, lines)
    return 0 if kept == len(results) else 1


def _invoke(target: Target, function: str, event: dict[str, Any]) -> dict[str, Any]:
    try:
        response = target.lambda_client().invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event).encode("utf-8")
        )
    except (BotoCoreError, ClientError) as exc:
        return {"error": f"cannot invoke {function} ({reason(exc)})"}
    raw = response["Payload"].read()
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {}
    if "FunctionError" in response or not isinstance(answer, dict):
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        return {"error": str(message or response.get("FunctionError") or "failed")}
    return {"result": answer.get("result"), "s3_uri": answer.get("s3_uri")}


def _get_command(args: argparse.Namespace, out: Output) -> int:
    contact = (args.contact or sender_of(args.wamid) or "").lstrip("+")
    if not contact:
        raise WactlError(f"{args.wamid} does not name its sender: add --contact <wa_id>")
    target = from_arguments(args, needs=[OUTPUT_TABLE])
    message = Records(target.table()).inbound_message(contact, args.wamid)
    if message is None:
        raise WactlError(
            f"no message {args.wamid} from {contact} in {target.table_name} ({target.description})"
        )
    media = media_view(message.get("media"))
    if media is None or media.get("state") != "stored":
        if media is None and message.get("type") not in ("image", "audio", "video", "document", "sticker"):
            raise MediaNotStoredError(f"{args.wamid} is a {message.get('type')} message: it has no media")
        why = media.get("reason") if media else "not kept yet (the media function may still be at it)"
        raise MediaNotStoredError(f"the media of {args.wamid} is not in the bucket: {why}")
    try:
        data = target.client("s3").get_object(Bucket=media["bucket"], Key=media["key"])["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise WactlError(f"could not read {media['s3_uri']} ({reason(exc)})") from exc
    extension = mimetypes.guess_extension(str(media.get("mime_type") or "").split(";")[0].strip()) or ""
    output = args.output or f"{media['media_id']}{extension}"
    document: dict[str, Any] = {"target": target.description, "wamid": args.wamid, "media": plain(media)}
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    Path(output).write_bytes(data)
    document["file"] = output
    out.result(
        document,
        [
            f"{output}: {len(data)} bytes, {media.get('mime_type')}, from {media['s3_uri']}",
            f"  sha256 {media['sha256']}",
        ],
    )
    return 0
