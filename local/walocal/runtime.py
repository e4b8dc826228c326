"""The whole pipeline on one machine: moto for AWS, each function in its own Lambda-like worker
processes, Meta simulated.

Ports (a public contract, see the README): 3000 webhook HTTP API, 3001 Lambda Invoke API,
3002 Graph API simulator, 4566 emulated AWS.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from walocal import moto_atomic, moto_dispatch, moto_partitions
from walocal.build import BuildError, HostArtifacts, build_for_host
from walocal.faults import FAULTS
from walocal.http_api import HttpApiServer
from walocal.identities import enforce_iam, function_identities
from walocal.invoke_api import InvokeApiServer
from walocal.lambda_service import FunctionSetup, FunctionTarget, LambdaService, PooledFunction
from walocal.poller import QueuePoller
from walocal.provision import ACCOUNT_ID, STACK_NAME, LocalStack, provision
from walocal.rules import RuleDelivery
from walocal.sandbox import LogSink, SandboxConfig
from walocal.schedules import ScheduleRunner, ScheduleTimer
from walocal.stream_poller import StreamPoller
from walocal.template import TEMPLATE_PATH, FunctionSpec, Template

log = logging.getLogger("walocal")

REGION = "us-east-1"
# Template parameters that differ locally from a deployment's defaults (overrides still win): the
# example reply bot answers, so that `make run` shows the whole loop.
LOCAL_PARAMETERS = {"ReplyBot": "Enabled"}
# Documented local defaults, used when the WHATSAPP_* variables are unset. Not secrets: they only
# ever protect this machine's emulated stack.
LOCAL_APP_SECRET = "local-app-secret"  # noqa: S105
LOCAL_VERIFY_TOKEN = "local-verify-token"  # noqa: S105
LOCAL_ACCESS_TOKEN = "local-access-token"  # noqa: S105
LOCAL_PHONE_NUMBER_ID = "123456789012345"
# The simulator's business account: its message templates are the local template catalog.
LOCAL_WABA_ID = "102290129340398"
# How long start-up waits for the first cold start of every function before serving anyway.
PREWARM_WAIT_S = 20.0
# The emulator's administrator keys: what functions get when no identity of their own is known.
DEFAULT_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


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
    # More business numbers, comma-separated, as WHATSAPP_PHONE_NUMBER_IDS and PhoneNumberIds take them.
    phone_number_ids: str = ""
    waba_id: str = LOCAL_WABA_ID
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
            "phone_number_ids": env.get("WHATSAPP_PHONE_NUMBER_IDS") or "",
            "waba_id": env.get("WHATSAPP_WABA_ID") or LOCAL_WABA_ID,
            "graph_api_url": env.get("GRAPH_API_URL") or None,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def more_phone_number_ids(self) -> str:
        """The stack's further business numbers: WHATSAPP_PHONE_NUMBER_IDS, else the template
        parameter's override."""
        return self.phone_number_ids or self.parameters.get("PhoneNumberIds", "")

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

    def __init__(
        self, config: RuntimeConfig, template: Template | None = None, *, log_sink: LogSink | None = None
    ) -> None:
        self.config = config
        self.template = template or Template.load(TEMPLATE_PATH)
        self.functions: dict[str, FunctionTarget] = {}
        self.lambdas: LambdaService | None = None
        self.stack: LocalStack | None = None
        self._log_sink = log_sink
        self._moto: ThreadedMotoServer | None = None
        self._servers: list[HttpApiServer | InvokeApiServer] = []
        self._pollers: list[QueuePoller | StreamPoller | RuleDelivery] = []
        self._simulator: Any = None
        self._scratch: Path | None = None
        self.scheduler: ScheduleRunner | None = None

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        config = self.config
        self._check_ports()
        artifacts = host_artifacts(self.template)
        # The runtime's own clients (provisioning, pollers, destinations) talk to the emulator; the
        # functions get their environment from their setup, never from this process.
        _point_aws_at(config.aws_endpoint)
        moto_partitions.install()
        moto_atomic.install()
        moto_dispatch.install()
        self._moto = ThreadedMotoServer(ip_address=config.host, port=config.aws_port, verbose=False)
        self._moto.start()
        session = boto3.Session(region_name=REGION)
        self.stack = provision(
            self.template,
            session,
            parameters={
                **LOCAL_PARAMETERS,
                **config.parameters,
                "PhoneNumberId": config.phone_number_id,
                "PhoneNumberIds": config.more_phone_number_ids,
                "WabaId": config.waba_id,
                "GraphApiUrl": config.effective_graph_api_url,
            },
            secret_values={
                "app_secret": config.app_secret,
                "verify_token": config.verify_token,
                "access_token": config.access_token,
            },
        )
        credentials = self._function_credentials()
        specs = self.template.functions()
        self._scratch = Path(tempfile.mkdtemp(prefix="walocal-"))
        sqs = session.client("sqs")
        self.lambdas = LambdaService(
            {
                name: self._function_setup(spec, artifacts, credentials.get(name, DEFAULT_CREDENTIALS))
                for name, spec in specs.items()
            },
            log_sink=self._log_sink,
            deliver=partial(_deliver, self.stack, sqs, self),
        )
        self.functions = {name: PooledFunction(self.lambdas, name) for name in self.lambdas.names}
        lambdas = self.lambdas
        FAULTS.crash = lambda function: lambdas.pools[function].crash_busy() if function in lambdas else 0
        # A first cold start of every function, in parallel, before the ports open: an init error
        # shows in the log at once, and the first event finds a warm instance.
        self.lambdas.prewarm(wait=PREWARM_WAIT_S)

        if config.simulator and config.graph_api_url is None:
            self._start_simulator()
        self._servers = [
            self._serve(
                "webhook HTTP API",
                config.webhook_port,
                lambda address: HttpApiServer(address, self.template.http_routes(), self.functions),
            ),
            self._serve(
                "Lambda Invoke API",
                config.invoke_port,
                lambda address: InvokeApiServer(address, self.functions),
            ),
        ]
        for source in self.template.queue_sources():
            poller = QueuePoller(
                sqs,
                source,
                queue_url=self.stack.queue_urls[source.queue],
                queue_arn=self.stack.resolver.resolve({"Fn::GetAtt": [source.queue, "Arn"]}),
                function=self.functions[source.function],
                concurrency=specs[source.function].concurrency,
            )
            poller.start()
            self._pollers.append(poller)
        streams = session.client("dynamodbstreams")
        for stream_source in self.template.stream_sources():
            resolve = self.stack.resolver.resolve
            stream_poller = StreamPoller(
                streams,
                sqs,
                stream_source,
                stream_arn=str(resolve({"Fn::GetAtt": [stream_source.table, "StreamArn"]})),
                function=self.functions[stream_source.function],
                function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{stream_source.function}",
                on_failure_url=(
                    self.stack.queue_urls[stream_source.on_failure] if stream_source.on_failure else None
                ),
            )
            stream_poller.start()
            self._pollers.append(stream_poller)
        events = session.client("events")
        for rule_source in self.template.rule_sources():
            rule = RuleDelivery(
                events,
                sqs,
                rule_source,
                self.stack.resolver,
                self.functions[rule_source.function],
                stack_name=STACK_NAME,
            )
            rule.start()
            self._pollers.append(rule)
        self.scheduler = ScheduleRunner(self._enabled_schedules())
        self.scheduler.start()

    def _check_ports(self) -> None:
        """Refuse to start when a port is taken, naming the port and what it is for."""
        config = self.config
        ports = [
            (config.webhook_port, "webhook HTTP API"),
            (config.invoke_port, "Lambda Invoke API"),
            (config.aws_port, "emulated AWS (moto)"),
        ]
        if config.simulator and config.graph_api_url is None:
            ports.append((config.graph_port, "Graph API simulator"))
        for port, what in ports:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((config.host, port))
                except OSError as exc:
                    raise RuntimeConfigError(_port_message(port, what, exc)) from None

    def _serve(
        self,
        what: str,
        port: int,
        make: Callable[[tuple[str, int]], HttpApiServer | InvokeApiServer],
    ) -> HttpApiServer | InvokeApiServer:
        try:
            server = make((self.config.host, port))
        except OSError as exc:
            raise RuntimeConfigError(_port_message(port, what, exc)) from None
        threading.Thread(target=server.serve_forever, name=type(server).__name__, daemon=True).start()
        return server

    def _function_credentials(self) -> dict[str, dict[str, str]]:
        """Each function's own AWS keys, allowed exactly its template policies (IAM enforced)."""
        assert self.stack is not None
        endpoint = self.config.aws_endpoint
        enforce_iam(endpoint)
        identities = function_identities(self.template, self.stack, endpoint)
        return {name: keys.environment() for name, keys in identities.items()}

    def _function_setup(
        self, spec: FunctionSpec, artifacts: HostArtifacts, credentials: Mapping[str, str]
    ) -> FunctionSetup:
        assert self.stack is not None
        assert self._scratch is not None
        environment = {
            **self.stack.function_environment(spec),
            # Not a variable Lambda sets: it points the function's AWS SDK at the emulated AWS.
            "AWS_ENDPOINT_URL": self.config.aws_endpoint,
            **credentials,
        }
        sandbox = SandboxConfig(
            name=spec.logical_id,
            handler=spec.handler,
            task_root=artifacts.functions[spec.logical_id],
            import_path=tuple(artifacts.import_path(spec)),
            runtime_dir=artifacts.runtime,
            python=artifacts.python,
            scratch_root=self._scratch,
            environment=environment,
            memory_mb=spec.memory_size,
            timeout_s=spec.timeout,
            concurrency=spec.concurrency,
            runtime=spec.runtime,
            log_format=spec.log_format,
            log_level=spec.log_level,
            region=REGION,
        )
        resolve = self.stack.resolver.resolve
        on_success, on_failure = spec.event_invoke.on_success, spec.event_invoke.on_failure
        return FunctionSetup(
            sandbox=sandbox,
            event_invoke=spec.event_invoke,
            on_success=None if on_success is None else str(resolve(on_success)),
            on_failure=None if on_failure is None else str(resolve(on_failure)),
        )

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
            event = json.dumps(schedule_event(self.stack.resolver.resolve(schedule.input))).encode()
            # Scheduler invokes its Lambda targets asynchronously.
            enabled.append(
                (schedule.name, timer, partial(self.functions[schedule.function].run_async, event))
            )
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
            phone_number_ids=frozenset(
                number.strip() for number in self.config.more_phone_number_ids.split(",") if number.strip()
            ),
            waba_id=self.config.waba_id,
        )
        self._simulator = GraphApiSimulator(simulator_config)
        self._simulator.start()

    def stop(self) -> None:
        # Workers first: killing them ends any invocation in flight at once, so the pollers,
        # servers and schedules waiting on one finish instead of waiting out a function's timeout.
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.lambdas is not None:
            self.lambdas.close()
        for poller in self._pollers:
            poller.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        if self._simulator is not None:
            self._simulator.stop()
        if self._moto is not None:
            self._moto.stop()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

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


