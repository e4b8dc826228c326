"""Each local function calls the emulated AWS as an IAM user holding exactly its template policies.

In the process that runs the moto server (``wa-local``), after the stack is provisioned:

    enforce_iam(endpoint)                                   # patch moto, admin testing/testing, enforce
    identities = function_identities(template, stack, endpoint)
    worker_env = identities["WebhookFunction"].environment()  # AWS_ACCESS_KEY_ID / _SECRET_ACCESS_KEY

The policies are those SAM's own translator gives each function's role (``walocal.policies``);
moto judges each request against them (``walocal.moto_iam``), so a call the template does not
allow fails with AccessDenied as on AWS. The runtime's own clients and the tests keep the
well-known keys testing/testing, ``wactl --local`` its local/local: both an administrator's. Any
other key is refused (InvalidClientTokenId).

``recorded_calls(endpoint)`` reads every call moto judged (``GET /_walocal/calls``), each function
call with its translated policy's own verdict (``walocal.policies.evaluate``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import requests

from walocal import moto_iam
from walocal.policies import ResolvedPolicy, translated_policies
from walocal.provision import ACCOUNT_ID, STACK_NAME, LocalStack
from walocal.template import Template

ADMIN_USER = "walocal-admin"
FUNCTION_TAG = "walocal:function"
_ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass(frozen=True)
class AwsKeys:
    access_key_id: str
    secret_access_key: str

    def environment(self) -> dict[str, str]:
        """What a worker process needs in its environment to call AWS as this identity."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}

    def session(self, region: str = "us-east-1") -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=region,
        )


# The administrator's well-known keys (a local emulator's, not secrets): testing/testing for the
# runtime's own clients and the tests, local/local for `wactl --local`. moto allows two per user.
ADMIN_KEYS = AwsKeys("testing", "testing")
WACTL_KEYS = AwsKeys("local", "local")


def enforce_iam(endpoint: str) -> None:
    """Enforce IAM on the moto server running in this process, from the next request on.

    Patches moto (``moto_iam.install``), creates the administrator while enforcement is still off
    with the keys testing/testing and local/local (``wactl --local``), then switches enforcement
    on through moto's own ``POST /moto-api/reset-auth``. Provision the stack before (any keys work
    until then) or after (with ``ADMIN_KEYS``). Call once per server.
    """
    moto_iam.install()
    iam = _client("iam", endpoint, AwsKeys("bootstrap", "bootstrap"))
    iam.create_user(UserName=ADMIN_USER)
    iam.put_user_policy(
        UserName=ADMIN_USER, PolicyName="AdministratorAccess", PolicyDocument=json.dumps(_ADMIN_POLICY)
    )
    for keys in (ADMIN_KEYS, WACTL_KEYS):
        generated = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]["AccessKeyId"]
        moto_iam.rekey(ADMIN_USER, generated, keys.access_key_id, keys.secret_access_key)
    # Sets settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 and zeroes moto's request counter.
    response = requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    response.raise_for_status()


def function_policies(template: Template, stack: LocalStack) -> dict[str, list[ResolvedPolicy]]:
    """Function logical id -> its role's policies as SAM translates them, resolved to local names."""
    region = str(stack.resolver.pseudo.get("AWS::Region", "us-east-1"))
    return translated_policies(template, stack.resolver, region, ACCOUNT_ID)


def function_identities(template: Template, stack: LocalStack, endpoint: str) -> dict[str, AwsKeys]:
    """Function logical id -> keys of an IAM user holding exactly the function's role policies.

    Works with enforcement on (it calls IAM with ``ADMIN_KEYS``) or off.
    """
    iam = _client("iam", endpoint, ADMIN_KEYS)
    identities: dict[str, AwsKeys] = {}
    for function, policies in function_policies(template, stack).items():
        user = user_name(function)
        iam.create_user(UserName=user, Tags=[{"Key": FUNCTION_TAG, "Value": function}])
        for policy in policies:
            # moto requires Version 2012-10-17; SAM writes its inline documents without one.
            document = {"Version": "2012-10-17", **policy.document}
            iam.put_user_policy(UserName=user, PolicyName=policy.name, PolicyDocument=json.dumps(document))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        identities[function] = AwsKeys(key["AccessKeyId"], key["SecretAccessKey"])
        moto_iam.CALLS.register(user_arn(function), function, [policy.document for policy in policies])
    return identities


def user_name(function: str) -> str:
    return f"{STACK_NAME}-{function}"[:64]


def user_arn(function: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:user/{user_name(function)}"


# ---------------------------------------------------------------------------- recorded calls


def recorded_calls(endpoint: str) -> list[moto_iam.Call]:
    """Every call moto judged since enforcement was switched on, from the server's call log.

    Calls of the functions' identities carry the function and their translated policy's verdict.
    """
    response = requests.get(f"{endpoint}{moto_iam.CALLS_PATH}", timeout=10)
    response.raise_for_status()
    return [moto_iam.Call(**item) for item in response.json()]


def _client(service: str, endpoint: str, keys: AwsKeys) -> Any:
    return keys.session().client(service, endpoint_url=endpoint)  # type: ignore[call-overload]
