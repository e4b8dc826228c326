"""``wactl doctor``: checks the deployed pieces end to end and says what to fix.

- the secrets hold real values (not the placeholders the stack creates them with);
- the webhook URL answers Meta's verification handshake with the secret's verify token, and
  refuses an unsigned POST;
- Meta's app subscription of the business account is in place (``GET /<waba-id>/subscribed_apps``),
  when ``--waba-id`` is given and the access token allows asking;
- the dead-letter queues are empty and the webhook queue is not backing up;
- the stack's alarms are all OK (locally there are none: alarms are not emulated).

Secret values are read to be checked, never printed. The exit status is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from botocore.exceptions import BotoCoreError, ClientError

from wactl.errors import reason
from wactl.output import Output, table
from wactl.target import DEFAULT_STACK, Target, from_arguments

OUTPUT_WEBHOOK_URL = "WebhookUrl"
PLACEHOLDERS = {"", "replace-me", "changeme", "todo", "xxx"}
LOCAL_WEBHOOK_URL = "http://127.0.0.1:3000/webhook"
LOCAL_GRAPH_URL = "http://127.0.0.1:3002"
GRAPH_URL = "https://graph.facebook.com"
GRAPH_VERSION = "v24.0"
# Locally, the runtime names resources "<stack>-<logical id>" and secrets "<stack>/<logical id>".
LOCAL_QUEUES = {
    "WebhookQueueUrl": f"{DEFAULT_STACK}-WebhookQueue",
    "WebhookDeadLetterQueueUrl": f"{DEFAULT_STACK}-WebhookDeadLetterQueue",
    "OutboundDeadLetterQueueUrl": f"{DEFAULT_STACK}-OutboundDeadLetterQueue",
    "PublisherDeadLetterQueueUrl": f"{DEFAULT_STACK}-PublisherDeadLetterQueue",
}
LOCAL_SECRETS = {
    "WebhookSecretArn": f"{DEFAULT_STACK}/WebhookSecret",
    "AccessTokenSecretArn": f"{DEFAULT_STACK}/AccessTokenSecret",
}
# A webhook normally waits seconds in its queue; this many waiting means the processor lags.
QUEUE_BACKLOG = 100
TIMEOUT = 10


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # ok, fail, skip
    detail: str
    fix: str = ""


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="check the deployed pieces end to end and say what to fix",
        description="Checks that the secrets hold real values, that the webhook URL answers Meta's "
        "handshake, that Meta's app subscription is in place (with --waba-id), that the "
        "dead-letter queues are empty and that the alarms are OK. Exit status 1 when a check fails.",
    )
    doctor.add_argument(
        "--webhook-url", metavar="URL", help="the webhook URL (default: the stack's WebhookUrl)"
    )
    doctor.add_argument(
        "--waba-id", metavar="ID", help="the WhatsApp Business Account id, to check the app subscription"
    )
    doctor.add_argument(
        "--graph-url", metavar="URL", help=f"Graph API base URL (default {GRAPH_URL}; locally the simulator)"
    )
    doctor.add_argument("--graph-version", default=GRAPH_VERSION, metavar="VERSION", help="Graph API version")
    doctor.set_defaults(handler=_doctor_command)


def _doctor_command(args: argparse.Namespace, out: Output) -> int:
    # A stack's outputs name every piece checked (the webhook URL among them).
    target = from_arguments(args, needs=[] if args.local else [OUTPUT_WEBHOOK_URL])
    resources = _resources(target)
    webhook_url = (
        args.webhook_url or resources.get("WebhookUrl") or (LOCAL_WEBHOOK_URL if target.is_local else None)
    )
    graph_url = (args.graph_url or (LOCAL_GRAPH_URL if target.is_local else GRAPH_URL)).rstrip("/")
    values: dict[str, dict[str, Any]] = {}
    checks = [
        _secret_check(target, resources, "WebhookSecretArn", ("app_secret", "verify_token"), values),
        _secret_check(target, resources, "AccessTokenSecretArn", ("access_token",), values),
        _handshake_check(webhook_url, values.get("WebhookSecretArn", {}).get("verify_token")),
        _unsigned_post_check(webhook_url),
        _subscription_check(
            graph_url, args.graph_version, args.waba_id, values.get("AccessTokenSecretArn", {})
        ),
        *(_queue_check(target, resources, output) for output in LOCAL_QUEUES),
        _alarms_check(target, args.stack),
    ]
    failed = [check for check in checks if check.state == "fail"]
    lines = [f"Checking {target.description}"]
    lines += table(["CHECK", "STATE", "DETAIL"], [[c.name, c.state.upper(), c.detail] for c in checks])
    for check in failed:
        lines.append(f"Fix {check.name}: {check.fix}")
    lines.append("All checks passed." if not failed else f"{len(failed)} check(s) failed.")
    out.result(
        {
            "target": target.description,
            "ok": not failed,
            "checks": [{"name": c.name, "state": c.state, "detail": c.detail, "fix": c.fix} for c in checks],
        },
        lines,
    )
    return 1 if failed else 0


def _resources(target: Target) -> dict[str, str]:
    """Stack outputs, or the local runtime's fixed names (queue URLs looked up)."""
    if not target.is_local:
        return dict(target.resources)
    found = dict(LOCAL_SECRETS)
    sqs = target.sqs()
    for output, name in LOCAL_QUEUES.items():
        try:
            found[output] = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except (BotoCoreError, ClientError):
            continue
    return found