def _port_message(port: int, what: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} ({what}) is already in use; stop what uses it or choose another port"
    return f"port {port} ({what}) cannot be used: {exc.strerror or exc}"


def host_artifacts(template: Template) -> HostArtifacts:
    """The functions, layers and runtime built for this machine (up to date by content hash)."""
    try:
        return build_for_host(template)
    except BuildError as exc:
        raise RuntimeConfigError(str(exc)) from None


def _deliver(
    stack: LocalStack, sqs: Any, runtime: LocalRuntime, destination: str, record: dict[str, Any]
) -> None:
    """Send an asynchronous invocation's record to its destination: a queue or a function."""
    service = destination.split(":")[2] if destination.count(":") >= 5 else ""
    if service == "sqs":
        queue_url = next(
            (
                url
                for name, url in stack.queue_urls.items()
                if stack.resolver.resolve({"Fn::GetAtt": [name, "Arn"]}) == destination
            ),
            None,
        )
        if queue_url is None:
            raise RuntimeConfigError(f"destination {destination} is not a queue of the template")
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
    elif service == "lambda" and runtime.lambdas is not None:
        name = destination.split(":function:", 1)[1].split(":", 1)[0]
        runtime.lambdas.invoke_async(name, json.dumps(record).encode())
    else:
        raise RuntimeConfigError(f"destination {destination}: only SQS queues and functions are emulated")
