"""Shared fixtures: an emulated stack created from template.yaml, and the functions loaded from it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws

from support.botocore_models import reused_session, share_one_loader
from support.fake_graph import FakeGraphServer
from walocal import moto_atomic, moto_partitions
from walocal.functions import LocalFunction
from walocal.provision import LocalStack, provision
from walocal.runtime import LOCAL_ACCESS_TOKEN, LOCAL_APP_SECRET, LOCAL_PHONE_NUMBER_ID, LOCAL_VERIFY_TOKEN
from walocal.template import Template

share_one_loader()
moto_partitions.install()
moto_atomic.install()

REGION = "us-east-1"
GRAPH_TEST_URL = "https://graph.test"
LOCAL_SECRETS = {
    "app_secret": LOCAL_APP_SECRET,
    "verify_token": LOCAL_VERIFY_TOKEN,
    "access_token": LOCAL_ACCESS_TOKEN,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run first: spread over the workers of a parallel run, they end with
    the rest instead of starting last and holding the run open."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def template() -> Template:
    return Template.load()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, so nothing in a test can ever reach a real account."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def stack(aws_credentials: None, template: Template) -> Iterator[LocalStack]:
    with mock_aws():
        session = boto3.DEFAULT_SESSION = reused_session(REGION)
        yield provision(
            template,
            session,
            parameters={"PhoneNumberId": LOCAL_PHONE_NUMBER_ID, "GraphApiUrl": GRAPH_TEST_URL},
            secret_values=LOCAL_SECRETS,
        )


@pytest.fixture
def load_function(
    stack: LocalStack, template: Template, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., LocalFunction]:
    """Cold-start a function of the template with its resolved environment, as Lambda would;
    ``overrides`` stand for values a deployment would set (parameters, or a test's fakes)."""

    def load(name: str, **overrides: str) -> LocalFunction:
        spec = template.functions()[name]
        for key, value in {**stack.function_environment(spec), **overrides}.items():
            monkeypatch.setenv(key, value)
        function = LocalFunction(spec)
        function.load()
        return function

    return load


@pytest.fixture
def graph() -> Iterator[FakeGraphServer]:
    """A scripted Graph API on loopback."""
    with FakeGraphServer() as server:
        yield server


@pytest.fixture
def sender(load_function: Callable[..., LocalFunction], graph: FakeGraphServer) -> LocalFunction:
    """The sender cold-started against the fake Graph API, with no rate or backoff waits."""
    # GRAPH_API_URL points the cold start at the fake, as it does for a real deployment; the rate
    # is lifted and backoffs shortened so that retries take no noticeable time.
    return load_function(
        "SenderFunction",
        GRAPH_API_URL=graph.url,
        SEND_RATE_PER_SECOND="10000",
        SEND_BACKOFF_BASE_SECONDS="0.001",
    )
