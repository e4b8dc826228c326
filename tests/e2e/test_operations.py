"""Operations on the local runtime over HTTP: metrics in its log, ``wactl stats --local``,
``wactl doctor --local`` green and red, and ``wactl forget`` end to end (a second run a no-op, an
interrupted run finished by the next)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.emf import counts, data
from support.local_runtime import RunningRuntime, eventually, local_runtime
from wacloud.table.erasure import mentions
from walocal.provision import STACK_NAME
from walocal.runtime import LOCAL_VERIFY_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("operations")]
KERRY = "16505551234"
JO = "16505559876"
ALEX = "16505552222"
BUCKET = f"{STACK_NAME}-payloadbucket-local"
WEBHOOK_SECRET = f"{STACK_NAME}/WebhookSecret"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    with local_runtime(tmp_path_factory.mktemp("runtime") / "wa-local.log") as running:
        yield running


def wactl(runtime: RunningRuntime, *argv: str) -> subprocess.CompletedProcess[str]:
    return runtime.wactl(*argv)


def doctor(runtime: RunningRuntime) -> subprocess.CompletedProcess[str]:
    options = [
        "--webhook-url",
        runtime.webhook_url,
        "--graph-url",
        runtime.graph_url,
        "--waba-id",
        "102290129340398",
    ]
    return wactl(runtime, "doctor", *options)


def writes(runtime: RunningRuntime, wa_id: str, text: str, name: str = "Kerry Fisher") -> None:
    """The contact writes to the business: the simulator posts Meta's signed webhook."""
    answer = requests.post(
        f"{runtime.graph_url}/_simulator/inbound",
        json={"from": wa_id, "name": name, "text": {"body": text}},
        timeout=30,
    )
    assert answer.status_code < 300, answer.text


def items(runtime: RunningRuntime) -> list[dict[str, Any]]:
    table = runtime.table()
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**request)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def objects(runtime: RunningRuntime) -> dict[str, bytes]:
    s3 = runtime.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def keys(found: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["pk"], item["sk"]) for item in found}


def of(found: list[dict[str, Any]], wa_id: str) -> set[tuple[str, str]]:
    return {(i["pk"], i["sk"]) for i in found if any(mentions(str(v), wa_id) for v in i.values())}


def converse(runtime: RunningRuntime, wa_id: str, name: str) -> str:
    """The contact writes, gets a text and a template back, each with its statuses; one oversized
    webhook of theirs goes through the bucket. The wamid of the text."""
    writes(runtime, wa_id, "START", name)
    writes(runtime, wa_id, f"hello, {name} here", name)
    eventually(lambda: ("CONTACT#" + wa_id, "PROFILE") in keys(items(runtime)), timeout=30)
    text = runtime.invoke(
        {"to": wa_id, "type": "text", "text": {"body": "hi"}, "idempotency_key": f"hi-{wa_id}"}
    )
    wamid = str(text.json()["results"][0]["message_id"])
    runtime.invoke(
        {"to": wa_id, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
    )
    big = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550001234",
                                "phone_number_id": "123456789012345",
                            },
                            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": f"wamid.BIG-{wa_id}-{n}",
                                    "timestamp": "1763700000",
                                    "type": "text",
                                    "text": {"body": "x" * 20_000},
                                }
                                for n in range(60)
                            ],
                        },
                    }
                ],
            }
        ],
    }
    assert runtime.post_webhook(json.dumps(big).encode()).status_code == 200

    def settled() -> bool:
        found = items(runtime)
        statuses = [i for i in found if i["pk"] == f"MSG#{wamid}" and i["sk"].startswith("STATUS#")]
        inbound = [i for i in found if i["pk"] == f"CONTACT#{wa_id}" and i["sk"].startswith("MSG#")]
        return len(statuses) >= 3 and len(inbound) >= 62

    eventually(settled, timeout=60)
    return wamid


def test_metrics_show_in_the_runtimes_log_and_stats_count_the_day(runtime: RunningRuntime) -> None:
    writes(runtime, JO, "morning", "Jo")
    eventually(
        lambda: "WebhooksReceived" in runtime.log() and '"MessagesStored"' in runtime.log(), timeout=30
    )
    emitted = "\n".join(line.partition("] ")[2] for line in runtime.log_lines())
    logged = counts(emitted)
    assert logged[("WebhooksReceived",)] >= 1
    assert {dict(point.dimensions)["service"] for point in data(emitted)} == {STACK_NAME}
    assert logged[("MessagesStored", "type=text")] >= 1
    done = wactl(runtime, "stats", "--json")
    assert done.returncode == 0, done.stderr
    [today] = json.loads(done.stdout)["days"]
    assert today["received"] >= 1
    assert today["stored"] >= today["received"]


