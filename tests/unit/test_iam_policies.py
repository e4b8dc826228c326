"""Each function's IAM policies as SAM translates template.yaml, and the offline policy evaluator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from walocal.policies import ResolvedPolicy, evaluate, translate, translated_policies
from walocal.provision import ACCOUNT_ID, provision
from walocal.template import Template

# Its module-scoped fixture is costly: its tests stay together on one worker of a parallel run.
pytestmark = pytest.mark.xdist_group("iam_policies")

REGION = "us-east-1"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/whatsapp-cloud-MessagesTable"
BUCKET = "arn:aws:s3:::whatsapp-cloud-payloadbucket-local"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:whatsapp-cloud-"


@pytest.fixture(scope="module")
def policies() -> Iterator[dict[str, list[ResolvedPolicy]]]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        with mock_aws():
            template = Template.load()
            stack = provision(
                template,
                boto3.Session(region_name=REGION),
                parameters={"PhoneNumberId": "123456789012345"},
                secret_values={"app_secret": "s"},
            )
            yield translated_policies(template, stack.resolver, REGION, ACCOUNT_ID)


def grants(policies: list[ResolvedPolicy]) -> set[tuple[str, str]]:
    """(action, resource) pairs; an item-scoped DynamoDB grant's resource ends in ``[prefixes]``."""
    pairs = set()
    for policy in policies:
        assert policy.managed_arn is None, "every permission is the template's own"
        for statement in policy.document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            condition = statement.get("Condition")
            if condition is not None and "StringEquals" in condition:
                # Events of one source only: the resource ends in ``{source}``.
                assert set(condition) == {"StringEquals"}
                source = condition["StringEquals"]["events:source"]
                resources = [f"{resource}{{{source}}}" for resource in resources]
            elif condition is not None:
                assert set(condition) == {"ForAllValues:StringLike"}
                keys = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                resources = [f"{resource}[{','.join(keys)}]" for resource in resources]
            pairs |= {(action, resource) for action in actions for resource in resources}
    return pairs


def secret_arn(pairs: set[tuple[str, str]], name: str) -> str:
    [arn] = [resource for action, resource in pairs if action == "secretsmanager:GetSecretValue"]
    assert arn.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:whatsapp-cloud/{name}-")
    return arn


def own_logs_and_traces(function: str) -> set[tuple[str, str]]:
    group = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/whatsapp-cloud-{function}:*"
    return {
        ("logs:CreateLogStream", group),
        ("logs:PutLogEvents", group),
        ("xray:PutTraceSegments", "*"),
        ("xray:PutTelemetryRecords", "*"),
    }


def queue_consumer(queue: str) -> set[tuple[str, str]]:
    actions = ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes", "ChangeMessageVisibility")
    return {(f"sqs:{action}", f"{QUEUE}{queue}") for action in actions}


def test_every_function_has_its_own_role(policies: dict[str, list[ResolvedPolicy]]) -> None:
    assert set(policies) == {
        "WebhookFunction",
        "ProcessorFunction",
        "SenderFunction",
        "PublisherFunction",
        "ReplyBotFunction",
        "MediaFunction",
    }


def test_webhook_may_queue_store_inbound_and_read_its_own_secret_only(
    policies: dict[str, list[ResolvedPolicy]],
) -> None:
    pairs = grants(policies["WebhookFunction"])
    assert pairs == {
        *own_logs_and_traces("webhook"),
        ("sqs:SendMessage", f"{QUEUE}WebhookQueue"),
        ("s3:PutObject", f"{BUCKET}/inbound/*"),
        ("secretsmanager:GetSecretValue", secret_arn(pairs, "WebhookSecret")),
    }


def test_processor_may_write_the_table_and_its_payload_prefixes_but_read_no_secret(
    policies: dict[str, list[ResolvedPolicy]],
) -> None:
    table_actions = ("GetItem", "PutItem", "UpdateItem", "BatchWriteItem", "Query", "BatchGetItem")
    assert grants(policies["ProcessorFunction"]) == {
        *own_logs_and_traces("processor"),
        *queue_consumer("WebhookQueue"),
        *((f"dynamodb:{action}", TABLE) for action in table_actions),
        ("s3:GetObject", f"{BUCKET}/inbound/*"),
        ("s3:GetObject", f"{BUCKET}/archive/*"),
        ("s3:PutObject", f"{BUCKET}/archive/*"),
        ("s3:PutObject", f"{BUCKET}/spilled/*"),
    }


