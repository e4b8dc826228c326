"""Each function's IAM policies as SAM's own translator writes them, and an offline evaluator.

``translate`` runs samtranslator (the library ``sam build``/``sam validate`` use) fully offline:
AWS managed policy names resolve through the map bundled with samtranslator, never through
iam:ListPolicies, and local CodeUri paths are swapped for a placeholder S3 URI as sam-cli does.
``function_policies`` follows every AWS::Lambda::Function to its AWS::IAM::Role and returns the
role's inline documents and managed policy ARNs; ``resolve_policies`` evaluates their intrinsics
against the physical names the emulator assigned and inlines AWS managed policies from the
snapshot moto ships. ``evaluate`` judges one call against such documents.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3

from walocal.template import Resolver, Template, TemplateError

PolicyDoc = Mapping[str, Any]

_PLACEHOLDER_S3_URI = "s3://walocal-placeholder/code.zip"
_NO_VALUE = object()
_DEFINITION_URI_TYPES = ("AWS::Serverless::Api", "AWS::Serverless::HttpApi", "AWS::Serverless::StateMachine")


class PolicyError(Exception):
    """A function's permissions cannot be determined offline."""


@dataclass(frozen=True)
class InlinePolicy:
    name: str
    document: Any  # still holds intrinsics until resolved


@dataclass
class FunctionPolicies:
    """What the translated template grants one function: its role's policies, unresolved."""

    function: str
    role: str  # logical id of the AWS::IAM::Role
    inline: list[InlinePolicy] = field(default_factory=list)
    managed_arns: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class ResolvedPolicy:
    name: str
    document: dict[str, Any]
    managed_arn: str | None = None  # set when the document is an AWS managed policy's


# ------------------------------------------------------------------------------ translation


def translate(template: Template, parameters: Mapping[str, str], region: str = "us-east-1") -> dict[str, Any]:
    """The template as CloudFormation, transformed by samtranslator without any AWS call."""
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]  # noqa: PLC0415
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]  # noqa: PLC0415

    body = copy.deepcopy(template.body)
    _replace_local_uris(body)
    session = boto3.Session(region_name=region)  # only its region is read
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), plugins=[], boto_session=session)

    def no_iam_lookup() -> dict[str, str]:
        # Reached only for a policy name the bundled map lacks: fail rather than call IAM.
        return {}

    values = template.parameter_defaults() | dict(parameters)
    translated = translator.translate(
        sam_template=body, parameter_values=values, get_managed_policy_map=no_iam_lookup
    )
    translator.metrics.publish()  # to samtranslator's no-op publisher; else it warns when collected
    return dict(translated)


def _replace_local_uris(body: dict[str, Any]) -> None:
    """The translator accepts only S3 URIs for code; sam-cli's validator swaps in a fake one too."""
    function_globals = body.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = _PLACEHOLDER_S3_URI
    for resource in body.get("Resources", {}).values():
        props = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and props.get("PackageType", "Zip") == "Zip":
            props["CodeUri"] = _PLACEHOLDER_S3_URI
        elif kind == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = _PLACEHOLDER_S3_URI
        elif kind in _DEFINITION_URI_TYPES and isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = _PLACEHOLDER_S3_URI


def function_policies(cfn: Mapping[str, Any]) -> dict[str, FunctionPolicies]:
    """Every AWS::Lambda::Function of a translated template, with its role's policies."""
    resources: Mapping[str, Any] = cfn["Resources"]
    result: dict[str, FunctionPolicies] = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        role_ref = resource["Properties"].get("Role")
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            raise PolicyError(
                f"{name}: Role {role_ref!r} is not a role of this template; its policies are unknown"
            )
        role_id = role_ref["Fn::GetAtt"][0]
        role = resources.get(role_id, {})
        if role.get("Type") != "AWS::IAM::Role":
            raise PolicyError(f"{name}: {role_id} is not an AWS::IAM::Role")
        props = role["Properties"]
        if props.get("PermissionsBoundary"):
            raise PolicyError(f"{name}: permission boundaries are not emulated")
        for other_name, other in resources.items():
            attached = other.get("Properties", {}).get("Roles", [])
            if (
                other.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
                and {"Ref": role_id} in attached
            ):
                raise PolicyError(f"{name}: {other_name} adds to {role_id}, which is not emulated")
        result[name] = FunctionPolicies(
            function=name,
            role=role_id,
            inline=[InlinePolicy(p["PolicyName"], p["PolicyDocument"]) for p in props.get("Policies", [])],
            managed_arns=list(props.get("ManagedPolicyArns", [])),
        )
    return result


class PolicyResolver(Resolver):
    """walocal's resolver plus what translated policies use: AWS::NoValue, Select, Split."""

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and arg == "AWS::NoValue":
                return _NO_VALUE
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
        resolved = super().resolve(value)
        if isinstance(resolved, list):
            return [item for item in resolved if item is not _NO_VALUE]
        if isinstance(resolved, dict):
            return {key: item for key, item in resolved.items() if item is not _NO_VALUE}
        return resolved


def policy_resolver(
    stack_resolver: Resolver, cfn: Mapping[str, Any], region: str, account: str
) -> PolicyResolver:
    """A PolicyResolver over the provisioned stack's ids, plus ARNs for the local functions."""
    attributes = dict(stack_resolver.attributes)
    refs = dict(stack_resolver.refs)
    for name, resource in cfn["Resources"].items():
        if resource.get("Type") == "AWS::Lambda::Function":
            refs.setdefault(name, name)
            attributes.setdefault((name, "Arn"), f"arn:aws:lambda:{region}:{account}:function:{name}")
    return PolicyResolver(
        parameters=stack_resolver.parameters,
        conditions_source=stack_resolver.conditions_source,
        refs=refs,
        attributes=attributes,
        pseudo=stack_resolver.pseudo,
    )


