"""Several business numbers through the sender function's handler, against the simulated Meta: each
number keeps its own send line and contact lines, a reply goes from the number the contact wrote to,
a named number overrides it, and a contact's window on one number does not open another's."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from support.aws import REGION
from support.sender_events import TO, simulated_meta, store
from walocal.functions import LocalFunction
from walocal.provision import LocalStack
from walocal.runtime import LOCAL_PHONE_NUMBER_ID
from walocal.simulator import GraphApiSimulator

OTHER = "109876543210987"


@pytest.fixture
def simulator() -> Iterator[GraphApiSimulator]:
    with simulated_meta(phone_number_ids=frozenset({OTHER})) as running:
        # Meta's window is per number too: the contact wrote to both.
        running.state.add_inbound(TO, {"id": "wamid.IN2", "from": TO}, phone_number_id=OTHER)
        yield running


@pytest.fixture
def sender(
    load_function: Callable[..., LocalFunction], simulator: GraphApiSimulator, stack: LocalStack
) -> LocalFunction:
    return load_function(
        "SenderFunction",
        GRAPH_API_URL=simulator.url,
        WHATSAPP_PHONE_NUMBER_IDS=f"{LOCAL_PHONE_NUMBER_ID},{OTHER}",
    )


def text(body: str, **fields: Any) -> dict[str, Any]:
    return {"to": TO, "type": "text", "text": {"body": body}, **fields}


def lines(stack: LocalStack) -> set[str]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table_names["MessagesTable"])
    items = table.scan(
        FilterExpression="begins_with(pk, :pace)", ExpressionAttributeValues={":pace": "PACE#"}
    )
    return {str(item["pk"]) for item in items["Items"]}


def sent_from(simulator: GraphApiSimulator) -> list[str]:
    return [message["phone_number_id"] for message in simulator.snapshot()["messages"]]


def test_each_number_has_its_own_lines_and_replies_go_where_the_contact_wrote(
    sender: LocalFunction, simulator: GraphApiSimulator, stack: LocalStack
) -> None:
    now = int(time.time())
    store(stack).record_inbound(TO, now - 60, "wamid.IN2", "Maria", phone_number_id=OTHER)
    [reply] = sender.invoke(text("Back to you"))["results"]
    assert reply["status"] == "accepted", reply
    assert sent_from(simulator) == [OTHER]
    assert lines(stack) == {f"PACE#{OTHER}", f"PACE#{OTHER}#{TO}"}

    # Named, the default number; but the contact never wrote to it: only a template may go.
    [refused] = sender.invoke(text("From the main line", phone_number_id=LOCAL_PHONE_NUMBER_ID))["results"]
    assert refused["error"]["code"] == 131047
    template = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
    [accepted] = sender.invoke({"to": TO, **template, "phone_number_id": LOCAL_PHONE_NUMBER_ID})["results"]
    assert accepted["status"] == "accepted", accepted
    assert sent_from(simulator) == [OTHER, LOCAL_PHONE_NUMBER_ID]
    assert lines(stack) == {
        f"PACE#{OTHER}",
        f"PACE#{OTHER}#{TO}",
        f"PACE#{LOCAL_PHONE_NUMBER_ID}",
        f"PACE#{LOCAL_PHONE_NUMBER_ID}#{TO}",
    }
    record = store(stack).message(str(accepted["message_id"]))
    assert record is not None
    assert record["phone_number_id"] == LOCAL_PHONE_NUMBER_ID
