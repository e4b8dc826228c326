"""``wactl migrate inbound``: inbound messages stored by older versions move to their contacts."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from support.aws import REGION, table_items
from support.pipeline import KERRY, deploy_outputs, wactl
from wacloud.table.store import ConversationStore
from walocal.provision import LocalStack

OLD_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQU9MRDAwMDAwMDAwMDAwMQA="
OUTBOUND_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIzQU9VVDAwMDAwMDAwMDAwMQA="


def old_inbound() -> dict[str, Any]:
    """An inbound message as versions before the move stored it."""
    raw = {
        "from": KERRY,
        "id": OLD_WAMID,
        "text": {"body": "Is my order on its way?"},
        "timestamp": "1763700800",
        "type": "text",
    }
    return {
        "pk": f"MSG#{OLD_WAMID}",
        "sk": "MESSAGE",
        "gsi1pk": f"CONTACT#{KERRY}",
        "gsi1sk": f"1763700800#{OLD_WAMID}",
        "wamid": OLD_WAMID,
        "direction": "inbound",
        "wa_id": KERRY,
        "type": "text",
        "timestamp": 1763700800,
        "phone_number_id": "123456789012345",
        "text": "Is my order on its way?",
        "raw": json.dumps(raw, separators=(",", ":"), sort_keys=True),
    }


def outbound() -> dict[str, Any]:
    return {
        "pk": f"MSG#{OUTBOUND_WAMID}",
        "sk": "MESSAGE",
        "gsi1pk": f"CONTACT#{KERRY}",
        "gsi1sk": f"1763700900#{OUTBOUND_WAMID}",
        "wamid": OUTBOUND_WAMID,
        "direction": "outbound",
        "wa_id": KERRY,
        "type": "text",
        "timestamp": 1763700900,
        "text": "Yes, it ships today.",
        "status": "read",
    }


@pytest.fixture
def store(stack: LocalStack) -> ConversationStore:
    deploy_outputs(stack)
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    for item in (old_inbound(), outbound()):
        table.put_item(Item=item)
    return ConversationStore(table)


def test_old_inbound_messages_move_to_their_contact_once(
    store: ConversationStore, stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the old message is listed all the same, through its conversation index entry.
    listed = [
        (OLD_WAMID, "inbound", "Is my order on its way?"),
        (OUTBOUND_WAMID, "outbound", "Yes, it ships today."),
    ]
    assert [(m["wamid"], m["direction"], m.get("text")) for m in store.conversation(KERRY)] == listed

    code, out, _ = wactl(capsys, "migrate", "inbound", "--dry-run")
    assert (code, out.splitlines()[-1].split(" in ")[0]) == (0, "would move 1 inbound message")
    assert len(table_items(stack)) == 2

    code, out, _ = wactl(capsys, "migrate", "inbound", "--json")
    assert (code, json.loads(out)["inbound_messages"]) == (0, 1)
    items = {(item["pk"], item["sk"]): item for item in table_items(stack)}
    assert (f"MSG#{OLD_WAMID}", "MESSAGE") not in items
    moved = items[(f"CONTACT#{KERRY}", f"MSG#1763700800#{OLD_WAMID}")]
    # What the key holds is not repeated, nor the text the raw message renders.
    assert set(moved) == {"pk", "sk", "type", "phone_number_id", "raw"}
    assert [(m["wamid"], m["direction"], m.get("text")) for m in store.conversation(KERRY)] == listed
    profile = store.profile(KERRY)
    assert profile is not None
    assert (profile["last_inbound_at"], profile["last_inbound_wamid"]) == (1763700800, OLD_WAMID)

    # Again: nothing left to move, nothing changed.
    before = table_items(stack)
    code, out, _ = wactl(capsys, "migrate", "inbound")
    assert (code, out.splitlines()[-1].split(" in ")[0]) == (0, "moved 0 inbound messages")
    assert table_items(stack) == before
