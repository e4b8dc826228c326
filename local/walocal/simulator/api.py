"""Request handling without sockets: the Graph ``/messages`` endpoint and the ``/_simulator`` controls."""

from __future__ import annotations

import base64
import hmac
import json
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from wacloud.meta.identifiers import is_business_scoped_id

from . import errors, statuses, templates
from .chaos import ChaosError, changed, chaos_of
from .config import SimulatorConfig
from .ids import new_wamid
from .media import DOWNLOAD_PATH, FAULTS, MEDIA_TYPES, MediaStore, generated, multipart
from .state import SimulatorState
from .validation import MarkRead, parse_request, phone_digits
from .webhooks import (
    DeliveryResult,
    Outgoing,
    WebhookDispatcher,
    inbound_payload,
    statuses_payload,
    user_preferences_payload,
)

_MESSAGES_PATH = re.compile(r"^/v\d+(?:\.\d+)?/([^/]+)/messages/?$")
_TEMPLATES_PATH = re.compile(r"^/v\d+(?:\.\d+)?/([^/]+)/message_templates/?$")
_SUBSCRIBED_APPS_PATH = re.compile(r"^/v\d+(?:\.\d+)?/([^/]+)/subscribed_apps/?$")
# The app the business account's webhooks go to: the local runtime's, subscribed from the start.
LOCAL_APP = {"whatsapp_business_api_data": {"id": "1234567890123456", "name": "Local app"}}
_MEDIA_UPLOAD_PATH = re.compile(r"^/v\d+(?:\.\d+)?/([^/]+)/media/?$")
_MEDIA_PATH = re.compile(r"^/v\d+(?:\.\d+)?/(\d+)/?$")
CONTROL_PREFIX = "/_simulator"
# Meta's wording of each marketing preference a user may set (user_preferences webhook).
PREFERENCE_DETAILS = {
    "stop": "User requested to stop marketing messages",
    "resume": "User requested to resume marketing messages",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), "")


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    # Bytes answered as they are (a media download) instead of ``body`` as JSON.
    raw: bytes | None = None
    content_type: str = "application/json; charset=UTF-8"


