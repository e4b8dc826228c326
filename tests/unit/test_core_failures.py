"""What a log line may say about a failure, and how often the secret is read again."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from wacloud.core.aws import client_config
from wacloud.core.credentials import AccessToken, CredentialsCache
from wacloud.core.errors import EnqueueError
from wacloud.core.observability import failure_fields

SECRET = json.dumps({"app_secret": "a", "verify_token": "v", "access_token": "t1"})


def _client_error() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ValidationException", "Message": "value 'hunter2-secret' is invalid"}},
        "PutSecretValue",
    )


def test_foreign_messages_are_left_out_and_the_project_s_kept() -> None:
    try:
        try:
            raise _client_error()
        except ClientError as inner:
            raise EnqueueError("the webhook queue refused the payload (ClientError)") from inner
    except EnqueueError as exc:
        fields = failure_fields(exc)
    text = json.dumps(fields)
    assert "hunter2-secret" not in text
    assert fields["error"] == "EnqueueError"
    assert fields["error_message"] == "the webhook queue refused the payload (ClientError)"
    assert [link["type"] for link in fields["error_chain"]] == ["EnqueueError", "ClientError"]
    assert all(link["stack"] for link in fields["error_chain"])
    assert "test_core_failures.py" in fields["error_chain"][1]["stack"][0]


def test_a_foreign_exception_alone_keeps_only_its_type() -> None:
    try:
        raise _client_error()
    except ClientError as exc:
        fields = failure_fields(exc)
    assert (fields["error"], fields["error_message"]) == ("ClientError", "")
    assert "hunter2" not in json.dumps(fields)


class _Secrets:
    def __init__(self) -> None:
        self.calls = 0
        self.value = SECRET

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.calls += 1
        return {"SecretString": self.value}


def test_refresh_reads_again_at_most_once_per_interval() -> None:
    now = [1000.0]
    secrets = _Secrets()
    client: Any = secrets
    cache = CredentialsCache(
        client,
        "arn",
        AccessToken.from_secret_string,
        max_age_seconds=300,
        clock=lambda: now[0],
        min_refresh_seconds=30,
    )
    assert cache.get().access_token == "t1"
    secrets.value = SECRET.replace("t1", "t2")
    assert cache.refresh().access_token == "t2"  # the first forced read is never held back
    assert secrets.calls == 2
    secrets.value = SECRET.replace("t1", "t3")
    assert cache.refresh().access_token == "t2"  # within 30 s: the cached value, no call
    assert secrets.calls == 2
    now[0] += 30
    assert cache.refresh().access_token == "t3"
    assert secrets.calls == 3


def test_accepted_reads_again_only_when_the_cached_value_fails() -> None:
    now = [1000.0]
    secrets = _Secrets()
    client: Any = secrets
    cache = CredentialsCache(client, "arn", AccessToken.from_secret_string, clock=lambda: now[0])
    assert cache.accepted(lambda c: c.access_token == "t1")
    assert secrets.calls == 1
    secrets.value = SECRET.replace("t1", "t2")
    assert cache.accepted(lambda c: c.access_token == "t2")  # changed in the secret: read again
    assert secrets.calls == 2
    assert not cache.accepted(lambda c: c.access_token == "t3")  # within 30 s: no read
    assert secrets.calls == 2


@pytest.mark.parametrize("read_timeout", [2.0, 5.0])
def test_clients_get_explicit_timeouts_and_standard_retries(read_timeout: float) -> None:
    config: Any = client_config(read_timeout=read_timeout)
    assert (config.connect_timeout, config.read_timeout) == (2.0, read_timeout)
    assert config.retries == {"mode": "standard", "max_attempts": 3}
