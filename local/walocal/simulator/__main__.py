"""``python -m walocal.simulator``: run the simulator, or ``inbound`` to play a user against a running one."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import mimetypes
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from .config import SimulatorConfig
from .server import GraphApiSimulator


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "inbound":
        return _inbound(args)
    return _serve(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m walocal.simulator",
        description="Local stand-in for the WhatsApp Cloud API. Settings come from SIMULATOR_* variables; "
        "the options below override them.",
    )
    parser.add_argument("--host", help="address to listen on (SIMULATOR_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (SIMULATOR_PORT, default 3002)")
    parser.add_argument("--webhook-url", help="where signed webhooks go (SIMULATOR_WEBHOOK_URL)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the simulator in the foreground (the default)")

    inbound = commands.add_parser("inbound", help="send a message as a user, through a running simulator")
    inbound.add_argument("--url", default=os.environ.get("SIMULATOR_URL", "http://127.0.0.1:3002"))
    inbound.add_argument(
        "--from", dest="sender", required=True, help="the user's phone number, e.g. 16505551234"
    )
    inbound.add_argument("--name", help="the user's profile name")
    inbound.add_argument("--user-id", help="the user's business-scoped user id, e.g. US.13491208655302741918")
    inbound.add_argument(
        "--hide-number",
        action="store_true",
        help="the user hides the number behind a username: the webhook names them by --user-id alone",
    )
    inbound.add_argument("--username", help="the user's username")
    inbound.add_argument("--phone-number-id", help="the business number written to (default: the first)")
    body = inbound.add_mutually_exclusive_group(required=True)
    body.add_argument("--text", help="a text message with this body")
    body.add_argument("--json", type=Path, help="a file holding the message object, as in Meta's webhook")
    body.add_argument("--image", action="store_true", help="an image (generated, or --media-file)")
    body.add_argument("--voice", action="store_true", help="a voice note (generated, or --media-file)")
    body.add_argument("--document", action="store_true", help="a document (generated, or --media-file)")
    body.add_argument("--video", action="store_true", help="a video (generated, or --media-file)")
    body.add_argument("--sticker", action="store_true", help="a sticker (generated, or --media-file)")
    inbound.add_argument("--caption", help="the media's caption")
    inbound.add_argument("--media-file", type=Path, help="send this file's bytes as the media")
    inbound.add_argument("--mime-type", help="the media file's MIME type (guessed from its name)")
    inbound.add_argument(
        "--media-fault",
        choices=("expired_url", "wrong_sha256", "gone", "oversize", "server_error"),
        help="how the media misbehaves when downloaded: its first URL expired, its bytes do not match "
        "the sha256, Meta no longer has it, Meta says it is larger than any media may be, or its first "
        "lookup fails with HTTP 500",
    )
    inbound.add_argument("--timeout", type=float, default=10.0)
    return parser


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {
        name: value
        for name, value in (("host", args.host), ("port", args.port), ("webhook_url", args.webhook_url))
        if value is not None
    }
    simulator = GraphApiSimulator(SimulatorConfig.from_env(**overrides))
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: simulator.stop())
    simulator.start()
    try:
        # A timed wait lets Ctrl+C through on every platform.
        while not simulator.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0


def _inbound(args: argparse.Namespace) -> int:
    message: dict[str, Any]
    if args.json is not None:
        loaded = json.loads(args.json.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            print(f"{args.json}: expected a JSON object", file=sys.stderr)
            return 2
        message = loaded
    elif args.text is not None:
        message = {"type": "text", "text": {"body": args.text}}
    else:
        message = _media_message(args)
    message["from"] = args.sender
    if args.name:
        message["name"] = args.name
    for option in ("user_id", "username", "phone_number_id"):
        if getattr(args, option):
            message[option] = getattr(args, option)
    if args.hide_number:
        message["hide_number"] = True
    try:
        response = requests.post(
            args.url.rstrip("/") + "/_simulator/inbound", json=message, timeout=args.timeout
        )
    except requests.RequestException as exc:
        print(f"simulator not reachable at {args.url}: {exc}", file=sys.stderr)
        return 2
    print(response.text)
    if response.status_code != 200:
        return 2
    return 0 if response.json().get("delivered") else 1


def _media_message(args: argparse.Namespace) -> dict[str, Any]:
    kind = next(k for k in ("image", "voice", "document", "video", "sticker") if getattr(args, k))
    kind = "audio" if kind == "voice" else kind
    body: dict[str, Any] = {"caption": args.caption} if args.caption and kind != "audio" else {}
    media: dict[str, Any] = {}
    if args.media_file is not None:
        media["data_base64"] = base64.b64encode(args.media_file.read_bytes()).decode("ascii")
        media["mime_type"] = args.mime_type or mimetypes.guess_type(args.media_file.name)[0]
        media["filename"] = args.media_file.name
    if args.media_fault:
        media["fault"] = args.media_fault
    message: dict[str, Any] = {"type": kind, kind: body}
    if media:
        message["media"] = media
    return message


if __name__ == "__main__":
    sys.exit(main())