def test_sender_writes_only_its_own_items_and_reads_only_the_access_token(
    policies: dict[str, list[ResolvedPolicy]],
) -> None:
    pairs = grants(policies["SenderFunction"])
    assert pairs == {
        *own_logs_and_traces("sender"),
        *queue_consumer("OutboundQueue"),
        ("dynamodb:GetItem", f"{TABLE}[CONTACT#*,USER#*,IDEMPOTENCY#*,REMINDER_RUN#*]"),
        # A profile is read with the contact's latest messages, in their partition.
        ("dynamodb:Query", f"{TABLE}[CONTACT#*]"),
        ("dynamodb:PutItem", f"{TABLE}[IDEMPOTENCY#*,SEND#*,REMINDER_RUN#*]"),
        # PACE#: the number's send line, shared by every instance.
        ("dynamodb:UpdateItem", f"{TABLE}[IDEMPOTENCY#*,MSG#*,PACE#*]"),
        ("dynamodb:DeleteItem", f"{TABLE}[SEND#*]"),
        ("dynamodb:Scan", f"{TABLE}/index/consent"),
        # Media sent by s3_uri, and the media ids of their uploads by content hash.
        ("s3:GetObject", f"{BUCKET}/media/*"),
        ("s3:GetObject", f"{BUCKET}/outbound/*"),
        ("dynamodb:GetItem", f"{TABLE}[MEDIAUPLOAD#*]"),
        ("dynamodb:PutItem", f"{TABLE}[MEDIAUPLOAD#*]"),
        # The template catalog: read (cached), replaced by the sync.
        *(
            (f"dynamodb:{action}", f"{TABLE}[TEMPLATES]")
            for action in ("Query", "PutItem", "UpdateItem", "BatchWriteItem")
        ),
        ("sqs:SendMessage", f"{QUEUE}OutboundQueue"),
        ("secretsmanager:GetSecretValue", secret_arn(pairs, "AccessTokenSecret")),
        # EventInvokeConfig's OnFailure destination.
        ("sqs:SendMessage", f"{QUEUE}OutboundDeadLetterQueue"),
    }


def test_publisher_reads_only_the_stream_and_puts_only_its_own_events(
    policies: dict[str, list[ResolvedPolicy]],
) -> None:
    stream = grants(policies["PublisherFunction"])
    [stream_arn] = {resource for action, resource in stream if action == "dynamodb:GetRecords"}
    assert stream_arn.startswith(f"{TABLE}/stream/")
    assert stream == {
        *own_logs_and_traces("publisher"),
        *(
            (f"dynamodb:{action}", stream_arn)
            for action in ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams")
        ),
        (
            "events:PutEvents",
            f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/whatsapp-cloud-events{{whatsapp.cloud}}",
        ),
        # The stream source's OnFailure destination.
        ("sqs:SendMessage", f"{QUEUE}PublisherDeadLetterQueue"),
    }


def test_reply_bot_only_puts_send_requests_on_the_bus(policies: dict[str, list[ResolvedPolicy]]) -> None:
    assert grants(policies["ReplyBotFunction"]) == {
        *own_logs_and_traces("replybot"),
        (
            "events:PutEvents",
            f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/whatsapp-cloud-events{{whatsapp.send-requests}}",
        ),
    }


def test_media_keeps_media_records_them_on_messages_and_reads_only_the_access_token(
    policies: dict[str, list[ResolvedPolicy]],
) -> None:
    pairs = grants(policies["MediaFunction"])
    assert pairs == {
        *own_logs_and_traces("media"),
        ("s3:PutObject", f"{BUCKET}/media/*"),
        # HeadObject: a content kept before is not put again.
        ("s3:GetObject", f"{BUCKET}/media/*"),
        ("dynamodb:GetItem", f"{TABLE}[CONTACT#*]"),
        ("dynamodb:UpdateItem", f"{TABLE}[CONTACT#*]"),
        ("secretsmanager:GetSecretValue", secret_arn(pairs, "AccessTokenSecret")),
        # EventInvokeConfig's OnFailure destination.
        ("sqs:SendMessage", f"{QUEUE}MediaDeadLetterQueue"),
    }


@pytest.mark.parametrize(
    ("function", "action", "resource", "expected"),
    [
        ("WebhookFunction", "sqs:SendMessage", f"{QUEUE}WebhookQueue", True),
        ("WebhookFunction", "sqs:SendMessageBatch", f"{QUEUE}WebhookQueue", False),
        ("WebhookFunction", "sqs:SendMessage", f"{QUEUE}OutboundQueue", False),
        ("WebhookFunction", "s3:PutObject", f"{BUCKET}/inbound/abc", True),
        ("WebhookFunction", "s3:PutObject", f"{BUCKET}/archive/abc", False),
        ("WebhookFunction", "s3:GetObject", f"{BUCKET}/inbound/abc", False),
        ("WebhookFunction", "dynamodb:PutItem", TABLE, False),
        ("WebhookFunction", "logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:x", False),
        ("ProcessorFunction", "dynamodb:PutItem", TABLE, True),
        ("ProcessorFunction", "dynamodb:Query", f"{TABLE}/index/gsi1", False),
        ("ProcessorFunction", "dynamodb:DeleteItem", TABLE, False),
        ("ProcessorFunction", "sqs:ReceiveMessage", f"{QUEUE}WebhookQueue", True),
        ("SenderFunction", "dynamodb:Scan", f"{TABLE}/index/consent", True),
        ("SenderFunction", "dynamodb:Scan", TABLE, False),
        ("SenderFunction", "dynamodb:Query", f"{TABLE}/index/gsi1", False),
        (
            "SenderFunction",
            "lambda:InvokeFunction",
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:x",
            False,
        ),
    ],
)
def test_translated_policies_judge_calls(
    policies: dict[str, list[ResolvedPolicy]], function: str, action: str, resource: str, expected: bool
) -> None:
    assert evaluate([p.document for p in policies[function]], action, resource) is expected


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_evaluator_allows_only_what_a_statement_matches() -> None:
    policy = doc(allow("s3:Get*", "arn:aws:s3:::b/in/*"))
    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::b/in/x") is True
    assert evaluate([policy], "S3:getobject", "arn:aws:s3:::b/in/x") is True  # actions ignore case
    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::B/in/x") is False  # resources do not
    assert evaluate([policy], "s3:PutObject", "arn:aws:s3:::b/in/x") is False
    assert evaluate([], "s3:GetObject", "arn:aws:s3:::b/in/x") is False


