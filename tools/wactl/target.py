"""Which deployment a command works on: the local runtime, a CloudFormation stack, or explicit names.

Every command takes the same options (:func:`add_target_arguments`) and gets a :class:`Target`
from :func:`from_arguments`, naming the resources it needs (stack output keys), so they all find
the queues, table and sender function the same way:

- ``--stack NAME`` (default ``whatsapp-cloud``): the stack's outputs, read with CloudFormation
  ``DescribeStacks`` and the normal AWS credential chain (``AWS_PROFILE``, ``--profile``, ...);
- ``--local``: the local runtime (``make run``), with its fixed resource names and fake
  credentials: emulated AWS at ``--endpoint-url`` (default http://127.0.0.1:4566), the Lambda
  Invoke API at ``--invoke-url`` (default http://127.0.0.1:3001);
- ``--webhook-queue-url`` with ``--dead-letter-queue-url``, ``--table-name``,
  ``--sender-function``: these resources are used as given; the stack (or the local runtime) is
  only consulted for what a command needs and was not given.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from wactl.errors import WactlError, reason

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient

DEFAULT_STACK = "whatsapp-cloud"
LOCAL_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_INVOKE_URL = "http://127.0.0.1:3001"
LOCAL_REGION = "us-east-1"
# The local runtime names resources "<stack>-<logical id>" (walocal.provision) and serves functions
# under their logical ids (walocal.invoke_api); a test checks it.
LOCAL_QUEUE = f"{DEFAULT_STACK}-WebhookQueue"
LOCAL_DEAD_LETTER_QUEUE = f"{DEFAULT_STACK}-WebhookDeadLetterQueue"
LOCAL_TABLE = f"{DEFAULT_STACK}-MessagesTable"
LOCAL_BUCKET = f"{DEFAULT_STACK}-payloadbucket-local"
LOCAL_SENDER = "SenderFunction"
LOCAL_EVENT_BUS = f"{DEFAULT_STACK}-events"
# Not a secret: the emulator accepts any credentials, and these keep real ones out of its way.
LOCAL_ACCESS_KEY = "local"

OUTPUT_QUEUE = "WebhookQueueUrl"
OUTPUT_DEAD_LETTER_QUEUE = "WebhookDeadLetterQueueUrl"
OUTPUT_TABLE = "MessagesTableName"
OUTPUT_BUCKET = "PayloadBucketName"
OUTPUT_SENDER = "SenderFunctionName"
OUTPUT_EVENT_BUS = "EventBusName"
QUEUES = (OUTPUT_QUEUE, OUTPUT_DEAD_LETTER_QUEUE)

# A synchronous invoke can last as long as Lambda's longest timeout (15 minutes). It is never
# retried: the sender may have sent before the answer was lost, and a retry would send again.
INVOKE_CONFIG = Config(read_timeout=910, retries={"total_max_attempts": 1})
# A local runtime that is not running should say so at once, not after minutes of retries.
LOCAL_CONFIG = Config(connect_timeout=2, read_timeout=30, retries={"total_max_attempts": 2})


class TargetError(WactlError):
    """The deployment to work on cannot be found or reached; the message says what to check."""


@dataclass(frozen=True)
class Target:
    description: str
    session: boto3.Session
    endpoint_url: str | None
    # Physical resource names and URLs, by the stack output that holds them.
    resources: Mapping[str, str] = field(default_factory=dict)
    # Where Lambda invokes go when not to the AWS endpoint: the local runtime's Invoke API.
    invoke_url: str | None = None
    config: Config | None = None
    is_local: bool = False

    def resource(self, output: str) -> str:
        value = self.resources.get(output)
        if not value:
            raise TargetError(f"{self.description} has no {output}")
        return value

    @property
    def webhook_queue_url(self) -> str:
        return self.resource(OUTPUT_QUEUE)

    @property
    def dead_letter_queue_url(self) -> str:
        return self.resource(OUTPUT_DEAD_LETTER_QUEUE)

    @property
    def table_name(self) -> str:
        return self.resource(OUTPUT_TABLE)

    @property
    def sender_function(self) -> str:
        return self.resource(OUTPUT_SENDER)

    @property
    def payload_bucket(self) -> str | None:
        return self.resources.get(OUTPUT_BUCKET)

    @property
    def invoke_description(self) -> str:
        """Where invokes go, for people: the Invoke API's URL when it is not Lambda's."""
        if self.is_local:
            return f"local runtime at {self.invoke_url}"
        return f"{self.description} via {self.invoke_url}" if self.invoke_url else self.description

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=self.config)  # type: ignore[call-overload]

    def sqs(self) -> SQSClient:
        return self.session.client("sqs", endpoint_url=self.endpoint_url, config=self.config)

    def table(self) -> Table:
        dynamodb = self.session.resource("dynamodb", endpoint_url=self.endpoint_url, config=self.config)
        return dynamodb.Table(self.table_name)

    def lambda_client(self) -> LambdaClient:
        config = INVOKE_CONFIG.merge(Config(connect_timeout=2)) if self.is_local else INVOKE_CONFIG
        return self.session.client("lambda", endpoint_url=self.invoke_url or self.endpoint_url, config=config)


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
    group.add_argument(
        "--invoke-url",
        metavar="URL",
        help=f"Lambda Invoke API endpoint; with --local the default is {LOCAL_INVOKE_URL}",
    )
    group.add_argument("--region", help="AWS region (default: from the AWS configuration)")
    group.add_argument("--profile", help="AWS profile (default: the normal credential chain)")
    group.add_argument("--webhook-queue-url", metavar="URL", help="use this webhook queue, skip the lookup")
    group.add_argument(
        "--dead-letter-queue-url", metavar="URL", help="use this dead-letter queue, skip the lookup"
    )
    group.add_argument("--table-name", metavar="NAME", help="use this DynamoDB table, skip the lookup")
    group.add_argument(
        "--sender-function", metavar="NAME", help="invoke this sender function, skip the lookup"
    )
    group.add_argument(
        "--payload-bucket", metavar="NAME", help="use this payload bucket (media), skip the lookup"
    )


def from_arguments(args: argparse.Namespace, needs: Collection[str] = QUEUES) -> Target:
    """The target the options name, with at least the resources ``needs`` lists (output keys)."""
    given = _given(args)
    if args.local:
        session = boto3.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=args.region or LOCAL_REGION,
        )
        endpoint = args.endpoint_url or LOCAL_ENDPOINT
        invoke_url = args.invoke_url or LOCAL_INVOKE_URL
    else:
        session = _session(args.profile, args.region)
        endpoint, invoke_url = args.endpoint_url, args.invoke_url
    missing = [output for output in needs if output not in given]
    if not missing:
        if session.region_name is None and OUTPUT_QUEUE in given:
            # An SQS URL names its region (https://sqs.<region>.amazonaws.com/...).
            session = _session(args.profile, _region_of(given[OUTPUT_QUEUE]))
        if session.region_name is None:
            raise TargetError("no AWS region: give --region or set AWS_REGION")
        return explicit(session, given, endpoint_url=endpoint, invoke_url=invoke_url, is_local=args.local)
    if session.region_name is None:
        raise TargetError("no AWS region: give --region or set AWS_REGION")
    if args.local:
        found = local(session, endpoint, invoke_url, needs=missing)
    else:
        found = stack(session, args.stack, endpoint_url=endpoint, invoke_url=invoke_url, needs=missing)
    return replace(found, resources={**found.resources, **given})


def explicit(
    session: boto3.Session,
    resources: Mapping[str, str],
    *,
    endpoint_url: str | None = None,
    invoke_url: str | None = None,
    is_local: bool = False,
) -> Target:
    return Target(
        description="resources given on the command line",
        session=session,
        endpoint_url=endpoint_url,
        resources=dict(resources),
        invoke_url=invoke_url,
        config=LOCAL_CONFIG if is_local else None,
        is_local=is_local,
    )


def local(
    session: boto3.Session,
    endpoint_url: str = LOCAL_ENDPOINT,
    invoke_url: str = LOCAL_INVOKE_URL,
    *,
    needs: Collection[str] = QUEUES,
) -> Target:
    """The local runtime: its names are fixed, but queue URLs and reachability are checked."""
    resources = {
        OUTPUT_TABLE: LOCAL_TABLE,
        OUTPUT_BUCKET: LOCAL_BUCKET,
        OUTPUT_SENDER: LOCAL_SENDER,
        OUTPUT_EVENT_BUS: LOCAL_EVENT_BUS,
    }
    try:
        if OUTPUT_QUEUE in needs or OUTPUT_DEAD_LETTER_QUEUE in needs:
            sqs = session.client("sqs", endpoint_url=endpoint_url, config=LOCAL_CONFIG)
            resources[OUTPUT_QUEUE] = sqs.get_queue_url(QueueName=LOCAL_QUEUE)["QueueUrl"]
            resources[OUTPUT_DEAD_LETTER_QUEUE] = sqs.get_queue_url(QueueName=LOCAL_DEAD_LETTER_QUEUE)[
                "QueueUrl"
            ]
        if OUTPUT_TABLE in needs:
            dynamodb = session.client("dynamodb", endpoint_url=endpoint_url, config=LOCAL_CONFIG)
            dynamodb.describe_table(TableName=LOCAL_TABLE)
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(
            f"the local runtime's resources are not reachable at {endpoint_url} ({reason(exc)}); "
            "is it running (make run)?"
        ) from exc
    # The Invoke API is only reached when a command invokes: see wactl.invoke for its error.
    return Target(
        description=f"local runtime at {endpoint_url}",
        session=session,
        endpoint_url=endpoint_url,
        resources=resources,
        invoke_url=invoke_url,
        config=LOCAL_CONFIG,
        is_local=True,
    )


def stack(
    session: boto3.Session,
    name: str,
    *,
    endpoint_url: str | None = None,
    invoke_url: str | None = None,
    needs: Collection[str] = QUEUES,
) -> Target:
    cloudformation: CloudFormationClient = session.client("cloudformation", endpoint_url=endpoint_url)
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(
            f"cannot read stack {name!r} in {session.region_name or 'the default region'} ({reason(exc)}); "
            "check --stack, --region and your AWS credentials"
        ) from exc
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    missing = [key for key in needs if not outputs.get(key)]
    if missing:
        raise TargetError(f"stack {name!r} has no output {', '.join(missing)}: is it this project's stack?")
    return Target(
        description=f"stack {name} ({session.region_name})",
        session=session,
        endpoint_url=endpoint_url,
        resources=outputs,
        invoke_url=invoke_url,
    )


def _given(args: argparse.Namespace) -> dict[str, str]:
    if bool(args.webhook_queue_url) != bool(args.dead_letter_queue_url):
        raise TargetError("give both --webhook-queue-url and --dead-letter-queue-url, or neither")
    named: dict[str, Any] = {
        OUTPUT_QUEUE: args.webhook_queue_url,
        OUTPUT_DEAD_LETTER_QUEUE: args.dead_letter_queue_url,
        OUTPUT_TABLE: args.table_name,
        OUTPUT_SENDER: args.sender_function,
        OUTPUT_BUCKET: args.payload_bucket,
    }
    return {output: str(value) for output, value in named.items() if value}


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