class GraphApi:
    def __init__(
        self,
        config: SimulatorConfig,
        state: SimulatorState,
        dispatcher: WebhookDispatcher,
        stopping: threading.Event,
        media: MediaStore,
    ) -> None:
        self._config = config
        self._state = state
        self._media = media
        self._dispatcher = dispatcher
        self._stopping = stopping
        self._rng = random.Random(config.seed)  # noqa: S311 - chaos, not secrets: reproducible by seed
        self._rng_lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        try:
            if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
                return self._control(request)
            return self._graph(request)
        except errors.GraphError as exc:
            return Response(exc.http_status, exc.body())

    # --- Graph API -------------------------------------------------------------------------------

    def _graph(self, request: Request) -> Response:
        # When the request reached "Meta": what its per-number limit counts, before any latency.
        arrived = self._config.clock()
        match = _MESSAGES_PATH.match(request.path)
        if match is not None and request.method == "POST":
            self._state.record_arrival(match.group(1), arrived)
        self._pause(self._config.latency)
        self._authenticate(request)
        subscription = _SUBSCRIBED_APPS_PATH.match(request.path)
        if subscription is not None:
            return self._subscribed_apps(request, subscription.group(1))
        catalog = _TEMPLATES_PATH.match(request.path)
        if catalog is not None:
            return self._message_templates(request, catalog.group(1))
        if match is None:
            return self._media_request(request)
        method = request.method.lower()
        number = match.group(1)
        if number not in self._config.numbers:
            raise errors.unknown_object(number, method)
        if request.method != "POST":
            raise errors.GraphError(100, f"Unsupported {method} request.", error_type="GraphMethodException")
        self._inject_faults()
        parsed = parse_request(_json_body(request.body), self._config)
        if isinstance(parsed, MarkRead):
            self._state.add_read_receipt(parsed.message_id, parsed.typing_indicator)
            return Response(200, {"success": True})

        admission = self._state.admit(parsed, number)
        with self._rng_lock:
            steps = statuses.disorder(statuses.plan(self._config, parsed, admission), self._config, self._rng)
        self._dispatcher.send_sequence(
            [
                Outgoing(
                    step.delay,
                    statuses_payload(self._config, [step.status], number),
                    partial(self._record_status, admission.wamid, step),
                )
                for step in steps
            ]
        )
        return Response(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [
                    # Meta answers a send to a business-scoped id with it, and without the number.
                    {"input": parsed.to, "user_id": parsed.user_id}
                    if parsed.user_id is not None
                    else {"input": parsed.to, "wa_id": parsed.wa_id}
                ],
                "messages": [{"id": admission.wamid, "message_status": "accepted"}],
            },
        )

    def _subscribed_apps(self, request: Request, waba_id: str) -> Response:
        """``GET``/``POST /<waba-id>/subscribed_apps``: the account's webhooks go to the local app."""
        if waba_id != self._config.waba_id:
            raise errors.unknown_object(waba_id, request.method.lower())
        if request.method == "POST":
            return Response(200, {"success": True})
        return Response(200, {"data": [LOCAL_APP]})

    def _message_templates(self, request: Request, waba_id: str) -> Response:
        """``GET /<waba-id>/message_templates``: the configured templates, paged as Meta's."""
        if waba_id != self._config.waba_id:
            raise errors.unknown_object(waba_id, request.method.lower())
        if request.method != "GET":
            raise errors.GraphError(
                100, f"Unsupported {request.method.lower()} request.", error_type="GraphMethodException"
            )
        host = request.header("Host") or f"{self._config.host}:{self._config.port}"
        return Response(200, templates.listing(self._config, request.query, f"http://{host}{request.path}"))

    def _media_request(self, request: Request) -> Response:
        """Upload, look up, download and delete media, as the Cloud API and its CDN do."""
        if request.path == DOWNLOAD_PATH and request.method == "GET":
            media = self._media.download(request.query)
            return Response(200, None, raw=self._media.served_bytes(media), content_type=media.mime_type)
        upload = _MEDIA_UPLOAD_PATH.match(request.path)
        if upload is not None:
            if upload.group(1) not in self._config.numbers:
                raise errors.unknown_object(upload.group(1), request.method.lower())
            if request.method != "POST":
                raise errors.GraphError(100, "Unsupported request.", error_type="GraphMethodException")
            fields, file = multipart(request.header("Content-Type"), request.body)
            if file is None:
                raise errors.missing_parameter("file")
            return Response(200, {"id": self._media.upload(fields, file).id})
        lookup = _MEDIA_PATH.match(request.path)
        if lookup is not None and request.method == "GET":
            base_url = f"http://{request.header('Host') or f'{self._config.host}:{self._config.port}'}"
            return Response(200, self._media.describe(lookup.group(1), base_url))
        if lookup is not None and request.method == "DELETE":
            self._media.delete(lookup.group(1))
            return Response(200, {"success": True})
        raise errors.unknown_path(request.path)

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = request.header("Authorization").partition(" ")
        if scheme.lower() != "bearer":
            token = (request.query.get("access_token") or [""])[0]
        token = token.strip()
        if token in self._config.expired_tokens:
            raise errors.expired_token()
        if not token or not hmac.compare_digest(token.encode(), self._config.access_token.encode()):
            raise errors.invalid_token()

    def _inject_faults(self) -> None:
        with self._rng_lock:
            fail = self._rng.random() < self._config.error_probability
            hang = self._rng.random() < self._config.timeout_probability
            code = self._rng.choice((1, 2))
        if fail:
            raise errors.injected_failure(code)
        # After a hang the send goes ahead, as Meta's can after the client gave up waiting.
        if hang and not self._pause(self._config.hang_seconds):
            raise errors.injected_failure(2)

    def _pause(self, seconds: float) -> bool:
        """Wait without outliving ``stop()``; False when interrupted by it."""
        if seconds <= 0:
            return True
        return not self._stopping.wait(seconds)

    def _record_status(self, wamid: str, step: statuses.PlannedStatus, result: DeliveryResult) -> None:
        entry: dict[str, Any] = {
            "status": step.status["status"],
            "timestamp": step.status["timestamp"],
            "duplicate": step.duplicate,
            "webhook_status": result.http_status,
            "attempts": result.attempts,
            "delivered_at": self._config.clock(),
        }
        if "errors" in step.status:
            entry["errors"] = step.status["errors"]
        if "pricing" in step.status:
            entry["pricing"] = step.status["pricing"]
        if result.error is not None:
            entry["error"] = result.error
        self._state.add_status(wamid, entry)

    # --- simulator controls ----------------------------------------------------------------------

    def _control(self, request: Request) -> Response:
        route = request.path[len(CONTROL_PREFIX) :].rstrip("/")
        config = self._config
        if route == "/health" and request.method == "GET":
            return Response(
                200,
                {
                    "status": "ok",
                    "phone_number_id": config.phone_number_id,
                    "phone_number_ids": sorted(config.numbers),
                    "waba_id": config.waba_id,
                    "webhook_url": config.webhook_url,
                },
            )
        if route == "/messages" and request.method == "GET":
            recipients = request.query.get("to")
            return Response(200, self._state.snapshot(recipients[0] if recipients else None))
        if route == "/messages" and request.method == "DELETE":
            self._state.reset()
            self._media.reset()
            return Response(200, {"reset": True})
        if route == "/media" and request.method == "GET":
            origins = request.query.get("origin")
            return Response(200, {"media": self._media.listing(origins[0] if origins else None)})
        if route == "/inbound" and request.method == "POST":
            return self._inbound(request)
        if route == "/user_preferences" and request.method == "POST":
            return self._user_preferences(request)
        if route == "/arrivals" and request.method == "GET":
            return Response(200, self._state.arrivals())
        if route == "/chaos" and request.method == "GET":
            return Response(200, chaos_of(self._config))
        if route == "/chaos" and request.method == "PUT":
            return self._change_chaos(request)
        if route in (
            "/health",
            "/messages",
            "/inbound",
            "/chaos",
            "/arrivals",
            "/media",
            "/user_preferences",
        ):
            return _control_error(405, f"{request.method} is not allowed on {request.path}")
        return _control_error(404, f"no simulator endpoint {request.path}")

    def _change_chaos(self, request: Request) -> Response:
        try:
            config = changed(self._config, json.loads(request.body or b"{}"))
        except ValueError as exc:  # ChaosError, or a body that is not JSON
            return _control_error(400, str(exc) if isinstance(exc, ChaosError) else "the body must be JSON")
        self._config = config
        self._dispatcher.reconfigure(config)
        return Response(200, chaos_of(config))

    def _inbound(self, request: Request) -> Response:
        """Play the user: send a message from a contact to the business, as Meta's webhook would."""
        data = _json_object(request)
        if isinstance(data, Response):
            return data
        contact = _inbound_contact(data, self._config)
        if isinstance(contact, str):
            return _control_error(400, contact)
        wa_id, user_id, number = contact.wa_id, contact.user_id, contact.phone_number_id
        name = data.get("name") or "WhatsApp User"
        if not isinstance(name, str):
            return _control_error(400, "'name' must be a string")
        extra = {key: value for key, value in data.items() if key not in _INBOUND_CONTROLS}
        sender: dict[str, Any] = {"from": wa_id} if contact.shows_number else {}
        if user_id is not None:
            sender["from_user_id"] = user_id
        message: dict[str, Any] = {
            **sender,
            "id": data.get("id") or new_wamid(wa_id),
            "timestamp": str(data.get("timestamp") or int(self._config.clock())),
            "type": data.get("type", "text"),
            **extra,
        }
        if message["type"] == "text":
            text = message.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("body"), str):
                return _control_error(400, "a text message needs text.body")
        if message["type"] in MEDIA_TYPES:
            problem = self._attach_media(message, data.get("media"))
            if problem is not None:
                return _control_error(400, problem)

        message_id = str(message["id"])
        self._state.add_inbound(
            wa_id if contact.shows_number else str(user_id),
            {
                "id": message_id,
                "from": wa_id,
                "user_id": user_id,
                "phone_number_id": number,
                "name": name,
                "message": message,
                "time": self._config.clock(),
            },
            phone_number_id=number,
            user_id=user_id,
        )
        username = data.get("username")
        result = self._dispatcher.deliver_now(
            inbound_payload(
                self._config,
                name,
                wa_id if contact.shows_number else None,
                message,
                phone_number_id=number,
                user_id=user_id,
                username=username if isinstance(username, str) else None,
            ),
            partial(self._record_inbound, message_id),
        )
        return _delivered(result, wamid=message_id)

    def _user_preferences(self, request: Request) -> Response:
        """Play the user stopping or resuming the business's marketing messages in WhatsApp: Meta's
        ``user_preferences`` webhook, signed and posted to the webhook like any other."""
        data = _json_object(request)
        if isinstance(data, Response):
            return data
        number = data.get("wa_id")
        wa_id = phone_digits(number)
        user_id = data.get("user_id")
        if user_id is not None and (not isinstance(user_id, str) or not user_id):
            return _control_error(400, "'user_id' must be a business-scoped user id (a string)")
        if not wa_id.isdigit() and (number is not None or user_id is None):
            return _control_error(400, "'wa_id' must be the contact's phone number (or give 'user_id' alone)")
        value = data.get("value")
        if value not in PREFERENCE_DETAILS:
            return _control_error(400, f"'value' must be one of {', '.join(PREFERENCE_DETAILS)}")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            return _control_error(400, "'name' must be a string")
        timestamp = data.get("timestamp", int(self._config.clock()))
        if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
            return _control_error(400, "'timestamp' must be epoch seconds (an integer)")
        preference: dict[str, Any] = {}
        if wa_id:
            preference["wa_id"] = wa_id
        if user_id:
            preference["user_id"] = user_id
        preference.update(
            {
                "detail": PREFERENCE_DETAILS[value],
                "category": "marketing_messages",
                "value": value,
                "timestamp": timestamp,
            }
        )
        result = self._dispatcher.deliver_now(user_preferences_payload(self._config, preference, name))
        return _delivered(result, user_preference=preference)

    def _attach_media(self, message: dict[str, Any], options: Any) -> str | None:
        """Give a contact's media message what Meta's webhook carries: the media id of bytes kept
        here (generated, or ``media.data_base64``), its type and its sha256. Returns a problem."""
        kind = str(message["type"])
        body = message.get(kind) or {}
        options = options if isinstance(options, dict) else {}
        if not isinstance(body, dict):
            return f"{kind} must be an object"
        if body.get("id"):
            return None  # a media id of the caller's own: sent as it is
        fault = options.get("fault")
        if fault is not None and fault not in FAULTS:
            return f"media.fault must be one of {', '.join(FAULTS)}"
        data, mime_type, filename = generated(kind)
        if options.get("data_base64") is not None:
            try:
                data = base64.b64decode(str(options["data_base64"]), validate=True)
            except ValueError:
                return "media.data_base64 is not base64"
            mime_type = str(options.get("mime_type") or mime_type)
            filename = options.get("filename") or filename
        media = self._media.add(data, mime_type, "inbound", filename=filename, fault=fault)
        body = {**body, "id": media.id, "mime_type": mime_type, "sha256": media.sha256_base64}
        if kind == "audio":
            body.setdefault("voice", True)
        if kind == "document" and filename:
            body.setdefault("filename", filename)
        message[kind] = body
        return None

    def _record_inbound(self, message_id: str, result: DeliveryResult) -> None:
        self._state.update_inbound(message_id, webhook_status=result.http_status, attempts=result.attempts)


