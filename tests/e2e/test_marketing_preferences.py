"""A contact stops and resumes marketing messages in WhatsApp, through the local runtime over HTTP:
the simulator posts Meta's ``user_preferences`` webhook, the processor applies it to the contact's
profile, and the sender refuses a marketing template (131050) before Meta sees it, until the
contact resumes; then the same send reaches the simulator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.local_runtime import RunningRuntime, eventually, local_runtime
from walocal.events import event_path

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("marketing_preferences")]
CONTACT = "16505551234"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    with local_runtime(tmp_path_factory.mktemp("runtime") / "wa-local.log") as running:
        # The catalog tells the sender which templates are MARKETING (seasonal_offers is).
        synced = running.wactl("templates", "sync", "--json")
        assert synced.returncode == 0, synced.stderr + synced.stdout
        yield running


def marketing_template() -> dict[str, Any]:
    request: dict[str, Any] = json.loads(event_path("sender/template_carousel.json").read_text())
    assert request["template"]["name"] == "seasonal_offers"
    return {**request, "to": CONTACT}


def send(runtime: RunningRuntime, request: dict[str, Any]) -> dict[str, Any]:
    answer = runtime.invoke(request)
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    return dict(result)


def templates_sent(runtime: RunningRuntime) -> list[str]:
    """The templates the simulated Graph API accepted for the contact."""
    listing = requests.get(f"{runtime.graph_url}/_simulator/messages", params={"to": CONTACT}, timeout=5)
    return [str(m["body"]["template"]["name"]) for m in listing.json()["messages"] if m["type"] == "template"]


def set_preference(runtime: RunningRuntime, value: str, timestamp: int) -> None:
    answer = requests.post(
        f"{runtime.graph_url}/_simulator/user_preferences",
        json={"wa_id": CONTACT, "value": value, "timestamp": timestamp, "name": "Kerry Fisher"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["delivered"] is True, answer.text

    def applied() -> bool | None:
        item = runtime.table().get_item(Key={"pk": f"CONTACT#{CONTACT}", "sk": "PROFILE"}).get("Item", {})
        return True if item.get("marketing_stopped") is (value == "stop") else None

    eventually(applied, timeout=60)


def test_a_marketing_template_waits_for_the_contact_to_resume_marketing_messages(
    runtime: RunningRuntime,
) -> None:
    stopped_at = int(time.time())
    set_preference(runtime, "stop", stopped_at)
    refused = send(runtime, marketing_template())
    assert refused["status"] == "failed", refused
    assert refused["error"]["code"] == 131050
    assert refused["error"]["message"].startswith("Refused before sending")
    assert templates_sent(runtime) == []
    shown = runtime.wactl("conversation", CONTACT, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["summary"]["marketing"] == "stopped"

    set_preference(runtime, "resume", stopped_at + 1)
    accepted = send(runtime, marketing_template())
    assert accepted["status"] == "accepted", accepted
    assert templates_sent(runtime) == ["seasonal_offers"]
