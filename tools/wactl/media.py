"""``wactl media get``: a media a contact sent, from the stack's bucket (where the media function
kept it), by the wamid of its message."""

from __future__ import annotations

import argparse
import base64
import binascii
import mimetypes
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.table.media import media_view
from wactl.errors import WactlError, reason
from wactl.output import Output, plain
from wactl.records import Records
from wactl.target import OUTPUT_TABLE, from_arguments


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
