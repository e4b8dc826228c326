"""``wactl doctor`` on a deployed stack (emulated): each failing piece named, with what to fix."""

from __future__ import annotations

import json

import boto3
import pytest

from support.aws import REGION
from support.pipeline import deploy_outputs, wactl
from walocal.provision import LocalStack


def outputs(stack: LocalStack, webhook_url: str) -> dict[str, str]:
    return {
        "WebhookUrl": webhook_url,
        "WebhookSecretArn": stack.secret_arns["WebhookSecret"],
        "AccessTokenSecretArn": stack.secret_arns["AccessTokenSecret"],
        "OutboundDeadLetterQueueUrl": stack.queue_urls["OutboundDeadLetterQueue"],
        "PublisherDeadLetterQueueUrl": stack.queue_urls["PublisherDeadLetterQueue"],
    }


def test_doctor_names_each_failing_piece_and_its_fix(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 9 of the loopback: the webhook URL does not answer.
    deploy_outputs(stack, **outputs(stack, "http://127.0.0.1:9/webhook"))
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.put_secret_value(
        SecretId=stack.secret_arns["AccessTokenSecret"],
        SecretString=json.dumps({"access_token": "replace-me"}),
    )
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=stack.queue_urls["WebhookDeadLetterQueue"], MessageBody="{}")
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for name in ("whatsapp-cloud-WebhookDeadLetterAlarm-ABC", "whatsapp-cloud-SenderErrorsAlarm-DEF"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/SQS",
            MetricName="ApproximateNumberOfMessagesVisible",
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    cloudwatch.set_alarm_state(
        AlarmName="whatsapp-cloud-WebhookDeadLetterAlarm-ABC", StateValue="ALARM", StateReason="test"
    )

    code, out, err = wactl(capsys, "doctor", "--json")
    assert code == 1, err
    checks = {check["name"]: check for check in json.loads(out)["checks"]}
    assert checks["secret WebhookSecret"]["state"] == "ok"
    assert checks["secret AccessTokenSecret"]["state"] == "fail"
    assert checks["secret AccessTokenSecret"]["detail"] == "access_token is a placeholder"
    assert "put-secret-value" in checks["secret AccessTokenSecret"]["fix"]
    assert checks["webhook handshake"]["state"] == "fail"
    assert checks["webhook handshake"]["detail"].startswith("no answer")
    assert checks["WebhookDeadLetterQueue"] == {
        "name": "WebhookDeadLetterQueue",
        "state": "fail",
        "detail": "1 message(s) dead-lettered",
        "fix": "wactl dlq list, fix the cause, then wactl dlq replay (or purge)",
    }
    assert checks["OutboundDeadLetterQueue"]["state"] == "ok"
    assert checks["alarms"]["detail"] == "in ALARM: whatsapp-cloud-WebhookDeadLetterAlarm-ABC"
    assert checks["Meta app subscription"]["state"] == "skip"
    assert "replace-me" not in out

    code, out, _ = wactl(capsys, "doctor")
    assert "Fix alarms: see the dashboard and each alarm's description" in out
    assert out.rstrip().endswith("5 check(s) failed.")