# Fields of /_simulator/inbound that say who writes and how, not part of the message itself.
_INBOUND_CONTROLS = frozenset(
    {
        "from",
        "name",
        "id",
        "timestamp",
        "type",
        "media",
        "user_id",
        "hide_number",
        "username",
        "phone_number_id",
    }
)


@dataclass(frozen=True)
class InboundContact:
    wa_id: str
    user_id: str | None
    phone_number_id: str
    shows_number: bool


def _inbound_contact(data: dict[str, Any], config: SimulatorConfig) -> InboundContact | str:
    """Who writes to which business number, from /_simulator/inbound's fields; or what is wrong."""
    sender = data.get("from")
    wa_id = phone_digits(sender)
    if not wa_id.isdigit():
        return "'from' must be the contact's phone number"
    user_id = data.get("user_id")
    if user_id is not None and not (isinstance(user_id, str) and is_business_scoped_id(user_id)):
        return "'user_id' must be a business-scoped user id such as US.13491208655302741918"
    hide_number = data.get("hide_number", False)
    if not isinstance(hide_number, bool) or (hide_number and user_id is None):
        return "'hide_number' must be true or false, and true needs a 'user_id'"
    number = data.get("phone_number_id") or config.phone_number_id
    if number not in config.numbers:
        return f"'phone_number_id' must be one of the business numbers: {', '.join(sorted(config.numbers))}"
    return InboundContact(wa_id, user_id, str(number), not hide_number)


def _json_object(request: Request) -> dict[str, Any] | Response:
    """A control request's body as a JSON object, or the answer refusing it."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return _control_error(400, "the body must be JSON")
    if not isinstance(data, dict):
        return _control_error(400, "the body must be a JSON object")
    return data


def _delivered(result: DeliveryResult, **fields: Any) -> Response:
    """What a played webhook became: ``fields``, then how the webhook answered."""
    answer: dict[str, Any] = {**fields, "webhook_status": result.http_status, "delivered": result.delivered}
    if result.error is not None:
        answer["error"] = result.error
    return Response(200, answer)


def _json_body(raw: bytes) -> object:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise errors.GraphError(
            100, "(#100) Invalid parameter", details="The request body is not valid JSON"
        ) from None


def _control_error(status: int, message: str) -> Response:
    return Response(status, {"error": {"message": message}})
