"""Cost per million inbound images, beside the text figure: what keeping each image's bytes adds.

An image webhook takes the same path as a text through the webhook and the processor (one item
written, bench/write_units.py), so its pipeline cost is the text figure's, measured in the same run
(bench/inbound_cost.py). Keeping the image adds:

- the media function, one asynchronous invocation per image: its calls counted on the template's
  stack in moto (DynamoDB units by size, S3 requests), its duration measured against a stand-in
  AWS answering after ``LATENCY`` and the Graph API simulator (in its own process) serving the
  image, CPU stretched by the share of a vCPU its memory buys, plus Meta's answer time assumed
  (``GRAPH_LATENCY_S`` for the media id's lookup and again for the download);
- its ``WhatsApp Media Stored`` event (EventBridge, per event published);
- S3: one PUT and one HEAD (GET-priced), and storage of ``IMAGE_BYTES`` for ``MediaRetentionDays``.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import requests

from bench import inbound_cost, prices
from bench.cost import duration_ms
from bench.figures import Figure, figure
from bench.harness import emulated_stack, function_environment, load, saved_environment
from bench.inbound_cost import LATENCY
from bench.metering import Counts, Meter
from bench.standin import SECRET, aws_environment, stand_in
from wacloud.table.keys import contact_pk, inbound_sk
from walocal.events import load_event
from walocal.ports import free_ports
from walocal.template import Template

IMAGE_BYTES = 100 * 1024
"""A typical photo as WhatsApp sends it (compressed JPEG)."""
GRAPH_LATENCY_S = 0.15
"""Meta's answer time for each of the two requests (the media id's URL, the download)."""
IMAGES = 10
WA_ID = "16505551234"
_notes: list[str] = []


@contextmanager
def simulator() -> Iterator[str]:
    """The Graph API simulator in a process of its own (its CPU is not the function's)."""
    [port] = free_ports(1)
    environment = {
        **os.environ,
        "SIMULATOR_ACCESS_TOKEN": SECRET["access_token"],
        "SIMULATOR_WEBHOOK_URL": "http://127.0.0.1:9/webhook",  # nothing listens: no webhook is wanted
        "SIMULATOR_WEBHOOK_RETRIES": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "walocal.simulator", "--port", str(port), "--log-level", "WARNING"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/_simulator/health", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def image_events(url: str, count: int) -> list[dict[str, Any]]:
    """``count`` contacts' images kept by the simulator, each as its Message Received event."""
    events = []
    for index in range(count):
        data = b"\xff\xd8" + secrets.token_bytes(IMAGE_BYTES - 4) + b"\xff\xd9"
        body = {
            "from": WA_ID,
            "type": "image",
            "image": {},
            "media": {"data_base64": base64.b64encode(data).decode(), "mime_type": "image/jpeg"},
        }
        requests.post(f"{url}/_simulator/inbound", json=body, timeout=30).raise_for_status()
        media = requests.get(f"{url}/_simulator/media", timeout=30).json()["media"][-1]
        event = copy.deepcopy(load_event("eventbridge/message_received_image.json"))
        detail = event["detail"]
        detail["wamid"] = detail["message"]["id"] = f"wamid.MEDIA{index:06d}"
        detail["message"]["image"] = {"id": media["id"], "mime_type": "image/jpeg", "sha256": media["sha256"]}
        events.append(event)
    return events


def stored_event(event: dict[str, Any]) -> dict[str, Any]:
    """The ``WhatsApp Media Stored`` event of the record the image's job writes, which comes back
    to the media function (it puts back records a redelivery dropped; this one is in place)."""
    stored = copy.deepcopy(load_event("eventbridge/media_stored_image.json"))
    stored["detail"].update(wamid=event["detail"]["wamid"], timestamp=event["detail"]["timestamp"])
    return dict(stored)


def count(url: str, events: list[dict[str, Any]]) -> Counts:
    """The media function's calls for ``events`` (after a first, cold one), on the template's stack."""
    with emulated_stack() as (stack, loader):
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(stack.table_names["MessagesTable"])
        for event in events:
            detail = event["detail"]
            table.put_item(
                Item={
                    "pk": contact_pk(WA_ID),
                    "sk": inbound_sk(detail["timestamp"], detail["wamid"]),
                    "type": "image",
                    "raw": json.dumps(detail["message"]),
                }
            )
        meter = Meter(stack.table_names["MessagesTable"])
        session = boto3.DEFAULT_SESSION
        assert session is not None
        with meter.installed(session):
            function = loader("MediaFunction", GRAPH_API_URL=url)
            assert function(events[0])["result"] == "stored"
            meter.reset()
            for event in events[1:]:
                assert function(event)["result"] == "stored"
                assert function(stored_event(event))["result"] == "recorded"
            return meter.reset()


def timed(url: str, events: list[dict[str, Any]]) -> tuple[float, float]:
    """Median CPU and wall-clock waits (ms) of one image's warm invocations (its job, its record's
    event) against the stand-in AWS."""
    with saved_environment(), stand_in(LATENCY) as endpoint:
        environment = function_environment(
            "MediaFunction", GRAPH_API_URL=url, MEDIA_BUCKET="bench-media", **aws_environment(endpoint)
        )
        function = load("MediaFunction", environment)
        function(events[0])
        cpu, wait = [], []
        for event in events[1:]:
            started, begun = time.perf_counter(), time.process_time()
            function(event)
            function(stored_event(event))
            spent, took = time.process_time() - begun, time.perf_counter() - started
            cpu.append(spent)
            wait.append(max(0.0, took - spent))
    return 1000 * statistics.median(cpu), 1000 * statistics.median(wait)


def figures(*, quick: bool = False) -> list[Figure]:
    functions = Template.load().functions()
    memory = functions["MediaFunction"].memory_size
    retention_days = int(Template.load().body["Parameters"]["MediaRetentionDays"]["Default"])
    images = 4 if quick else IMAGES
    with simulator() as url:
        counts = count(url, image_events(url, images))
        cpu_ms, wait_ms = timed(url, image_events(url, images))
    per_image = 1 / (images - 1)
    duration = duration_ms(cpu_ms, wait_ms + 2 * GRAPH_LATENCY_S * 1000, memory)
    media_usd = {
        "Lambda requests": 2 * prices.LAMBDA_REQUEST_USD,
        "Lambda GB-s": memory / 1024 * duration / 1000 * prices.LAMBDA_ARM_GB_SECOND_USD,
        "DynamoDB writes": counts.write_units * per_image * prices.DYNAMODB_WRITE_UNIT_USD,
        "DynamoDB reads": counts.read_units * per_image * prices.DYNAMODB_READ_UNIT_USD,
        "S3 PUT": counts.requests["s3.PutObject"] * per_image * prices.S3_PUT_USD,
        "S3 GET/HEAD": counts.requests["s3.HeadObject"] * per_image * prices.S3_GET_USD,
        "EventBridge": prices.EVENTBRIDGE_EVENT_USD,  # WhatsApp Media Stored
        "S3 storage": IMAGE_BYTES / 1024**3 * prices.S3_STANDARD_GB_MONTH_USD * retention_days / 30,
    }
    text = inbound_cost.TEXT_USD_PER_MILLION
    if text is None:  # run alone (--only bench.media_cost): the text figure of this run
        inbound_cost.figures(quick=quick)
        text = inbound_cost.TEXT_USD_PER_MILLION
    assert text is not None
    added = sum(media_usd.values()) * prices.MILLION
    _notes[:] = [
        f"images: {IMAGE_BYTES // 1024} KB each, kept {retention_days} days (MediaRetentionDays); "
        f"the webhook and processor cost the text figure's ${text:.3f} per million; Meta answering in "
        f"{GRAPH_LATENCY_S * 1000:.0f} ms per request (the media id, then the download)",
        "media function per image (its job and its record's event): "
        + f"{cpu_ms:.1f} ms CPU on one vCPU + {wait_ms:.1f} ms waits measured, {duration:.0f} ms billed at "
        + f"{memory} MB; calls per image: "
        + ", ".join(f"{name} {number * per_image:g}" for name, number in sorted(counts.requests.items()))
        + f"; {counts.write_units * per_image:g} write units, {counts.read_units * per_image:g} read units",
        "kept image, per million: "
        + " + ".join(f"{name} ${usd * prices.MILLION:.3f}" for name, usd in media_usd.items())
        + f" = ${added:.3f}",
    ]
    return [
        figure(
            f"cost per million inbound images, kept {retention_days} days (text beside it)",
            "USD",
            text + added,
            text,
        ),
        figure(
            "cost per million images of keeping them, storage aside (media function, S3 requests, event)",
            "USD",
            (added - media_usd["S3 storage"] * prices.MILLION),
            None,
        ),
    ]


def assumptions() -> list[str]:
    return list(_notes)


if __name__ == "__main__":
    print(json.dumps(figures(quick=True), indent=2))
    print("\n".join(assumptions()))
