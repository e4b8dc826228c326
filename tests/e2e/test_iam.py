"""IAM locally: each function calls the emulated AWS with exactly the policies template.yaml gives it.

Two runtimes over HTTP: with template.yaml a signed webhook reaches the table and every call each
function made is one its translated policy allows; with a copy of template.yaml that lacks the
processor's DynamoDB statement, the same webhook is queued but the processor meets AccessDenied
and the message never reaches the table, as it would on AWS.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml
from botocore.exceptions import ClientError

from support.local_runtime import RunningRuntime, eventually, local_runtime
from walocal.events import event_path
from walocal.template import TEMPLATE_PATH, Template

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("iam")]


class Runtime(RunningRuntime):
    def message(self, wamid: str, sender: str = "16505551234") -> Any:
        """The inbound message, from its sender's partition (its key holds its time, then its wamid)."""
        found = self.table().query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
            ExpressionAttributeValues={":pk": f"CONTACT#{sender}", ":msg": "MSG#"},
        )["Items"]
        return next((item for item in found if str(item["sk"]).endswith(f"#{wamid}")), None)

    def calls(self) -> list[dict[str, Any]]:
        """What moto judged, the functions' calls with their translated policy's verdict."""
        response = requests.get(f"{self.aws_url}/_walocal/calls", timeout=5)
        response.raise_for_status()
        return [call for call in response.json() if call["function"] is not None]


@contextmanager
def iam_runtime(template: Path, log_path: Path) -> Iterator[Runtime]:
    with local_runtime(log_path, template=template) as running:
        yield Runtime(**{field: getattr(running, field) for field in running.__dataclass_fields__})


def without_statement(function: str, sid: str) -> dict[str, Any]:
    """template.yaml's body with one Sid removed from the policy statements of a function's role."""
    body = copy.deepcopy(Template.load(TEMPLATE_PATH).body)
    role = body["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    removed = 0
    for policy in body["Resources"][role]["Properties"]["Policies"]:
        statements = policy["PolicyDocument"]["Statement"]
        kept = [s for s in statements if s.get("Sid") != sid]
        removed += len(statements) - len(kept)
        policy["PolicyDocument"]["Statement"] = kept
    assert removed == 1, f"{function} has no statement {sid}"
    return body


def as_function(runtime: Runtime, function: str) -> boto3.Session:
    """A session with a second access key of the IAM user that stands for the function's role."""
    key = runtime.client("iam").create_access_key(UserName=f"whatsapp-cloud-{function}")["AccessKey"]
    return boto3.Session(
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )


def assert_items_and_secrets_are_scoped(runtime: Runtime) -> None:
    """The sender writes only items of its own key prefixes; each function reads only its secret."""
    sessions = {name: as_function(runtime, name) for name in ("WebhookFunction", "SenderFunction")}
    sender = sessions["SenderFunction"].client("dynamodb", endpoint_url=runtime.aws_url)
    table = "whatsapp-cloud-MessagesTable"
    own = {"pk": {"S": "IDEMPOTENCY#scope-test"}, "sk": {"S": "CLAIM"}}
    sender.put_item(TableName=table, Item=own)
    sender.delete_item(TableName=table, Key={"pk": {"S": "SEND#scope-test"}, "sk": {"S": "FAILED"}})
    for forbidden in ("CONTACT#16505550000", "RAW#0000", "MSG#wamid.scope"):
        with pytest.raises(ClientError) as denied:
            sender.put_item(TableName=table, Item={"pk": {"S": forbidden}, "sk": {"S": "PROFILE"}})
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError):
        sender.delete_item(TableName=table, Key={"pk": {"S": "MSG#wamid.scope"}, "sk": {"S": "MESSAGE"}})
    with pytest.raises(ClientError):  # a batch with one item outside the prefixes is refused whole
        sender.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": own}},
                    {"PutRequest": {"Item": {**own, "pk": {"S": "CONTACT#1"}}}},
                ]
            }
        )
    # The publisher puts events of the stack's own source only: a forged send request is refused.
    publisher = as_function(runtime, "PublisherFunction").client("events", endpoint_url=runtime.aws_url)
    bus = "whatsapp-cloud-events"
    entry = {"EventBusName": bus, "DetailType": "scope test", "Detail": "{}"}
    publisher.put_events(Entries=[{**entry, "Source": "whatsapp.cloud"}])
    with pytest.raises(ClientError) as denied:
        publisher.put_events(Entries=[{**entry, "Source": "whatsapp.cloud.send"}])
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    secrets = runtime.client("secretsmanager")
    arns = {entry["Name"].rpartition("/")[2]: entry["ARN"] for entry in secrets.list_secrets()["SecretList"]}
    for function, allowed, forbidden in (
        ("WebhookFunction", "WebhookSecret", "AccessTokenSecret"),
        ("SenderFunction", "AccessTokenSecret", "WebhookSecret"),
    ):
        client = sessions[function].client("secretsmanager", endpoint_url=runtime.aws_url)
        client.get_secret_value(SecretId=arns[allowed])
        with pytest.raises(ClientError) as denied:
            client.get_secret_value(SecretId=arns[forbidden])
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def webhook_body(tag: str) -> tuple[bytes, str]:
    payload = json.loads(event_path("webhooks/message_text.json").read_text())
    wamid = f"wamid.iam-{tag}-{time.time_ns()}"
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = wamid
    return json.dumps(payload).encode(), wamid


