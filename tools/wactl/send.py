"""``wactl send``: send a message through the sender function, as other services do.

The request is built from options (text, template, image, reply) or read from a file holding any
request the sender accepts (docs/sender.md; examples in events/sender/). The sender applies its
rules (24-hour window, opt-out, idempotency), sends, records, and answers one result per message.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from wacloud.meta.identifiers import is_business_scoped_id
from wacloud.meta.media import upload_problem
from wactl.errors import WactlError, reason
from wactl.invoke import invoke_sender
from wactl.output import Output, table
from wactl.target import OUTPUT_BUCKET, OUTPUT_SENDER, Target, from_arguments


class RequestError(WactlError):
    """The options or the file do not make a request."""


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """The sender request the options describe (one message, in Meta's /messages shape)."""
    if args.request_file is not None:
        clashing = [
            flag
            for flag, value in (
                ("--to", args.to),
                ("--from-number", args.from_number),
                ("--reply-to", args.reply_to),
                ("--idempotency-key", args.idempotency_key),
            )
            if value is not None
        ] + _content_options(args)
        if clashing:
            raise RequestError(f"--file FILE holds the whole request; leave out {', '.join(clashing)}")
        return _read_request(args.request_file)
    kinds = [
        flag
        for flag in ("--text", "--template", "--image-url", "--image", "--document", "--location-request")
        if _given(args, flag)
    ]
    if len(kinds) != 1:
        raise RequestError(
            "give one of --text, --template NAME, --image-url URL, --image FILE, --document FILE, "
            "--location-request TEXT or --file FILE"
        )
    if not args.to:
        raise RequestError(
            "--to is needed: the contact's phone number (e.g. 16505551234) or business-scoped user id "
            "(e.g. US.13491208655302741918)"
        )
    if (args.language is not None or args.param) and not args.template:
        raise RequestError("--language and --param go with --template")
    if args.caption is not None and not (args.image_url or args.image or args.document):
        raise RequestError("--caption goes with --image-url, --image or --document")
    # A business-scoped user id goes in Meta's `recipient`, a number in `to`.
    address = "recipient" if is_business_scoped_id(args.to) else "to"
    request: dict[str, Any] = {address: args.to.lstrip("+"), **_content(args)}
    if args.from_number:
        request["phone_number_id"] = args.from_number
    if args.reply_to:
        request["context"] = {"message_id": args.reply_to}
    if args.idempotency_key:
        request["idempotency_key"] = args.idempotency_key
    return request


def _content(args: argparse.Namespace) -> dict[str, Any]:
    if args.text is not None:
        return {"type": "text", "text": {"body": args.text}}
    if args.location_request is not None:
        interactive = {
            "type": "location_request_message",
            "body": {"text": args.location_request},
            "action": {"name": "send_location"},
        }
        return {"type": "interactive", "interactive": interactive}
    if args.template:
        template: dict[str, Any] = {"name": args.template, "language": {"code": args.language or "en_US"}}
        if args.param:
            parameters = [{"type": "text", "text": value} for value in args.param]
            template["components"] = [{"type": "body", "parameters": parameters}]
        return {"type": "template", "template": template}
    kind = "document" if args.document is not None else "image"
    # A file's s3_uri is known once it is in the bucket (stage_media_file).
    media: dict[str, Any] = {"link": args.image_url} if args.image_url is not None else {"s3_uri": None}
    if args.caption is not None:
        media["caption"] = args.caption
    if args.document is not None:
        media["filename"] = Path(args.document).name
    return {"type": kind, kind: media}


def media_file(args: argparse.Namespace) -> tuple[str, Path, str] | None:
    """The local file to send (kind, path, MIME type), checked against Meta's limits before any upload."""
    kind = "image" if args.image is not None else "document" if args.document is not None else None
    if kind is None or args.request_file is not None:
        return None
    path = Path(args.image if kind == "image" else args.document)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RequestError(f"cannot read {path}: {exc.strerror or exc}") from exc
    mime_type = mimetypes.guess_type(path.name)[0] or ""
    problem = upload_problem(kind, mime_type, size)
    if problem is not None:
        raise RequestError(f"{path}: {problem}")
    return kind, path, mime_type


def stage_media_file(target: Target, kind: str, path: Path, mime_type: str) -> str:
    """Put the file in the stack's bucket under its content's hash; the sender uploads it to Meta
    once per content and sends it by id. Its ``s3_uri``."""
    bucket = target.payload_bucket
    if not bucket:
        raise WactlError(f"{target.description} has no {OUTPUT_BUCKET}")
    data = path.read_bytes()
    key = f"outbound/{hashlib.sha256(data).hexdigest()}"
    try:
        target.client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=mime_type)
    except (BotoCoreError, ClientError) as exc:
        raise WactlError(f"could not put {path} in s3://{bucket}/{key} ({reason(exc)})") from exc
    return f"s3://{bucket}/{key}"


def _given(args: argparse.Namespace, flag: str) -> bool:
    return getattr(args, flag.lstrip("-").replace("-", "_")) is not None


def _content_options(args: argparse.Namespace) -> list[str]:
    flags = (
        "--text",
        "--template",
        "--image-url",
        "--image",
        "--document",
        "--location-request",
        "--caption",
        "--language",
    )
    return [flag for flag in flags if _given(args, flag)] + (["--param"] if args.param else [])