def _secret_check(
    target: Target,
    resources: dict[str, str],
    output: str,
    keys: tuple[str, ...],
    values: dict[str, dict[str, Any]],
) -> Check:
    name = f"secret {output.removesuffix('Arn')}"
    secret_id = resources.get(output)
    if not secret_id:
        return Check(
            name, "fail", f"{target.description} has no {output}", "deploy the stack, or check --stack"
        )
    try:
        text = target.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        value = json.loads(text)
    except (BotoCoreError, ClientError) as exc:
        return Check(
            name,
            "fail",
            f"cannot read it ({reason(exc)})",
            "check your credentials' secretsmanager:GetSecretValue",
        )
    except ValueError:
        return Check(name, "fail", "not a JSON object", _put_secret(secret_id, keys))
    if not isinstance(value, dict):
        return Check(name, "fail", "not a JSON object", _put_secret(secret_id, keys))
    values[output] = value
    missing = [key for key in keys if not isinstance(value.get(key), str) or not value[key]]
    placeholders = [key for key in keys if key not in missing and value[key].strip().lower() in PLACEHOLDERS]
    if missing or placeholders:
        problems = [f"{key} missing" for key in missing] + [f"{key} is a placeholder" for key in placeholders]
        return Check(name, "fail", "; ".join(problems), _put_secret(secret_id, keys))
    return Check(name, "ok", f"{', '.join(keys)} set (values not shown)")


def _put_secret(secret_id: str, keys: tuple[str, ...]) -> str:
    fields = ",".join(f'"{key}":"..."' for key in keys)
    command = f"aws secretsmanager put-secret-value --secret-id {secret_id} --secret-string '{{{fields}}}'"
    return f"{command} (docs/deploy.md)"