def test_the_template_policies_allow_the_whole_path(tmp_path: Path) -> None:
    with iam_runtime(TEMPLATE_PATH, tmp_path / "wa-local.log") as runtime:
        body, wamid = webhook_body("allowed")
        assert runtime.post_webhook(body).status_code == 200
        eventually(lambda: runtime.message(wamid), timeout=15)
        calls = runtime.calls()
        assert_items_and_secrets_are_scoped(runtime)
    made = sorted({(call["function"], call["action"]) for call in calls})
    print("(function, action) pairs:", *made, sep="\n  ")
    refused = [call for call in calls if not (call["allowed"] and call["policy_allows"])]
    assert not refused, f"calls the translated policies do not allow: {refused}"
    assert ("WebhookFunction", "secretsmanager:GetSecretValue") in made
    assert ("WebhookFunction", "sqs:SendMessage") in made
    assert {action for function, action in made if function == "ProcessorFunction"} & {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
    }
    assert not [action for function, action in made if function == "WebhookFunction" and "dynamodb" in action]


def test_a_permission_missing_from_the_template_is_access_denied(tmp_path: Path) -> None:
    template = tmp_path / "template-without-processor-writes.yaml"
    body = without_statement("ProcessorFunction", "WriteConversationData")
    template.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    with iam_runtime(template, tmp_path / "wa-local.log") as runtime:
        body_bytes, wamid = webhook_body("denied")
        assert runtime.post_webhook(body_bytes).status_code == 200  # the webhook's own rights are intact
        eventually(lambda: [call for call in runtime.calls() if not call["allowed"]], timeout=20)
        eventually(lambda: "AccessDenied" in runtime.log(), timeout=15)  # the processor's own error log
        time.sleep(1.5)  # longer than the poller's cycle: no retry may have stored it meanwhile
        assert runtime.message(wamid) is None
        calls = runtime.calls()
    denied = [call for call in calls if not call["allowed"]]
    assert denied, "the processor was never refused"
    assert {call["function"] for call in denied} == {"ProcessorFunction"}
    assert all(call["action"].startswith("dynamodb:") for call in denied)
    # moto and the offline evaluator agree on every call, allowed or not.
    assert all(call["allowed"] == call["policy_allows"] for call in calls)
    # The processor says which call failed and why, without botocore's message (it can echo values).
    assert "on the table failed (AccessDeniedException)" in runtime.log()
    assert "not authorized to perform" not in runtime.log()
