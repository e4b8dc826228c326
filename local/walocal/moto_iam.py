"""IAM enforcement for the moto server the local runtime runs in its own process.

moto checks each request that reaches ``BaseResponse.call_action`` (most services) or an S3
handler against the caller's IAM policies once ``settings.INITIAL_NO_AUTH_ACTION_COUNT`` requests
have passed. Out of the box it names the resource only for SQS, S3, IAM and STS: every other
service asks about resource "*", which no resource-scoped statement matches, so a DynamoDB call
the template allows would be denied. ``install()`` patches moto, in this process only, to

* name the resources of a call (DynamoDB tables and indexes, each table of a batch and each item
  of a transaction, Secrets Manager secrets, EventBridge buses and rules, Lambda functions,
  Scheduler schedules);
* use IAM's action names where they differ from the API's (lambda:Invoke -> lambda:InvokeFunction);
* answer a denial of a JSON-protocol service as AWS does (``AccessDeniedException`` in JSON), not
  with moto's XML body that botocore reports as error code "403";
* judge the conditions moto skips, ``dynamodb:LeadingKeys`` above all (item-level scoping of a
  shared table), with the translated policy and the request's partition keys, and deny what they
  refuse;
* record every judged call in ``CALLS`` (principal, IAM action, resource, moto's verdict, and, for
  a registered function identity, the function and its translated policy's verdict by
  ``walocal.policies.evaluate``), served as JSON on ``GET /_walocal/calls`` of the same server.

Never install it in a process that uses ``mock_aws`` for its own tests: it changes moto globally.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.exceptions import HTTPException

from walocal.faults import FAULTS, FAULTS_PATH, FaultRule, FaultSpecError
from walocal.policies import Context, PolicyDoc, evaluate

CALLS_PATH = "/_walocal/calls"

# API operation -> IAM action, where moto's operation name is not the IAM action's name.
_ACTION_ALIASES = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
    "lambda:InvokeAsync": "lambda:InvokeFunction",
    "lambda:ListFunctions20150331": "lambda:ListFunctions",
    # moto's X-Ray takes the URL path as the operation (moto/xray/responses.py _get_action).
    "xray:TraceSegments": "xray:PutTraceSegments",
    "xray:TelemetryRecords": "xray:PutTelemetryRecords",
    "xray:Traces": "xray:BatchGetTraces",
    "xray:ServiceGraph": "xray:GetServiceGraph",
    "xray:TraceGraph": "xray:GetTraceGraph",
    "xray:TraceSummaries": "xray:GetTraceSummaries",
}
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass(frozen=True)
class Call:
    """One judged request: who, which IAM action on which resource, moto's and the policy's verdicts."""

    principal: str  # the caller's ARN, e.g. arn:aws:iam::123456789012:user/whatsapp-cloud-WebhookFunction
    action: str  # service:Action as IAM names it
    resource: str
    allowed: bool  # moto's verdict: the request went through
    function: str | None = None  # the function whose identity made it; None for the administrator
    # The translated policy's verdict (walocal.policies.evaluate): None for the administrator, or
    # when a Condition decides (conditions are not evaluated).
    policy_allows: bool | None = None


class CallLog:
    """Every request moto judged since enforcement was switched on (thread-safe)."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._principals: dict[str, tuple[str, list[PolicyDoc]]] = {}
        self._lock = threading.Lock()

    def register(self, principal: str, function: str, documents: Iterable[PolicyDoc]) -> None:
        """Attribute the principal's calls to a function and judge them against its documents."""
        with self._lock:
            self._principals[principal] = (function, list(documents))

    def identity(self, principal: str) -> tuple[str | None, list[PolicyDoc] | None]:
        """The function a principal stands for and its translated policy; (None, None) for others."""
        with self._lock:
            return self._principals.get(principal, (None, None))

    def add(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(self.snapshot())


CALLS = CallLog()


# ------------------------------------------------------------------------ resources per request

Check = tuple[str, str]  # (IAM action without the service prefix, resource ARN)
ResourceFinder = Callable[[Any, str, str, str], list[Check]]


def _param(response: Any, name: str) -> Any:
    value = response._get_param(name)
    if value is None and isinstance(getattr(response, "body", None), dict):
        value = response.body.get(name)
    return value


def _table_arn(region: str, account: str, table: str, index: str | None = None) -> str:
    base = table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    return f"{base}/index/{index}" if index else base


def _dynamodb(response: Any, action: str, region: str, account: str) -> list[Check]:
    if action in ("BatchWriteItem", "BatchGetItem"):
        return [
            (action, _table_arn(region, account, table)) for table in (_param(response, "RequestItems") or {})
        ]
    if action in ("TransactWriteItems", "TransactGetItems"):
        return [
            (_TRANSACT_ACTIONS.get(kind, kind), _table_arn(region, account, str(request["TableName"])))
            for item in _param(response, "TransactItems") or []
            for kind, request in item.items()
        ]
    table = _param(response, "TableName") or _param(response, "ResourceArn") or _param(response, "TableArn")
    if not table:
        return [(action, "*")]  # ListTables and other account-level calls
    return [(action, _table_arn(region, account, str(table), _param(response, "IndexName")))]


def _typed_string(value: Any) -> str | None:
    """The value of DynamoDB's typed JSON (``{"S": "MSG#1"}``) as a string."""
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    return None


def _leading_keys(response: Any, action: str, region: str, account: str) -> dict[str, Context]:
    """Per table ARN, the partition key values an item request touches (``dynamodb:LeadingKeys``).

    Named for the item calls and batches, whose keys are in the request, and for a Query of the
    table whose key condition names one partition (``pk = :v``); a Scan's and an index Query's
    are not, so their item-level conditions stay undecided.
    """
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    backend = dynamodb_backends[account][region]

    def hash_values(table: str, keys: Iterable[Any]) -> tuple[str, Context]:
        attribute = backend.get_table(table).hash_key_attr
        values = [_typed_string(key.get(attribute)) for key in keys if isinstance(key, dict)]
        return _table_arn(region, account, table), {"dynamodb:LeadingKeys": [v for v in values if v]}

    try:
        if action in ("GetItem", "DeleteItem", "UpdateItem", "PutItem"):
            key = _param(response, "Item" if action == "PutItem" else "Key")
            arn, context = hash_values(str(_param(response, "TableName")), [key])
            return {arn: context}
        if action == "BatchWriteItem":
            result = {}
            for table, requests in (_param(response, "RequestItems") or {}).items():
                keys = [
                    (request.get("PutRequest") or {}).get("Item")
                    or (request.get("DeleteRequest") or {}).get("Key")
                    for request in requests
                ]
                arn, context = hash_values(table, keys)
                result[arn] = context
            return result
        if action == "Query" and not _param(response, "IndexName"):
            table = str(_param(response, "TableName"))
            value = _queried_partition(
                str(_param(response, "KeyConditionExpression") or ""),
                _param(response, "ExpressionAttributeNames") or {},
                _param(response, "ExpressionAttributeValues") or {},
                backend.get_table(table).hash_key_attr,
            )
            if value is None:
                return {}
            return {_table_arn(region, account, table): {"dynamodb:LeadingKeys": [value]}}
        if action == "BatchGetItem":
            return dict(
                hash_values(table, request.get("Keys") or [])
                for table, request in (_param(response, "RequestItems") or {}).items()
            )
    except Exception:  # an unknown table or a malformed request: moto answers it; no context
        return {}
    return {}


def _event_sources(response: Any) -> Context:
    """The ``events:source`` of a PutEvents request: its entries' sources (one value when they agree)."""
    try:
        entries = _param(response, "Entries") or []
        sources = sorted(
            {str(entry["Source"]) for entry in entries if isinstance(entry, dict) and "Source" in entry}
        )
    except Exception:  # a malformed request: moto answers it; no context
        return {}
    return {"events:source": sources} if sources else {}


def _queried_partition(
    condition: str, names: Mapping[str, str], values: Mapping[str, Any], hash_key: str
) -> str | None:
    """The partition value of a key condition such as ``pk = :pk AND begins_with(sk, :p)``."""
    for name, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", condition):
        if names.get(name, name) == hash_key:
            return _typed_string(values.get(placeholder))
    return None


def _secretsmanager(response: Any, action: str, region: str, account: str) -> list[Check]:
    from moto.secretsmanager.models import secretsmanager_backends  # noqa: PLC0415

    secret_id = _param(response, "SecretId")
    if not secret_id:
        return [(action, "*")]
    secret = secretsmanager_backends[account][region].secrets.get(str(secret_id))
    if secret is not None:
        return [(action, str(secret.arn))]
    # Unknown secret: a full ARN is judged as given; a name gets the "-??????" suffix AWS adds.
    name = str(secret_id)
    return [
        (
            action,
            name
            if name.startswith("arn:")
            else f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-??????",
        )
    ]


def _events(response: Any, action: str, region: str, account: str) -> list[Check]:
    def bus_arn(name: str | None) -> str:
        name = name or "default"
        return name if name.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{name}"

    if action == "PutEvents":
        buses = {bus_arn(entry.get("EventBusName")) for entry in _param(response, "Entries") or []}
        return [(action, arn) for arn in sorted(buses)] or [(action, bus_arn(None))]
    rule_actions = ("PutRule", "DescribeRule", "DeleteRule", "EnableRule", "DisableRule")
    rule = _param(response, "Name") if action in rule_actions else _param(response, "Rule")
    if rule:
        bus = _param(response, "EventBusName")
        prefix = "" if not bus or bus == "default" else f"{bus}/"
        return [(action, f"arn:aws:events:{region}:{account}:rule/{prefix}{rule}")]
    if _param(response, "EventBusName") or action == "DescribeEventBus":
        return [(action, bus_arn(_param(response, "EventBusName") or _param(response, "Name")))]
    return [(action, "*")]


def _lambda(response: Any, action: str, region: str, account: str) -> list[Check]:
    parts = unquote(urlparse(response.uri).path).strip("/").split("/")
    if len(parts) >= 3 and parts[1] == "functions" and parts[2]:
        name = parts[2]
        return [
            (
                action,
                name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}",
            )
        ]
    return [(action, "*")]