def _read_request(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RequestError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        request = json.loads(text)
    except ValueError as exc:
        raise RequestError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise RequestError(f'{path} must hold a JSON object: a message, or {{"messages": [...]}}')
    return request


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], targets: argparse.ArgumentParser
) -> None:
    send = commands.add_parser(
        "send",
        parents=[targets],
        help="send a message through the sender function",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Send a message of any type through the sender function (24-hour window, opt-out\n"
        "and idempotency rules apply), from options or from a request file. Exit status 1\n"
        "when any message failed.",
        epilog="examples:\n"
        "  wactl send --local --to 16505551234 --text 'Your order shipped'\n"
        "  wactl send --local --to 16505551234 --template daily_reminder --param Kerry\n"
        "  wactl send --local --to 16505551234 --image-url https://example.com/a.jpg --caption Menu\n"
        "  wactl send --local --to 16505551234 --image menu.jpg --caption Menu\n"
        "  wactl send --local --to 16505551234 --location-request 'Where should we deliver?'\n"
        "  wactl send --local --file events/sender/batch.json --json",
    )
    send.add_argument(
        "--file",
        dest="request_file",
        metavar="FILE",
        help="send the request this file holds (any request the sender accepts, e.g. "
        "events/sender/*.json; - for stdin)",
    )
    send.add_argument(
        "--to",
        metavar="CONTACT",
        help="the contact's phone number (16505551234) or business-scoped user id (US.13491208655302741918)",
    )
    send.add_argument(
        "--from-number",
        metavar="PHONE_NUMBER_ID",
        help="the business number to send from, one of the stack's (default: the one the contact last "
        "wrote to, else the stack's first)",
    )
    send.add_argument("--text", help="a text message with this body (within the 24-hour window)")
    send.add_argument("--template", metavar="NAME", help="an approved template")
    send.add_argument("--language", metavar="CODE", help="the template's language (default en_US)")
    send.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="VALUE",
        help="a body parameter of the template, in order; repeat for each",
    )
    send.add_argument("--image-url", metavar="URL", help="an image message with this link")
    send.add_argument(
        "--image",
        metavar="FILE",
        help="an image message of this local file (JPEG or PNG, 5 MB at most): put in the stack's bucket, "
        "uploaded to Meta once per content by the sender and sent by media id",
    )
    send.add_argument("--document", metavar="FILE", help="a document message of this local file, as --image")
    send.add_argument("--caption", help="the image's or document's caption")
    send.add_argument(
        "--location-request",
        metavar="TEXT",
        help="ask the contact to share their location: TEXT above WhatsApp's Send location button "
        "(within the 24-hour window)",
    )
    send.add_argument("--reply-to", metavar="WAMID", help="reply to this message (quoted in the chat)")
    send.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="send at most once per KEY (7 days): makes a retry after a lost answer safe",
    )
    send.set_defaults(handler=_send_command)


def _send_command(args: argparse.Namespace, out: Output) -> int:
    request = build_request(args)
    media = media_file(args)
    target = from_arguments(args, needs=[OUTPUT_SENDER, OUTPUT_BUCKET] if media else [OUTPUT_SENDER])
    if media is not None:
        kind, path, mime_type = media
        out.progress(f"Putting {path} in the stack's bucket ...")
        request[kind]["s3_uri"] = stage_media_file(target, kind, path, mime_type)
    count = len(request["messages"]) if isinstance(request.get("messages"), list) else 1
    out.progress(f"Sending {count} message{'s' if count != 1 else ''} through {target.sender_function} ...")
    invocation = invoke_sender(target, request)
    answer = invocation.answer if isinstance(invocation.answer, dict) else {}
    document = {
        "target": target.invoke_description,
        "function": invocation.function,
        "request": request,
        **answer,
    }
    if "results" not in answer:
        problem = answer.get("error") if isinstance(answer.get("error"), dict) else None
        if problem is None:
            raise WactlError(f"{invocation.function} answered without results: {invocation.answer!r}")
        lines = [f"{invocation.function} refused the request ({problem.get('type')}); nothing was sent:"]
        problems = problem.get("problems") or []
        lines += [f"  {item.get('field')}: {item.get('rule')}" for item in problems]
        if not problems:
            lines.append(f"  {problem.get('message')}")
        out.result(document, lines)
        return 1
    results: list[dict[str, Any]] = answer["results"]
    rows = [
        [
            str(result.get("to") or "-"),
            str(result.get("status")),
            str(result.get("message_id") or "-"),
            _error(result),
        ]
        for result in results
    ]
    failed = sum(1 for result in results if result.get("status") == "failed")
    counts = f"{len(results) - failed} accepted, {failed} failed"
    lines = [
        f"{invocation.function} ({target.invoke_description}): {counts}",
        *table(["TO", "STATUS", "MESSAGE ID", "ERROR"], rows),
    ]
    if len(results) > failed:
        lines.append("Delivery arrives in status webhooks: wactl message <message id>")
    out.result(document, lines)
    return 1 if failed else 0


def _error(result: dict[str, Any]) -> str:
    error = result.get("error")
    if not isinstance(error, dict):
        return "-"
    text = " ".join(str(error[name]) for name in ("code", "title") if error.get(name))
    if error.get("message"):
        text += f": {error['message']}"
    if error.get("retryable"):
        after = error.get("retry_after_seconds")
        text += f" (retryable{f' after {after} s' if after else ''})"
    return " ".join(text.split())
