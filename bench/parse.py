"""Parsing one webhook update into typed values: ``read_payload`` against ``json.loads`` of the
same body (the floor: reading the JSON at all) and pywa (a peer typing the same updates).

The bodies are single-update POSTs of several kinds (texts, media, interactive replies,
reactions, statuses). pywa 4.5 reads a contact's ``user_id`` and a status's ``contacts``, which
Meta now sends; the bodies carry them so that all three parse the same bytes.
"""

from __future__ import annotations

import functools
import importlib
import json
import warnings
from collections.abc import Callable
from typing import Any

from bench.figures import Figure, cpu_seconds_per_call, figure
from bench.harness import PHONE_NUMBER_ID, webhook_body
from wacloud.meta.inbound import read_payload

FIXTURES = (
    "message_text",
    "message_image",
    "message_location",
    "message_reaction",
    "message_interactive_button_reply",
    "status_delivered_business_initiated",
    "status_read",
)
GOAL = 2.0
_notes: list[str] = []


def bodies() -> list[bytes]:
    found = []
    for name in FIXTURES:
        payload = json.loads(webhook_body(name))
        for change in payload["entry"][0]["changes"]:
            value = change["value"]
            if "statuses" in value and "contacts" not in value:
                value["contacts"] = [{"wa_id": status["recipient_id"]} for status in value["statuses"]]
            for contact in value.get("contacts", []):
                contact.setdefault("user_id", f"US.{contact['wa_id']}")
        found.append(json.dumps(payload).encode())
    return found


def pywa_parser() -> Callable[[bytes], Any] | None:
    """pywa's typing of one update, as its webhook handler does it (None: pywa not installed)."""
    # Imported by name: a benchmark-only dependency, typed as Any whether or not it is installed.
    try:
        pywa_client: Any = importlib.import_module("pywa.client")
        raw_update: Any = importlib.import_module("pywa.types.base_update").RawUpdate
    except ImportError:
        return None
    client = pywa_client.WhatsApp(phone_id=PHONE_NUMBER_ID, token="bench", server=None)

    def parse(body: bytes) -> Any:
        update = raw_update(body, hmac_header=None, update_hash="bench")
        kind = client._get_handler_type(update)
        return client._handlers_to_updates[kind].from_update(client=client, update=update)

    return parse


def _per_update_us(parsers: list[Callable[[bytes], Any]], samples: list[bytes], quick: bool) -> list[float]:
    """Each parser's CPU per update (microseconds), the parsers timed in turns on each body."""
    totals = [0.0] * len(parsers)
    for body in samples:
        found = cpu_seconds_per_call(
            [functools.partial(parse, body) for parse in parsers],
            calls=25 if quick else 100,
            blocks=2 if quick else 20,
        )
        totals = [total + seconds for total, seconds in zip(totals, found, strict=True)]
    return [1e6 * total / len(samples) for total in totals]


def figures(*, quick: bool = False) -> list[Figure]:
    _notes.clear()
    samples = bodies()
    for body in samples:
        assert not read_payload(body).untyped
    peer = pywa_parser()
    parsers: list[Callable[[bytes], Any]] = [json.loads, read_payload]
    if peer is None:
        _notes.append("pywa not installed (pip install -e '.[bench]'): its figure is left out")
        print("  pywa is not installed: the peer's figure is left out (pip install -e '.[bench]')")
    else:
        parsers.append(peer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pywa warns of values it does not know; not timed
        floor, ours, *theirs = _per_update_us(parsers, samples, quick)
    results = [figure("parse per update (read_payload)", "us", ours, floor, check="ratio<=", target=GOAL)]
    for peer_us in theirs:
        results.append(figure("parse per update, pywa (peer)", "us", peer_us, floor))
        results.append(figure("parse per update, read_payload vs pywa", "us", ours, peer_us))
    return results


def assumptions() -> list[str]:
    return [
        f"parse: CPU per single-update POST over {len(FIXTURES)} kinds of update; floor json.loads of the "
        "same bytes; peer pywa (Message/MessageStatus/CallbackButton.from_update); on each body, 20 "
        "blocks of 100 calls of each parser in turns, the median block of each",
        *_notes,
    ]
