"""One function instance: a worker process running awslambdaric, isolated as a Lambda sandbox is.

The worker sees only its function's code, its layers and the runtime directory (awslambdaric and
boto3), and only the function's environment plus Lambda's own variables: nothing of the
developer's environment, virtualenv or site-packages reaches it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class SandboxConfig:
    """What an instance needs to know about its function: template properties and built artifacts."""

    name: str  # the function's LogicalId, which is also its name locally
    handler: str  # module.function, as in the template
    task_root: Path  # the built function (what Lambda mounts at /var/task)
    import_path: tuple[Path, ...]  # task root, layers' python/ dirs (last layer first), runtime dir
    runtime_dir: Path  # awslambdaric + boto3 (what Lambda's managed runtime provides)
    python: str  # the base interpreter, never a venv's
    scratch_root: Path  # per-instance HOME and TMPDIR live below it
    environment: Mapping[str, str] = field(default_factory=dict)  # function's variables, resolved
    memory_mb: int = 128
    timeout_s: float = 3.0
    concurrency: int = 4  # most instances running at once
    runtime: str = "python3.13"  # the template's Runtime, as AWS_EXECUTION_ENV names it
    log_format: str | None = None  # LoggingConfig.LogFormat: "JSON" sets AWS_LAMBDA_LOG_FORMAT
    log_level: str | None = None  # LoggingConfig.ApplicationLogLevel
    region: str = REGION
    account_id: str = ACCOUNT_ID

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


def worker_environment(config: SandboxConfig, runtime_api: str, scratch_dir: Path) -> dict[str, str]:
    """The worker's whole environment: the function's variables, then Lambda's (which win)."""
    env = dict(config.environment)
    if config.log_format:
        env["AWS_LAMBDA_LOG_FORMAT"] = config.log_format.upper()
    if config.log_level:
        env["AWS_LAMBDA_LOG_LEVEL"] = config.log_level.upper()
    stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "_HANDLER": config.handler,
            "LAMBDA_TASK_ROOT": str(config.task_root),
            "LAMBDA_RUNTIME_DIR": str(config.runtime_dir),
            "PYTHONPATH": os.pathsep.join(str(entry) for entry in config.import_path),
            "PATH": os.pathsep.join([str(Path(config.python).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            # Not Lambda's: they keep the worker off the developer's ~/.aws and the shared /tmp.
            "HOME": str(scratch_dir),
            "TMPDIR": str(scratch_dir),
        }
    )
    return env


def worker_command(config: SandboxConfig) -> list[str]:
    """The runtime interface client under the base interpreter.

    -S: no site module, so no site-packages (the venv's, the interpreter's or the user's); the
    worker's PYTHONPATH is its only source of code. -u: unbuffered output without adding a
    variable. -B: no bytecode written, as Lambda's /var/task and /opt are read-only; the build
    compiles the artifacts, so the workers read the bytecode it wrote.
    """
    return [
        config.python,
        "-S",
        "-u",
        "-B",
        "-m",
        "awslambdaric",
        config.handler,
    ]


@dataclass(frozen=True)
class LogLine:
    function: str
    instance: str
    stream: str  # "stdout", "stderr" or "platform" (START/END/REPORT, written by the emulator)
    text: str


LogSink = Callable[[LogLine], None]


class StreamSink:
    """Writes every line to a stream, tagged with its function and instance: ``[Name 001] text``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: LogLine) -> None:
        stream = self._stream or sys.stderr
        with self._lock:
            stream.write(f"[{line.function} {line.instance}] {line.text}\n")
            stream.flush()


def _unread(pipe: IO[bytes]) -> int:
    """Bytes written to a pipe and not yet read (FIONREAD); 0 once it is closed."""
    try:
        return struct.unpack("i", fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return 0


def read_memory_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in kB from /proc/<pid>/status; None once the process is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for row in status:
                if row.startswith("VmRSS:"):
                    rss = int(row.split()[1])
                elif row.startswith("VmHWM:"):
                    hwm = int(row.split()[1])
    except (OSError, ValueError):
        return None
    return rss, hwm


class Sandbox:
    """The worker process of one instance, its output pumped line by line to a log sink."""

    def __init__(
        self,
        config: SandboxConfig,
        instance: str,
        runtime_api: str,
        log_sink: LogSink,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.instance = instance
        self.runtime_api = runtime_api
        self._log_sink = log_sink
        self._on_line = on_line
        self._proc: subprocess.Popen[bytes] | None = None
        self._pumps: list[threading.Thread] = []
        self._waiting = {"stdout": False, "stderr": False}  # each pump blocked in read
        self.scratch_dir = config.scratch_root / f"{config.name}-{instance}"
        self.started_at = 0.0
        self.peak_kb = 0  # VmHWM as last sampled: a killed worker can no longer be asked

    def start(self) -> None:
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        self._proc = subprocess.Popen(  # noqa: S603 (the configured interpreter, no shell)
            worker_command(self.config),
            cwd=self.config.task_root,
            env=worker_environment(self.config, self.runtime_api, self.scratch_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a kill takes the handler's children too
        )
        assert self._proc.stdout is not None
        assert self._proc.stderr is not None
        for name, pipe in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
            pump = threading.Thread(
                target=self._pump, args=(name, pipe), name=f"{self.config.name}-{self.instance}-{name}"
            )
            pump.daemon = True
            pump.start()
            self._pumps.append(pump)

    def _pump(self, stream: str, pipe: IO[bytes]) -> None:
        """Read with os.read, so that "waiting" means nothing is held back in a buffer."""
        fd = pipe.fileno()
        pending = b""
        with pipe:
            while True:
                self._waiting[stream] = True
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                self._waiting[stream] = False
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    self._emit_raw(stream, raw)
            if pending:
                self._emit_raw(stream, pending)
            self._waiting[stream] = True

    def _emit_raw(self, stream: str, raw: bytes) -> None:
        # awslambdaric joins the lines of one error log event with \r (one CloudWatch event).
        for part in raw.decode("utf-8", "replace").split("\r"):
            self.emit(stream, part)

    def drain(self, timeout: float = 0.1) -> None:
        """Wait (briefly) until the output written so far is logged, so that END follows it."""
        if self._proc is None:
            return
        pipes = [pipe for pipe in (self._proc.stdout, self._proc.stderr) if pipe is not None]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._waiting.values()) and not any(_unread(pipe) for pipe in pipes):
                return
            time.sleep(0.001)

    def emit(self, stream: str, text: str) -> None:
        self._log_sink(LogLine(self.config.name, self.instance, stream, text))
        if self._on_line is not None:
            self._on_line(text)

    def wait(self) -> int:
        """Wait for the worker to exit, then for its output to drain; its exit code (<0: signal)."""
        assert self._proc is not None
        code = self._proc.wait()
        for pump in self._pumps:
            pump.join(timeout=1.0)  # a grandchild may still hold the pipes open
        return code

    def kill(self) -> None:
        """SIGKILL the worker's process group, as Lambda does on timeout or out of memory."""
        if self._proc is None or self._proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def memory_kb(self) -> int | None:
        """The worker's resident memory now, in kB; its peak is kept for the REPORT line."""
        sample = None if self._proc is None else read_memory_kb(self._proc.pid)
        if sample is None:
            return None
        self.peak_kb = max(self.peak_kb, sample[1])
        return sample[0]
