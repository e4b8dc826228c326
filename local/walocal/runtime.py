"""The whole pipeline on one machine: moto for AWS, the functions in process, Meta simulated.

Ports (a public contract, see the README): 3000 webhook HTTP API, 3001 Lambda Invoke API,
3002 Graph API simulator, 4566 emulated AWS.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from walocal.functions import LocalFunction
from walocal.http_api import HttpApiServer
from walocal.invoke_api import InvokeApiServer
from walocal.poller import QueuePoller
from walocal.provision import LocalStack, provision
from walocal.schedules import ScheduleRunner, ScheduleTimer
from walocal.template import TEMPLATE_PATH, Template

log = logging.getLogger("walocal")

REGION = "us-east-1"
# Documented local defaults, used when the WHATSAPP_* variables are unset. Not secrets: they only
# ever protect this machine's emulated stack.
LOCAL_APP_SECRET = "local-app-secret"  # noqa: S105
LOCAL_VERIFY_TOKEN = "local-verify-token"  # noqa: S105
LOCAL_ACCESS_TOKEN = "local-access-token"  # noqa: S105
LOCAL_PHONE_NUMBER_ID = "123456789012345"


class RuntimeConfigError(Exception):
    """The local runtime cannot start as configured."""


@dataclass(frozen=True)
class RuntimeConfig:
    host: str = "127.0.0.1"
    webhook_port: int = 3000
    invoke_port: int = 3001
    graph_port: int = 3002
    aws_port: int = 4566
    app_secret: str = field(default=LOCAL_APP_SECRET, repr=False)
    verify_token: str = field(default=LOCAL_VERIFY_TOKEN, repr=False)
    access_token: str = field(default=LOCAL_ACCESS_TOKEN, repr=False)
    phone_number_id: str = LOCAL_PHONE_NUMBER_ID
    graph_api_url: str | None = None  # None: the local simulator
    simulator: bool = True
    # Template parameter overrides, as `sam deploy --parameter-overrides` takes them.
    parameters: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> RuntimeConfig:
        values: dict[str, Any] = {
            "app_secret": env.get("WHATSAPP_APP_SECRET") or LOCAL_APP_SECRET,
            "verify_token": env.get("WHATSAPP_VERIFY_TOKEN") or LOCAL_VERIFY_TOKEN,
            "access_token": env.get("WHATSAPP_ACCESS_TOKEN") or LOCAL_ACCESS_TOKEN,
            "phone_number_id": env.get("WHATSAPP_PHONE_NUMBER_ID") or LOCAL_PHONE_NUMBER_ID,
            "graph_api_url": env.get("GRAPH_API_URL") or None,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def webhook_url(self) -> str:
        return f"http://{self.host}:{self.webhook_port}/webhook"

    @property
    def invoke_url(self) -> str:
        return f"http://{self.host}:{self.invoke_port}"

    @property
    def simulator_url(self) -> str:
        return f"http://{self.host}:{self.graph_port}"

    @property
    def effective_graph_api_url(self) -> str:
        return self.graph_api_url or self.simulator_url


class LocalRuntime:
    """Starts and stops every piece; usable as a context manager."""

    def __init__(self, config: RuntimeConfig, template: Template | None = None) -> None:
        self.config = config
        self.template = template or Template.load(TEMPLATE_PATH)
        self.functions: dict[str, LocalFunction] = {}
        self.stack: LocalStack | None = None
        self._moto: ThreadedMotoServer | None = None
        self._servers: list[HttpApiServer | InvokeApiServer] = []
        self._pollers: list[QueuePoller] = []
        self._simulator: Any = None
        self.scheduler: ScheduleRunner | None = None

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        config = self.config
        _point_aws_at(config.aws_endpoint)
        self._moto = ThreadedMotoServer(ip_address=config.host, port=config.aws_port, verbose=False)
        self._moto.start()
        session = boto3.Session(region_name=REGION)
        self.stack = provision(
            self.template,
            session,
            parameters={
                **config.parameters,
                "PhoneNumberId": config.phone_number_id,
                "GraphApiUrl": config.effective_graph_api_url,
            },
            secret_values={
                "app_secret": config.app_secret,
                "verify_token": config.verify_token,
                "access_token": config.access_token,
            },
        )
        specs = self.template.functions()
        os.environ.update(
            _merged_environment({name: self.stack.function_environment(s) for name, s in specs.items()})
        )
        # Cold-start every function now, so a configuration error stops `make run` at once.
        for name, spec in specs.items():
            function = LocalFunction(spec)
            function.load()
            self.functions[name] = function

        if config.simulator and config.graph_api_url is None:
            self._start_simulator()
        self._servers = [
            HttpApiServer((config.host, config.webhook_port), self.template.http_routes(), self.functions),
            InvokeApiServer((config.host, config.invoke_port), self.functions),
        ]
        for server in self._servers:
            threading.Thread(target=server.serve_forever, name=type(server).__name__, daemon=True).start()
        sqs = session.client("sqs")
        for source in self.template.queue_sources():
            poller = QueuePoller(
                sqs,
                source,
                queue_url=self.stack.queue_urls[source.queue],
                queue_arn=self.stack.resolver.resolve({"Fn::GetAtt": [source.queue, "Arn"]}),
                function=self.functions[source.function],
            )
            poller.start()
            self._pollers.append(poller)
        self.scheduler = ScheduleRunner(self._enabled_schedules())
        self.scheduler.start()

    def _enabled_schedules(self) -> list[tuple[str, ScheduleTimer, Callable[[], Any]]]:
        assert self.stack is not None
        enabled: list[tuple[str, ScheduleTimer, Callable[[], Any]]] = []
        for schedule in self.template.schedules():
            if str(self.stack.resolver.resolve(schedule.state)) != "ENABLED":
                continue
            timer = ScheduleTimer(
                str(self.stack.resolver.resolve(schedule.expression)),
                str(self.stack.resolver.resolve(schedule.timezone)),
            )
            event = schedule_event(self.stack.resolver.resolve(schedule.input))
            enabled.append((schedule.name, timer, partial(self.functions[schedule.function].invoke, event)))
        return enabled

    def _start_simulator(self) -> None:
        from walocal.simulator import GraphApiSimulator, SimulatorConfig  # noqa: PLC0415 (optional piece)

        simulator_config = SimulatorConfig.from_env(
            os.environ,
            host=self.config.host,
            port=self.config.graph_port,
            access_token=self.config.access_token,
            app_secret=self.config.app_secret,
            webhook_url=self.config.webhook_url,
            phone_number_id=self.config.phone_number_id,
        )
        self._simulator = GraphApiSimulator(simulator_config)
        self._simulator.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        for poller in self._pollers:
            poller.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        if self._simulator is not None:
            self._simulator.stop()
        if self._moto is not None:
            self._moto.stop()

    @property
    def simulating_graph_api(self) -> bool:
        return self._simulator is not None


def schedule_event(schedule_input: Any) -> Any:
    """The event Scheduler passes to its target: the schedule's Input, parsed when it is JSON."""
    if isinstance(schedule_input, str):
        try:
            return json.loads(schedule_input)
        except ValueError:
            return schedule_input
    return schedule_input if schedule_input is not None else {}


def _point_aws_at(endpoint: str) -> None:
    """Every boto3 client in this process (the functions' included) talks to the emulator."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"  # noqa: S105 (moto accepts any credentials)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)


def _merged_environment(environments: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The functions share one process, so their variables must agree where their names meet."""
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for function, env in environments.items():
        for name, value in env.items():
            if name in merged and merged[name] != value:
                raise RuntimeConfigError(
                    f"{function} and {owner[name]} set {name} to different values; "
                    "the local runtime runs them in one process, so use distinct variable names"
                )
            merged[name] = value
            owner.setdefault(name, function)
    return merged
