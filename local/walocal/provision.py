"""Creates the template's stateful resources in an AWS endpoint (moto) and resolves references.

Used by the local runtime against the moto server and by the tests inside ``mock_aws``, so both
run against the queues, table, bucket and secret that template.yaml declares, as declared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from walocal.template import FunctionSpec, Resolver, Template

STACK_NAME = "whatsapp-cloud"
ACCOUNT_ID = "123456789012"  # moto's default account

_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
)


@dataclass
class LocalStack:
    """The emulated stack: physical ids by logical id, and a resolver for everything else."""

    template: Template
    resolver: Resolver
    queue_urls: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)
    bucket_names: dict[str, str] = field(default_factory=dict)
    secret_arns: dict[str, str] = field(default_factory=dict)

    def function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        return {name: str(self.resolver.resolve(value)) for name, value in spec.environment.items()}

    def output(self, name: str) -> str:
        return str(self.resolver.resolve(self.template.body["Outputs"][name]["Value"]))


def provision(
    template: Template,
    session: boto3.Session,
    parameters: Mapping[str, str] | None = None,
    secret_values: Mapping[str, str] | None = None,
) -> LocalStack:
    """Create queues, tables, buckets and (when the template creates it) the secret."""
    return _Provisioner(template, session, parameters or {}).run(secret_values or {})


class _Provisioner:
    def __init__(self, template: Template, session: boto3.Session, parameters: Mapping[str, str]) -> None:
        self.template = template
        self.session = session
        self.region = session.region_name or "us-east-1"
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        resolver = Resolver(
            parameters=template.parameter_defaults() | dict(parameters),
            conditions_source=template.body.get("Conditions", {}),
            refs=self.refs,
            attributes=self.attributes,
            pseudo={
                "AWS::Region": self.region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": STACK_NAME,
            },
        )
        self.stack = LocalStack(template=template, resolver=resolver)

    def run(self, secret_values: Mapping[str, str]) -> LocalStack:
        # Functions and APIs are served in process; references to them resolve to their logical ids.
        for name, resource in self.template.resources.items():
            if resource.get("Type", "").startswith("AWS::Serverless::"):
                self.refs[name] = name
        self._queues()
        self._tables()
        self._buckets()
        self._secrets(secret_values)
        self._log_groups()
        self._event_buses()
        return self.stack

    def _queues(self) -> None:
        sqs = self.session.client("sqs")
        queues = self.template.of_type("AWS::SQS::Queue")
        for name, props in queues.items():
            queue_name = str(props.get("QueueName") or f"{STACK_NAME}-{name}")
            attrs: Any = {key: _attribute_text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
            url = sqs.create_queue(QueueName=queue_name, Attributes=attrs)["QueueUrl"]
            self.stack.queue_urls[name] = self.refs[name] = url
            self.attributes[(name, "QueueName")] = queue_name
            self.attributes[(name, "QueueUrl")] = url
            self.attributes[(name, "Arn")] = f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{queue_name}"
        # Redrive policies point at other queues, so they are set once every queue exists.
        for name, props in queues.items():
            if "RedrivePolicy" in props:
                policy = self.stack.resolver.resolve(props["RedrivePolicy"])
                sqs.set_queue_attributes(
                    QueueUrl=self.stack.queue_urls[name], Attributes={"RedrivePolicy": json.dumps(policy)}
                )

    def _tables(self) -> None:
        dynamodb = self.session.client("dynamodb")
        for name, props in self.template.of_type("AWS::DynamoDB::Table").items():
            table_name = str(props.get("TableName") or f"{STACK_NAME}-{name}")
            request: dict[str, Any] = {
                "TableName": table_name,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            stream = props.get("StreamSpecification")
            if stream:
                request["StreamSpecification"] = {
                    "StreamEnabled": True,
                    "StreamViewType": stream["StreamViewType"],
                }
            created = dynamodb.create_table(**request)["TableDescription"]
            if stream:
                self.attributes[(name, "StreamArn")] = created["LatestStreamArn"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                dynamodb.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": ttl["Enabled"],
                    },
                )
            self.stack.table_names[name] = self.refs[name] = table_name
            self.attributes[(name, "Arn")] = f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{table_name}"

    def _buckets(self) -> None:
        s3 = self.session.client("s3")
        for name, props in self.template.of_type("AWS::S3::Bucket").items():
            bucket = str(props.get("BucketName") or f"{STACK_NAME}-{name}-local".lower())
            s3.create_bucket(Bucket=bucket)
            self.stack.bucket_names[name] = self.refs[name] = bucket
            self.attributes[(name, "Arn")] = f"arn:aws:s3:::{bucket}"

    def _secrets(self, secret_values: Mapping[str, str]) -> None:
        """Each secret holds the keys the template gives it, with the local values where known."""
        secrets = self.session.client("secretsmanager")
        for name, resource in self.template.resources.items():
            if resource.get("Type") != "AWS::SecretsManager::Secret":
                continue
            condition = resource.get("Condition")
            if condition and not self.stack.resolver.condition(condition):
                continue
            declared = _declared_secret(resource.get("Properties", {}))
            value = {key: secret_values.get(key, default) for key, default in declared.items()}
            arn = secrets.create_secret(Name=f"{STACK_NAME}/{name}", SecretString=json.dumps(value))["ARN"]
            self.stack.secret_arns[name] = self.refs[name] = arn

    def _log_groups(self) -> None:
        logs = self.session.client("logs")
        for name, props in self.template.of_type("AWS::Logs::LogGroup").items():
            group = str(self.stack.resolver.resolve(props.get("LogGroupName") or f"/{STACK_NAME}/{name}"))
            logs.create_log_group(logGroupName=group)
            self.refs[name] = group
            self.attributes[(name, "Arn")] = f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{group}:*"

    def _event_buses(self) -> None:
        events = self.session.client("events")
        for name, props in self.template.of_type("AWS::Events::EventBus").items():
            bus = str(self.stack.resolver.resolve(props["Name"]))
            arn = events.create_event_bus(Name=bus)["EventBusArn"]
            self.refs[name] = bus
            self.attributes[(name, "Arn")] = arn
            self.attributes[(name, "Name")] = bus


def _declared_secret(props: Mapping[str, Any]) -> dict[str, str]:
    """The keys of a secret's JSON value, with the template's own values (generated ones empty)."""
    if "SecretString" in props:
        literal: dict[str, str] = json.loads(str(props["SecretString"]))
        return literal
    generate = props.get("GenerateSecretString") or {}
    declared: dict[str, str] = json.loads(str(generate.get("SecretStringTemplate") or "{}"))
    if generate.get("GenerateStringKey"):
        declared[str(generate["GenerateStringKey"])] = ""
    return declared


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
