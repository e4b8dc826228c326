"""A function for the local runtime's end-to-end tests: it answers, sleeps, fails, crashes or
allocates memory on request, and logs through Powertools as the project's functions do.

The event (or, from the HTTP API, the JSON body) says what to do: ``{"sleep": 2}``,
``{"raise": "message"}``, ``{"exit": 3}``, ``{"allocate_mb": 300}``; anything else answers with the
worker's pid and environment.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


def _run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.info("probe invoked")
    slept: list[float] = []
    if "sleep" in event:
        slept.append(time.time())
        time.sleep(float(event["sleep"]))
        slept.append(time.time())
    if "raise" in event:
        raise RuntimeError(str(event["raise"]))
    if "exit" in event:
        os._exit(int(event["exit"]))
    if "allocate_mb" in event:
        held = b"\x01" * (int(event["allocate_mb"]) << 20)  # written, so resident
        time.sleep(2)
        return {"held": len(held)}
    return {
        "pid": os.getpid(),
        "environment": dict(os.environ),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "slept": slept,
    }


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("version") == "2.0":  # from the HTTP API: the request body says what to do
        answer = _run(json.loads(event.get("body") or "{}"), context)
        headers = {"content-type": "application/json"}
        return {"statusCode": 200, "headers": headers, "body": json.dumps(answer)}
    return _run(event, context)


handler: Any = logger.inject_lambda_context(_handle)
