"""The template's functions loaded from their CodeUri and invoked in this process, for the tests.

The local runtime (``wa-local``) runs functions in worker processes instead (walocal.instances);
this in-process form is what the unit and functional tests call directly.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from walocal.instances import UNHANDLED, InvokeResult
from walocal.template import FunctionSpec

log = logging.getLogger("walocal.functions")

REGION = "us-east-1"


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]local")

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_module(spec: FunctionSpec) -> ModuleType:
    """Import the handler's module from the function's code directory under a unique name."""
    module_name, _, _ = spec.handler.rpartition(".")
    path = spec.code_dir / f"{module_name.replace('.', '/')}.py"
    import_spec = importlib.util.spec_from_file_location(f"lambda_{spec.logical_id}_{module_name}", path)
    if import_spec is None or import_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(import_spec)
    import_spec.loader.exec_module(module)
    return module


class LocalFunction:
    """One warm instance of a function: events are handled one at a time, as by one Lambda sandbox."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._handler: Any = None

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def load(self) -> None:
        """Cold start: import the module (its environment must already be in os.environ)."""
        module = load_module(self.spec)
        self._handler = getattr(module, self.spec.handler.rpartition(".")[2])

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        with self._lock:
            if self._handler is None:
                self.load()
            context = LambdaContext(
                function_name=self.name,
                memory_limit_in_mb=self.spec.memory_size,
                timeout_seconds=self.spec.timeout,
                aws_request_id=request_id or str(uuid.uuid4()),
            )
            return self._handler(event, context)

    def run(self, payload: bytes, *, request_id: str | None = None) -> InvokeResult:
        """Invoke with a JSON payload; a raised exception becomes Lambda's error payload."""
        request_id = request_id or str(uuid.uuid4())
        started = time.monotonic()
        try:
            result = self.invoke(json.loads(payload) if payload.strip() else {}, request_id=request_id)
            body = json.dumps(result).encode("utf-8")
        except Exception as exc:
            log.exception("%s raised", self.name)
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            duration = (time.monotonic() - started) * 1000
            return InvokeResult(request_id, json.dumps(error).encode("utf-8"), UNHANDLED, duration)
        return InvokeResult(request_id, body, None, (time.monotonic() - started) * 1000)

    def run_async(self, payload: bytes, *, request_id: str | None = None) -> str:
        """Invoke on a thread, without Lambda's retries (the runtime's service has those)."""
        request_id = request_id or str(uuid.uuid4())
        thread = threading.Thread(target=self.run, args=(payload,), kwargs={"request_id": request_id})
        thread.daemon = True
        thread.start()
        return request_id