def test_evaluator_explicit_deny_wins_across_documents() -> None:
    documents = [doc(allow("*", "*")), doc({"Effect": "Deny", "Action": "dynamodb:Delete*", "Resource": "*"})]
    assert evaluate(documents, "dynamodb:DeleteItem", "arn:aws:dynamodb:r:1:table/t") is False
    assert evaluate(documents, "dynamodb:GetItem", "arn:aws:dynamodb:r:1:table/t") is True


def test_evaluator_not_action_not_resource_and_single_character_wildcard() -> None:
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::public/x") is True
    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::secret/x") is False
    assert evaluate([policy], "iam:CreateUser", "*") is False
    suffixed = doc(allow("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:r:1:secret:s-??????"))
    assert evaluate([suffixed], "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:r:1:secret:s-AbC123")
    assert not evaluate(
        [suffixed], "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:r:1:secret:s-AbC12"
    )


def test_evaluator_reports_a_condition_instead_of_guessing() -> None:
    conditional = allow("sqs:SendMessage", "*", Condition={"Bool": {"aws:SecureTransport": "true"}})
    assert evaluate([doc(conditional)], "sqs:SendMessage", "arn:aws:sqs:r:1:q") is None
    conditional_deny = {**conditional, "Effect": "Deny"}
    assert evaluate([doc(allow("*", "*"), conditional_deny)], "sqs:SendMessage", "arn:aws:sqs:r:1:q") is None
    assert (
        evaluate([doc(allow("*", "*"), conditional_deny)], "sqs:ReceiveMessage", "arn:aws:sqs:r:1:q") is True
    )


def test_evaluator_judges_leading_keys_when_the_request_names_them() -> None:
    scoped = allow(
        "dynamodb:PutItem",
        "arn:aws:dynamodb:r:1:table/t",
        Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SEND#*", "IDEMPOTENCY#*"]}},
    )
    table = "arn:aws:dynamodb:r:1:table/t"
    assert evaluate([doc(scoped)], "dynamodb:PutItem", table, {"dynamodb:LeadingKeys": ["SEND#1"]}) is True
    assert evaluate([doc(scoped)], "dynamodb:PutItem", table, {"dynamodb:LeadingKeys": ["MSG#1"]}) is False
    mixed = {"dynamodb:LeadingKeys": ["SEND#1", "CONTACT#2"]}
    assert evaluate([doc(scoped)], "dynamodb:PutItem", table, mixed) is False  # every key must match
    assert evaluate([doc(scoped)], "dynamodb:PutItem", table) is None  # keys unknown: not guessed
    assert evaluate([doc(scoped)], "dynamodb:PutItem", table, {"aws:SourceIp": ["1.2.3.4"]}) is None


@pytest.mark.parametrize(
    ("operator", "values", "expected"),
    [
        ("StringEquals", ["a"], True),
        ("StringEquals", ["b"], False),
        ("StringEquals", ["a", "a"], False),  # a single-valued operator needs a single value
        ("StringLike", ["a"], True),
        ("ForAnyValue:StringEquals", ["b", "a"], True),
        ("ForAnyValue:StringEquals", ["b"], False),
        ("ForAllValues:StringEquals", [], True),
        ("NumericEquals", ["1"], None),  # not judged here
    ],
)
def test_evaluator_string_condition_operators(
    operator: str, values: list[str], expected: bool | None
) -> None:
    statement = allow("s3:GetObject", "*", Condition={operator: {"k": "a"}})
    assert evaluate([doc(statement)], "s3:GetObject", "x", {"k": values}) is expected


def test_send_requests_come_only_from_the_stack_s_bus_and_one_source() -> None:
    cfn = translate(Template.load(), {"PhoneNumberId": "123456789012345"})
    resources = cfn["Resources"]
    [rule] = [  # the one rule that takes send requests (the schedule is EventBridge Scheduler's)
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        and "WhatsApp Send Request" in str(r["Properties"].get("EventPattern"))
    ]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["EventPattern"] == {
        "source": [{"Ref": "SendRequestSource"}],
        "detail-type": ["WhatsApp Send Request"],
    }
    policy = resources["SendRequestBusPolicy"]["Properties"]
    assert policy["EventBusName"] == {"Ref": "EventBus"}
    statement = policy["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert statement["Condition"] == {"StringEquals": {"events:source": {"Ref": "SendRequestSource"}}}