def _scheduler(response: Any, action: str, region: str, account: str) -> list[Check]:
    parts = unquote(urlparse(response.uri).path).strip("/").split("/")
    if len(parts) == 2 and parts[0] == "schedules":
        group = _param(response, "GroupName") or "default"
        return [(action, f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{parts[1]}")]
    if len(parts) == 2 and parts[0] == "schedule-groups":
        return [(action, f"arn:aws:scheduler:{region}:{account}:schedule-group/{parts[1]}")]
    return [(action, "*")]


# Services whose resources the patch names; moto itself names SQS, S3, IAM and STS resources.
FINDERS: dict[str, ResourceFinder] = {
    "dynamodb": _dynamodb,
    "secretsmanager": _secretsmanager,
    "events": _events,
    "lambda": _lambda,
    "awslambda": _lambda,
    "scheduler": _scheduler,
}


# ----------------------------------------------------------------------------------- the patch

_original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action
_original_dispatch = DomainDispatcherApplication.__call__
_install_lock = threading.Lock()
_state = {"installed": False}


class _DeniedJson(JsonRESTError):
    code = 403


def _enforcing() -> bool:
    return bool(ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT)


def _patched_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    if not _enforcing() or self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        _original_authorize(self, iam_request_cls, resource)  # counts while enforcement is off
        return
    from moto.iam.access_control import S3IAMRequest  # noqa: PLC0415

    operation = self._get_action()
    finder = FINDERS.get(self.service_name or "")
    if finder is not None and iam_request_cls is not S3IAMRequest:
        checks = finder(self, operation, self.region, self.current_account)
    else:
        checks = [(operation, resource)]
    parsed_url = urlparse(self.uri)
    path = self.raw_path + (f"?{parsed_url.query}" if parsed_url.query else "")
    request = iam_request_cls(
        account_id=self.current_account,
        method=self.method,
        path=path,
        data=self.data,
        body=self.raw_body,
        headers=self.headers,
        action=operation,
    )
    request.check_signature()
    service = request._action.split(":", 1)[0]
    principal = str(request._access_key.arn)
    function, documents = CALLS.identity(principal)
    fault = FAULTS.take(service, operation, function)
    if fault is not None:
        _raise_fault(self, fault, iam_request_cls is S3IAMRequest)
    # Only a function's calls are judged against a translated policy: the administrator's are not.
    contexts: dict[str, Context] = {}
    if documents is not None and service == "dynamodb":
        contexts = _leading_keys(self, operation, self.region, self.current_account)
    elif documents is not None and service == "events" and operation == "PutEvents":
        sources = _event_sources(self)
        contexts = {arn: sources for _, arn in checks} if sources else {}
    for iam_action, arn in checks:
        action = f"{service}:{iam_action}"
        request._action = action = _ACTION_ALIASES.get(action, action)
        verdict = evaluate(documents, action, arn, contexts.get(arn)) if documents is not None else None
        try:
            request.check_action_permitted(arn)
            # moto skips the conditions it cannot evaluate (dynamodb:LeadingKeys among them);
            # the translated policy's verdict, which judges them, has the last word.
            if verdict is False:
                raise PermissionError(action)
        except Exception:
            CALLS.add(Call(principal, action, arn, False, function, verdict))
            if iam_request_cls is S3IAMRequest:
                raise  # S3 answers with its own XML AccessDenied
            message = f"User: {principal} is not authorized to perform: {action} on resource: {arn}"
            if _speaks_json(self):
                code = "AccessDenied" if self.service_name == "sqs" else "AccessDeniedException"
                raise _DeniedJson(code, message) from None
            raise AccessDeniedError(user_arn=principal, action=f"{action} on resource: {arn}") from None
        CALLS.add(Call(principal, action, arn, True, function, verdict))


class _FaultAnswer(HTTPException):
    """An injected fault, answered in the service's own error format."""

    def __init__(self, status: int, code: str, message: str, as_json: bool) -> None:
        super().__init__()
        self.code = status
        self.error_code = code
        if as_json:
            self.body, self.content_type = (
                json.dumps({"__type": code, "message": message}),
                "application/json",
            )
        else:
            self.body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            self.content_type = "application/xml"

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("X-Amzn-ErrorType", self.error_code), ("Content-Type", self.content_type)]

    def get_body(self, *args: Any, **kwargs: Any) -> str:
        return self.body


def _raise_fault(response: Any, fault: FaultRule, is_s3: bool) -> None:
    status, code = fault.error()
    raise _FaultAnswer(
        status, code, f"injected fault {fault.id} ({fault.effect})", not is_s3 and _speaks_json(response)
    )


def _speaks_json(response: Any) -> bool:
    from moto.core.utils import get_service_model  # noqa: PLC0415

    try:
        model = get_service_model(response.boto3_service_name)
        return response.determine_response_protocol(model) in ("json", "rest-json")
    except Exception:  # unknown model: keep moto's XML
        return False


def _patched_dispatch(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
    path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
    if path == CALLS_PATH and method == "GET":
        return _json_answer(start_response, "200 OK", [asdict(call) for call in CALLS])
    if path == FAULTS_PATH:
        return _faults_endpoint(environ, start_response, str(method))
    return _original_dispatch(self, environ, start_response)


def _json_answer(start_response: Any, status: str, value: Any) -> list[bytes]:
    body = json.dumps(value).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _faults_endpoint(environ: dict[str, Any], start_response: Any, method: str) -> list[bytes]:
    if method == "GET":
        return _json_answer(start_response, "200 OK", FAULTS.snapshot())
    if method == "DELETE":
        FAULTS.clear()
        return _json_answer(start_response, "200 OK", [])
    if method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            rule = FAULTS.add(json.loads(environ["wsgi.input"].read(length) or b"null"))
        except (ValueError, FaultSpecError) as exc:
            return _json_answer(start_response, "400 Bad Request", {"error": str(exc)})
        return _json_answer(start_response, "201 Created", asdict(rule))
    return _json_answer(start_response, "405 Method Not Allowed", {"error": "GET, POST or DELETE"})


def install() -> None:
    """Patch moto in this process (idempotent). Call before enforcement is switched on."""
    with _install_lock:
        if _state["installed"]:
            return
        ActionAuthenticatorMixin._authenticate_and_authorize_action = _patched_authorize  # type: ignore[method-assign]
        DomainDispatcherApplication.__call__ = _patched_dispatch  # type: ignore[method-assign]
        _state["installed"] = True


def installed() -> bool:
    return _state["installed"]


# ------------------------------------------------------------------------------------- keys


def rekey(user_name: str, generated_id: str, access_key_id: str, secret_access_key: str) -> None:
    """Give a user well-known keys (testing/testing, which tests and operator tools already use).

    In process only: IAM's API cannot choose keys, so the moto backend objects are edited. moto
    looks a key up by id on every request (moto/iam/access_control.py IAMUserAccessKey).
    """
    from moto.iam.models import iam_backends  # noqa: PLC0415

    for account_backends in iam_backends.values():
        for backend in account_backends.values():
            user = backend.users.get(user_name)
            if user is None:
                continue
            for access_key in user.access_keys:
                if access_key.access_key_id == generated_id:
                    access_key.access_key_id = access_key_id
                    access_key.secret_access_key = secret_access_key
                    backend.access_keys.pop(generated_id, None)
                    backend.access_keys[access_key_id] = access_key
                    return
    raise LookupError(f"no access key {generated_id} of {user_name} in moto's IAM")
