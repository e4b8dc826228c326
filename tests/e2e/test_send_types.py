"""The newer send types through the local runtime, as an operator of `make run` sends them: a
contact writes, then gets a location request, a Flow, a product, a product list and a carousel
template, each accepted by the simulated Meta, recorded, and read (its status webhooks back through
the pipeline); someone who never wrote gets the carousel template but no Flow."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from support.local_runtime import RunningRuntime, eventually, local_runtime
from walocal.events import load_event

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-runtime-send-types")]

CONTACT, STRANGER = "16505550102", "16505550198"
EXAMPLES = [
    "interactive_location_request",
    "interactive_flow",
    "interactive_product",
    "interactive_product_list",
    "template_carousel",
]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    with local_runtime(tmp_path_factory.mktemp("runtime") / "wa-local.log") as running:
        yield running


def wactl(runtime: RunningRuntime, *argv: str) -> subprocess.CompletedProcess[str]:
    return runtime.wactl(*argv, "--json", timeout=60)


def send_file(runtime: RunningRuntime, tmp_path: Path, request: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / f"request-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    sent = wactl(runtime, "send", "--file", str(path))
    [result] = json.loads(sent.stdout)["results"]
    return dict(result)


def test_each_new_type_is_sent_recorded_and_read(runtime: RunningRuntime, tmp_path: Path) -> None:
    inbound = requests.post(
        f"{runtime.graph_url}/_simulator/inbound",
        json={"from": CONTACT, "name": "Grace Hopper", "type": "text", "text": {"body": "What's new?"}},
        timeout=10,
    ).json()
    assert inbound["delivered"] is True

    results = [
        send_file(runtime, tmp_path, {**load_event(f"sender/{name}.json"), "to": CONTACT})
        for name in EXAMPLES
    ]
    asked = wactl(runtime, "send", "--to", CONTACT, "--location-request", "Where are you now?")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    results += json.loads(asked.stdout)["results"]
    assert [r["status"] for r in results] == ["accepted"] * 6, results

    table = runtime.table()

    def all_read() -> bool:
        keys = [{"pk": f"MSG#{result['message_id']}", "sk": "MESSAGE"} for result in results]
        return all(table.get_item(Key=key)["Item"].get("status") == "read" for key in keys)

    eventually(all_read, timeout=30)
    received = requests.get(
        f"{runtime.graph_url}/_simulator/messages", params={"to": CONTACT}, timeout=5
    ).json()
    kinds = [(m["body"]["type"], m["body"].get("interactive", {}).get("type")) for m in received["messages"]]
    assert kinds == [
        ("interactive", "location_request_message"),
        ("interactive", "flow"),
        ("interactive", "product"),
        ("interactive", "product_list"),
        ("template", None),
        ("interactive", "location_request_message"),
    ]
    conversation = json.loads(wactl(runtime, "conversation", CONTACT, "--limit", "10").stdout)
    assert [m["text"] for m in conversation["messages"]][-2:] == [
        "[template seasonal_offers]",
        "Where are you now?",
    ]


def test_a_stranger_gets_the_carousel_template_but_no_flow(runtime: RunningRuntime, tmp_path: Path) -> None:
    carousel = send_file(runtime, tmp_path, {**load_event("sender/template_carousel.json"), "to": STRANGER})
    flow = send_file(runtime, tmp_path, {**load_event("sender/interactive_flow.json"), "to": STRANGER})
    assert carousel["status"] == "accepted"
    assert (flow["status"], flow["error"]["code"]) == ("failed", 131047)
    received = requests.get(
        f"{runtime.graph_url}/_simulator/messages", params={"to": STRANGER}, timeout=5
    ).json()
    assert [m["body"]["type"] for m in received["messages"]] == ["template"]
