"""One botocore loader for the whole test process.

Every test cold-starts functions and makes new boto3 sessions, and each new session parses AWS's
service models (JSON, megabytes for DynamoDB alone) again: a quarter of the suite's CPU time went
there. The models are data that never changes within a run, so the sessions share one loader,
whose caches then serve them all. Only the tests' process is affected, never the functions' code.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.loaders
import botocore.session


def share_one_loader() -> None:
    loaders: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared


_SESSIONS: dict[str, boto3.Session] = {}


def reused_session(region: str) -> boto3.Session:
    """One boto3 session per region for the test process.

    moto drops boto3's default session whenever a mock starts, and a client of a new session costs
    about five times one of a known session (its hooks, endpoint rules and credential chain are set
    up again). The tests' credentials never change, so one session can serve every test.
    """
    if region not in _SESSIONS:
        _SESSIONS[region] = _with_reused_clients(boto3.Session(region_name=region))
    return _SESSIONS[region]


def _with_reused_clients(session: boto3.Session) -> boto3.Session:
    """Plain ``session.client(name)`` calls get one client per service for the whole process.

    Provisioning and every function's cold start create the same few clients for each test; a
    client holds no state of its own that a test could see (moto keeps the state), and the
    tests' endpoint and credentials never change. Calls with arguments still get a new client.
    """
    clients: dict[str, Any] = {}
    create = session.client

    def client(service_name: str, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return create(service_name, *args, **kwargs)  # type: ignore[call-overload]
        if service_name not in clients:
            clients[service_name] = create(service_name)  # type: ignore[call-overload]
        return clients[service_name]

    session.client = client  # type: ignore[method-assign]
    return session
