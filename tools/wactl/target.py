"""Which deployment a command works on: the local runtime, a CloudFormation stack, or explicit URLs.

Every command takes the same options (:func:`add_target_arguments`) and gets a :class:`Target`
from :func:`from_arguments`, so they all find the queues, table and bucket the same way:

- ``--stack NAME`` (default ``whatsapp-cloud``): the stack's outputs, read with CloudFormation
  ``DescribeStacks`` and the normal AWS credential chain (``AWS_PROFILE``, ``--profile``, ...);
- ``--local``: the local runtime's emulated AWS (``make run``), with its fixed resource names
  and fake credentials;
- ``--webhook-queue-url`` and ``--dead-letter-queue-url``: no lookup at all.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wactl.errors import WactlError, reason

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient

DEFAULT_STACK = "whatsapp-cloud"
LOCAL_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_REGION = "us-east-1"
# The local runtime names resources "<stack>-<logical id>" (walocal.provision); a test checks it.
LOCAL_QUEUE = f"{DEFAULT_STACK}-WebhookQueue"
LOCAL_DEAD_LETTER_QUEUE = f"{DEFAULT_STACK}-WebhookDeadLetterQueue"
LOCAL_TABLE = f"{DEFAULT_STACK}-MessagesTable"
LOCAL_BUCKET = f"{DEFAULT_STACK}-payloadbucket-local"
# Not a secret: the emulator accepts any credentials, and these keep real ones out of its way.
LOCAL_ACCESS_KEY = "local"

OUTPUT_QUEUE = "WebhookQueueUrl"
OUTPUT_DEAD_LETTER_QUEUE = "WebhookDeadLetterQueueUrl"
OUTPUT_TABLE = "MessagesTableName"
OUTPUT_BUCKET = "PayloadBucketName"


class TargetError(WactlError):
    """The deployment to work on cannot be found or reached; the message says what to check."""


@dataclass(frozen=True)
class Target:
    description: str
    session: boto3.Session
    endpoint_url: str | None
    webhook_queue_url: str
    dead_letter_queue_url: str
    table_name: str | None = None
    payload_bucket: str | None = None
    config: Config | None = None

    def sqs(self) -> SQSClient:
        return self.session.client("sqs", endpoint_url=self.endpoint_url, config=self.config)


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        metavar="NAME",
        help=f"deployed CloudFormation stack to work on (default: {DEFAULT_STACK})",
    )
    where.add_argument("--local", action="store_true", help="the local runtime (make run)")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help=f"AWS endpoint; with --local the default is {LOCAL_ENDPOINT}",
    )
    group.add_argument("--region", help="AWS region (default: from the AWS configuration)")
    group.add_argument("--profile", help="AWS profile (default: the normal credential chain)")
    group.add_argument("--webhook-queue-url", metavar="URL", help="use this webhook queue, skip the lookup")
    group.add_argument(
        "--dead-letter-queue-url", metavar="URL", help="use this dead-letter queue, skip the lookup"
    )


def from_arguments(args: argparse.Namespace) -> Target:
    if args.local:
        session = boto3.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=args.region or LOCAL_REGION,
        )
        endpoint = args.endpoint_url or LOCAL_ENDPOINT
    else:
        session = _session(args.profile, args.region)
        endpoint = args.endpoint_url
    if args.webhook_queue_url or args.dead_letter_queue_url:
        if not (args.webhook_queue_url and args.dead_letter_queue_url):
            raise TargetError("give both --webhook-queue-url and --dead-letter-queue-url, or neither")
        if session.region_name is None:
            # An SQS URL names its region (https://sqs.<region>.amazonaws.com/...).
            session = _session(args.profile, _region_of(args.webhook_queue_url))
        return explicit(session, args.webhook_queue_url, args.dead_letter_queue_url, endpoint_url=endpoint)
    if session.region_name is None:
        raise TargetError("no AWS region: give --region or set AWS_REGION")
    if args.local:
        return local(session, endpoint)
    return stack(session, args.stack, endpoint_url=endpoint)


def explicit(
    session: boto3.Session,
    webhook_queue_url: str,
    dead_letter_queue_url: str,
    *,
    endpoint_url: str | None = None,
    table_name: str | None = None,
    payload_bucket: str | None = None,
) -> Target:
    return Target(
        description="queues given on the command line",
        session=session,
        endpoint_url=endpoint_url,
        webhook_queue_url=webhook_queue_url,
        dead_letter_queue_url=dead_letter_queue_url,
        table_name=table_name,
        payload_bucket=payload_bucket,
    )


def local(session: boto3.Session, endpoint_url: str = LOCAL_ENDPOINT) -> Target:
    # A local runtime that is not running should say so at once, not after minutes of retries.
    config = Config(connect_timeout=2, read_timeout=30, retries={"total_max_attempts": 2})
    sqs = session.client("sqs", endpoint_url=endpoint_url, config=config)
    try:
        queue = sqs.get_queue_url(QueueName=LOCAL_QUEUE)["QueueUrl"]
        dead_letters = sqs.get_queue_url(QueueName=LOCAL_DEAD_LETTER_QUEUE)["QueueUrl"]
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(
            f"the local runtime's queues are not reachable at {endpoint_url} ({reason(exc)}); "
            "is it running (make run)?"
        ) from exc
    return Target(
        description=f"local runtime at {endpoint_url}",
        session=session,
        endpoint_url=endpoint_url,
        webhook_queue_url=queue,
        dead_letter_queue_url=dead_letters,
        table_name=LOCAL_TABLE,
        payload_bucket=LOCAL_BUCKET,
        config=config,
    )


def stack(session: boto3.Session, name: str, *, endpoint_url: str | None = None) -> Target:
    cloudformation: CloudFormationClient = session.client("cloudformation", endpoint_url=endpoint_url)
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(
            f"cannot read stack {name!r} in {session.region_name or 'the default region'} ({reason(exc)}); "
            "check --stack, --region and your AWS credentials"
        ) from exc
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    missing = [key for key in (OUTPUT_QUEUE, OUTPUT_DEAD_LETTER_QUEUE) if not outputs.get(key)]
    if missing:
        raise TargetError(f"stack {name!r} has no output {', '.join(missing)}: is it this project's stack?")
    return Target(
        description=f"stack {name} ({session.region_name})",
        session=session,
        endpoint_url=endpoint_url,
        webhook_queue_url=outputs[OUTPUT_QUEUE],
        dead_letter_queue_url=outputs[OUTPUT_DEAD_LETTER_QUEUE],
        table_name=outputs.get(OUTPUT_TABLE),
        payload_bucket=outputs.get(OUTPUT_BUCKET),
    )


def _region_of(queue_url: str) -> str | None:
    host = urlparse(queue_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs":
        return parts[1]
    raise TargetError(f"no AWS region: give --region or set AWS_REGION (none in {queue_url})")


def _session(profile: str | None, region: str | None) -> boto3.Session:
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:  # an unknown profile, for one
        raise TargetError(str(exc)) from exc
