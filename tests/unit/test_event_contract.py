"""The events' contract as published: docs/events.md shows the models' own schemas, and every
sample event in events/eventbridge/ is one the models accept."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from wacloud.events.models import DETAILS, SOURCE, EventDetail
from wactl.cli import run
from walocal.events import EVENTS_DIR

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
SAMPLES = sorted((EVENTS_DIR / "eventbridge").glob("*.json"))
MODELS = {model.detail_type: model for model in DETAILS}


@pytest.mark.parametrize("model", DETAILS, ids=lambda model: model.detail_type)
def test_the_docs_show_each_detail_types_schema_as_the_model_makes_it(model: type[EventDetail]) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"### {model.detail_type}\n" in text
    assert json.dumps(model.model_json_schema(), indent=2) in text


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_each_sample_event_is_one_the_publisher_could_have_made(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    assert event["source"] == SOURCE
    model = MODELS[event["detail-type"]]
    detail = model.model_validate(event["detail"])
    assert detail.model_dump(mode="json", exclude_none=True) == event["detail"]


def test_every_detail_type_has_a_sample() -> None:
    kinds = {json.loads(path.read_text(encoding="utf-8"))["detail-type"] for path in SAMPLES}
    assert kinds == set(MODELS)


def test_wactl_prints_the_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    captured = io.StringIO()
    monkeypatch.setattr("sys.stdout", captured)
    assert run(["events", "schema", "WhatsApp Message Received"]) == 0
    printed = json.loads(captured.getvalue())
    assert printed == {"WhatsApp Message Received": MODELS["WhatsApp Message Received"].model_json_schema()}
    assert run(["events", "schema", "WhatsApp Nothing"]) == 1
