"""The local pipeline over HTTP (``wa-local``, moto as AWS): a signed webhook POST against the
handshake GET on the same server, how long a text takes from its POST until it is stored, and an
image from the contact sending it (the simulator posts Meta's webhook) until it is kept in S3.

The handshake is the floor: same HTTP server, event building and handler, minus the signature
check and the SQS send. Absolute times are the local runtime's, not AWS's: the figures are
reported, with no goal.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.figures import Figure, figure
from wacloud.meta.signature import sign
from walocal.ports import free_ports

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(call: object, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(rounds: int) -> tuple[float, float, float, float]:
    """Median ms of the handshake GET, the signed POST, a POST until its message is stored, and an
    image sent until it is kept in the bucket."""
    ports = free_ports(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WHATSAPP_", "GRAPH_API"))}
    args = ["--webhook-port", "--invoke-port", "--graph-port", "--aws-port"]
    command = [
        sys.executable,
        "-m",
        "walocal",
        *[x for pair in zip(args, map(str, ports), strict=True) for x in pair],
    ]
    # A file, not a pipe nobody reads (a full pipe would block the runtime); shown if it will not stop.
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 (closed once it stopped)
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{ports[0]}/webhook"
    session = requests.Session()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                session.get(url, timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        params = {"hub.mode": "subscribe", "hub.verify_token": "local-verify-token", "hub.challenge": "1"}
        payload = json.loads((ROOT / "events/webhooks/message_text.json").read_text())
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(body, "local-app-secret")}
        get_ms = _median_ms(lambda: session.get(url, params=params, timeout=5), rounds)
        post_ms = _median_ms(lambda: session.post(url, data=body, headers=headers, timeout=5), rounds)

        table = boto3.resource(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{ports[3]}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # the local runtime's administrator
        ).Table("whatsapp-cloud-MessagesTable")
        stored = []
        for index in range(5):
            wamid = f"wamid.bench{index}{time.time_ns()}"
            payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = wamid
            body = json.dumps(payload).encode()
            started = time.perf_counter()
            session.post(
                url, data=body, headers={**headers, "x-hub-signature-256": sign(body, "local-app-secret")}
            )
            message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
            # An inbound message is kept in its sender's partition, keyed by its time and wamid.
            key = {"pk": f"CONTACT#{message['from']}", "sk": f"MSG#{int(message['timestamp']):010d}#{wamid}"}
            while "Item" not in table.get_item(Key=key):
                time.sleep(0.01)
            stored.append(time.perf_counter() - started)
        kept = [_image_kept_seconds(f"http://127.0.0.1:{ports[2]}", table, index) for index in range(3)]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave a runtime behind, whatever happened
            log.seek(0)
            raise RuntimeError(
                f"wa-local did not stop within 90 s; its log ends:\n{log.read()[-4000:]}"
            ) from None
        finally:
            log.close()
    return get_ms, post_ms, statistics.median(stored) * 1000, statistics.median(kept) * 1000


def _image_kept_seconds(graph_url: str, table: Any, index: int) -> float:
    """Seconds from a contact sending an image (the simulator generates it and posts the webhook)
    until the media function has kept it in the bucket and recorded it on the message."""
    contact = f"1650555{index:04d}"
    started = time.perf_counter()
    answer = requests.post(
        f"{graph_url}/_simulator/inbound", json={"from": contact, "type": "image", "image": {}}, timeout=30
    ).json()
    wamid = answer["wamid"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        items = table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"CONTACT#{contact}"}
        )["Items"]
        item = next((i for i in items if str(i["sk"]).endswith(f"#{wamid}")), None)
        if item is not None and (item.get("media") or {}).get("state") == "stored":
            return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"image {wamid} was not kept within 60 s")


def figures(*, quick: bool = False) -> list[Figure]:
    get_ms, post_ms, stored_ms, kept_ms = measure(rounds=5 if quick else 200)
    return [
        figure("local pipeline: signed POST answered (wa-local, moto)", "ms", post_ms, get_ms),
        figure("local pipeline: POST until stored (wa-local, moto)", "ms", stored_ms, None),
        figure("local pipeline: image sent until kept in S3 (wa-local, moto)", "ms", kept_ms, None),
    ]


def assumptions() -> list[str]:
    return ["local pipeline: wa-local over HTTP on this machine; floor: the handshake GET on the same server"]