def test_doctor_is_green_on_the_local_runtime(runtime: RunningRuntime) -> None:
    done = doctor(runtime)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All checks passed." in done.stdout
    states = {line.split("  ")[0]: line for line in done.stdout.splitlines()}
    assert "OK" in states["webhook handshake"]
    assert "OK" in states["Meta app subscription"]
    assert "SKIP" in states["alarms"]


def test_doctor_is_red_with_what_to_fix_when_the_secret_holds_placeholders(runtime: RunningRuntime) -> None:
    secrets = runtime.client("secretsmanager")
    original = secrets.get_secret_value(SecretId=WEBHOOK_SECRET)["SecretString"]
    placeholder = json.dumps({"app_secret": "replace-me", "verify_token": LOCAL_VERIFY_TOKEN})
    secrets.put_secret_value(SecretId=WEBHOOK_SECRET, SecretString=placeholder)
    try:
        done = doctor(runtime)
    finally:
        secrets.put_secret_value(SecretId=WEBHOOK_SECRET, SecretString=original)
    assert done.returncode == 1
    assert "app_secret is a placeholder" in done.stdout
    assert (
        f"Fix secret WebhookSecret: aws secretsmanager put-secret-value --secret-id {WEBHOOK_SECRET}"
        in done.stdout
    )
    assert "1 check(s) failed." in done.stdout
    assert LOCAL_VERIFY_TOKEN not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_forget_erases_a_contact_end_to_end(runtime: RunningRuntime) -> None:
    converse(runtime, KERRY, "Kerry")

    def jos() -> int:
        return len([k for k in keys(items(runtime)) if k[0] == f"CONTACT#{JO}"])

    earlier = jos()
    writes(runtime, JO, "still here", "Jo")
    eventually(lambda: jos() > earlier, timeout=30)
    before, stored = items(runtime), objects(runtime)
    theirs = of(before, KERRY)
    assert len(theirs) >= 60
    assert [key for key in stored if key.startswith("inbound/")]

    done = wactl(runtime, "forget", KERRY, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    after, left = items(runtime), objects(runtime)
    removed = keys(before) - keys(after)
    # Exactly what it listed went; nothing left names them; Jo's items all stayed.
    assert removed == {(i["pk"], i["sk"]) for i in document["items"]}
    assert theirs <= removed
    assert of(after, KERRY) == set()
    assert of(before, JO) - of(before, KERRY) <= keys(after)
    assert set(stored) - set(left) == set(document["objects"])
    assert not [key for key, body in left.items() if mentions(body.decode(), KERRY)]
    [tombstone] = [i for i in after if i["pk"].startswith("FORGOTTEN#")]
    assert (tombstone["state"], KERRY in json.dumps(tombstone, default=str)) == ("erased", False)

    again = wactl(runtime, "forget", KERRY)
    assert again.returncode == 0
    assert "Nothing of 16505551234 is stored" in again.stdout
    assert keys(items(runtime)) == keys(after)


def test_an_interrupted_forget_finishes_on_the_next_run(runtime: RunningRuntime) -> None:
    converse(runtime, ALEX, "Alex")
    before = items(runtime)
    assert len(of(before, ALEX)) >= 60
    faults = f"{runtime.aws_url}/_walocal/faults"
    rule = {"service": "dynamodb", "operation": "BatchWriteItem", "effect": "unavailable", "after": 1}
    assert requests.post(faults, json=rule, timeout=5).status_code == 201
    try:
        stopped = wactl(runtime, "forget", ALEX)
    finally:
        requests.delete(faults, timeout=5)
    assert stopped.returncode == 1
    assert f"run wactl forget {ALEX} again to finish" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    midway = of(items(runtime), ALEX)
    assert midway
    assert len(midway) < len(of(before, ALEX))

    done = wactl(runtime, "forget", ALEX, "--json")
    assert done.returncode == 0, done.stderr
    assert {(i["pk"], i["sk"]) for i in json.loads(done.stdout)["items"]} == midway
    assert of(items(runtime), ALEX) == set()
    assert not [key for key, body in objects(runtime).items() if mentions(body.decode(), ALEX)]
    assert "Nothing of" in wactl(runtime, "forget", ALEX).stdout