@cache
def aws_managed_policies() -> dict[str, dict[str, Any]]:
    """AWS managed policies by ARN, from the snapshot moto ships (about 1,600 of them)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415

    data: dict[str, dict[str, Any]] = json.loads(aws_managed_policies_data)
    return {f"arn:aws:iam::aws:policy{spec['Path']}{name}": spec["Document"] for name, spec in data.items()}


def resolve_policies(policies: FunctionPolicies, resolver: Resolver) -> list[ResolvedPolicy]:
    """The function's policy documents with every intrinsic evaluated and managed ones inlined."""
    result = []
    for inline in policies.inline:
        document = resolver.resolve(inline.document)
        text = json.dumps(document)
        if '"Fn::' in text or '"Ref"' in text:
            raise TemplateError(f"{policies.function}/{inline.name}: unresolved intrinsic left in {text}")
        result.append(ResolvedPolicy(inline.name, document))
    for arn_value in policies.managed_arns:
        arn = str(resolver.resolve(arn_value))
        if ":iam::aws:policy/" not in arn:
            raise PolicyError(f"{policies.function}: customer managed policy {arn} is not emulated")
        arn = re.sub(r"^arn:aws-[a-z-]+:", "arn:aws:", arn)
        document = aws_managed_policies().get(arn)
        if document is None:
            raise PolicyError(f"{policies.function}: AWS managed policy {arn} is not in moto's snapshot")
        result.append(ResolvedPolicy(arn.rsplit("/", 1)[1], document, managed_arn=arn))
    return result


def translated_policies(
    template: Template, stack_resolver: Resolver, region: str, account: str
) -> dict[str, list[ResolvedPolicy]]:
    """Function logical id -> the resolved documents of its role, as SAM would deploy them."""
    parameters = {name: str(value) for name, value in stack_resolver.parameters.items()}
    cfn = translate(template, parameters, region)
    resolver = policy_resolver(stack_resolver, cfn, region, account)
    return {name: resolve_policies(policies, resolver) for name, policies in function_policies(cfn).items()}


# -------------------------------------------------------------------------------- evaluation


@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)
    return re.compile(f"^{body}$", (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(item) for item in value or []]


def _matches(globs: Any, value: str, *, ignore_case: bool) -> bool:
    return any(_pattern(glob, ignore_case).match(value) for glob in _listed(globs))


def _statement_applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        action_ok = _matches(statement["Action"], action, ignore_case=True)
    else:
        action_ok = not _matches(statement.get("NotAction", []), action, ignore_case=True)
    if not action_ok:
        return False
    if "Resource" in statement:
        return _matches(statement["Resource"], resource, ignore_case=False)
    if "NotResource" in statement:
        return not _matches(statement["NotResource"], resource, ignore_case=False)
    return False  # an identity statement needs one of the two


Context = Mapping[str, Sequence[str]]
"""Condition keys of one request and their values, e.g. ``{"dynamodb:LeadingKeys": ["MSG#x"]}``."""

_SET_OPERATORS = {"ForAllValues", "ForAnyValue"}
_STRING_OPERATORS = {"StringEquals": False, "StringLike": True}  # operator -> takes wildcards


def _string_matches(value: str, expected: Any, wildcards: bool) -> bool:
    if wildcards:
        return _matches(expected, value, ignore_case=False)
    return value in _listed(expected)


def _condition_holds(condition: Mapping[str, Any], context: Context | None) -> bool | None:
    """Whether a statement's Condition holds for the request; None when it cannot be told here.

    Only string conditions on keys the request context carries are judged (``StringEquals``,
    ``StringLike``, their ``ForAllValues:`` and ``ForAnyValue:`` forms): that covers item-level
    scoping by ``dynamodb:LeadingKeys``. Anything else is reported as undecided, never guessed.
    """
    if context is None:
        return None
    for operator, tests in condition.items():
        qualifier, _, name = operator.rpartition(":")
        if name not in _STRING_OPERATORS or (qualifier and qualifier not in _SET_OPERATORS):
            return None
        wildcards = _STRING_OPERATORS[name]
        for key, expected in tests.items():
            if key not in context:
                return None
            hits = [_string_matches(value, expected, wildcards) for value in context[key]]
            if qualifier == "ForAllValues":
                ok = all(hits)
            elif qualifier == "ForAnyValue":
                ok = any(hits)
            else:
                ok = hits == [True]
            if not ok:
                return False
    return True


def evaluate(
    documents: Iterable[PolicyDoc], action: str, resource: str, context: Context | None = None
) -> bool | None:
    """IAM's identity-policy logic for one principal without boundaries or SCPs.

    True: allowed. False: denied (explicitly, or no Allow matches). None: a statement whose
    Condition cannot be judged (:func:`_condition_holds`) could change the answer, so that is
    reported rather than guessed. Action/NotAction match case-insensitively, Resource/NotResource
    case-sensitively, with ``*`` and ``?`` wildcards.
    """
    allow = maybe_allow = maybe_deny = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, Mapping) else statements:
            if not _statement_applies(statement, action, resource):
                continue
            holds = _condition_holds(statement["Condition"], context) if "Condition" in statement else True
            if holds is False:
                continue
            if statement.get("Effect") == "Deny":
                if holds:
                    return False
                maybe_deny = True
            elif holds is None:
                maybe_allow = True
            else:
                allow = True
    if not (allow or maybe_allow):
        return False
    if maybe_deny or not allow:
        return None
    return True