def _handshake_check(url: str | None, verify_token: Any) -> Check:
    name = "webhook handshake"
    if not url:
        return Check(
            name, "fail", "no webhook URL", "give --webhook-url, or check the stack's WebhookUrl output"
        )
    if not isinstance(verify_token, str) or not verify_token:
        return Check(name, "skip", "no verify_token in the webhook secret to try")
    challenge = secrets.token_hex(8)
    query = urlencode({"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge})
    return _http_check(
        name,
        lambda: requests.get(f"{url}?{query}", timeout=TIMEOUT),
        lambda r: r.status_code == 200 and r.text == challenge,
        f"{url} answered the challenge",
        "the secret's verify_token must match Meta's dashboard; see the webhook's logs",
    )


def _unsigned_post_check(url: str | None) -> Check:
    name = "webhook signature check"
    if not url:
        return Check(name, "skip", "no webhook URL")
    return _http_check(
        name,
        lambda: requests.post(url, data=b"{}", headers={"content-type": "application/json"}, timeout=TIMEOUT),
        lambda r: r.status_code == 401,
        "an unsigned POST is refused (401)",
        "the webhook must refuse unsigned POSTs: check that the deployed code is this version",
    )


def _http_check(
    name: str,
    call: Callable[[], requests.Response],
    good: Callable[[requests.Response], bool],
    detail: str,
    fix: str,
) -> Check:
    try:
        response = call()
    except requests.RequestException as exc:
        return Check(name, "fail", f"no answer ({type(exc).__name__})", "is it deployed (or make run going)?")
    if good(response):
        return Check(name, "ok", detail)
    return Check(name, "fail", f"HTTP {response.status_code}", fix)


def _subscription_check(
    graph_url: str, version: str, waba_id: str | None, token_secret: dict[str, Any]
) -> Check:
    name = "Meta app subscription"
    token = token_secret.get("access_token")
    if not waba_id:
        return Check(name, "skip", "give --waba-id to check that the account's webhooks reach the app")
    if not isinstance(token, str) or token.strip().lower() in PLACEHOLDERS:
        return Check(name, "skip", "no access token to ask Meta with")
    url = f"{graph_url}/{version}/{waba_id}/subscribed_apps"
    fix = f"POST {url} with the system user's token (docs/deploy.md, Meta's side)"
    try:
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    except requests.RequestException as exc:
        return Check(name, "fail", f"the Graph API did not answer ({type(exc).__name__})", fix)
    if response.status_code != 200:
        code = _graph_code(response)
        return Check(name, "fail", f"HTTP {response.status_code}, Graph error {code}", fix)
    apps = response.json().get("data") or []
    if not apps:
        return Check(name, "fail", "no app is subscribed: Meta sends this account's webhooks nowhere", fix)
    names = ", ".join(str(app.get("whatsapp_business_api_data", {}).get("name", "?")) for app in apps)
    return Check(name, "ok", f"subscribed: {names}")


def _graph_code(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "-"


def _queue_check(target: Target, resources: dict[str, str], output: str) -> Check:
    label = output.removesuffix("Url")
    url = resources.get(output)
    if not url:
        return Check(label, "skip", f"{target.description} has no {output}")
    try:
        attributes = target.sqs().get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    except (BotoCoreError, ClientError) as exc:
        return Check(
            label, "fail", f"cannot read it ({reason(exc)})", "check your credentials' sqs:GetQueueAttributes"
        )
    waiting = int(attributes.get("ApproximateNumberOfMessages", 0))
    if "DeadLetter" not in output:
        if waiting >= QUEUE_BACKLOG:
            return Check(
                label,
                "fail",
                f"{waiting} webhooks waiting",
                "the processor lags or fails: wactl dlq list, its logs",
            )
        return Check(label, "ok", f"{waiting} waiting")
    if waiting:
        fix = {
            "WebhookDeadLetterQueueUrl": "wactl dlq list, fix the cause, then wactl dlq replay (or purge)",
            "PublisherDeadLetterQueueUrl": "wactl events failed, then wactl events replay (within 24 hours)",
        }.get(output, "read the failure records in the queue, fix the cause, send them again")
        return Check(label, "fail", f"{waiting} message(s) dead-lettered", fix)
    return Check(label, "ok", "empty")


def _alarms_check(target: Target, stack: str) -> Check:
    name = "alarms"
    if target.is_local:
        return Check(name, "skip", "not emulated locally")
    try:
        pages = (
            target.client("cloudwatch").get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{stack}-")
        )
        alarms = [alarm for page in pages for alarm in page.get("MetricAlarms", [])]
    except (BotoCoreError, ClientError) as exc:
        return Check(
            name,
            "fail",
            f"cannot read them ({reason(exc)})",
            "check your credentials' cloudwatch:DescribeAlarms",
        )
    if not alarms:
        return Check(name, "fail", f"no alarm named {stack}-...", "deploy this version of the template")
    firing = sorted(alarm["AlarmName"] for alarm in alarms if alarm.get("StateValue") == "ALARM")
    if firing:
        return Check(
            name, "fail", f"in ALARM: {', '.join(firing)}", "see the dashboard and each alarm's description"
        )
    return Check(name, "ok", f"{len(alarms)} alarms, none in ALARM")
