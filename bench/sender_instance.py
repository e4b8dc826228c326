"""One sender instance of :mod:`bench.send_rate`, run as Lambda runs the function: the template's
runtime (``python -S``) with only the built artifacts and the runtime's own packages on its path.

INIT is the import of ``app``. The instance then asks the benchmark's work line for queue batches
(as the event source's poller hands them out), handles each as an SQS event, and at the end
reports the CPU it spent on them, the records handled and the records it reported as failed.
Standard library only: nothing of the benchmark is on the path.
"""

import json
import os
import time
import urllib.request
import uuid

# Below the stand-in and the simulator, which play AWS's and Meta's own machines: on shared cores
# they must answer and time arrivals as promptly as those would, however busy the senders are.
os.nice(10)

import app  # type: ignore[import-not-found]  # noqa: E402 (the function's module, from its artifacts)

WORK = os.environ["BENCH_WORK_URL"]
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:whatsapp-cloud-OutboundQueue"


class Context:
    function_name = os.environ["BENCH_FUNCTION"]
    memory_limit_in_mb = int(os.environ["BENCH_MEMORY"])
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"

    def __init__(self, timeout_seconds: float) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _sqs_event(bodies: list[str]) -> dict[str, object]:
    now_ms = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now_ms,
                    "ApproximateFirstReceiveTimestamp": now_ms,
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def _ask(path: str, body: bytes | None = None) -> tuple[int, bytes]:
    with urllib.request.urlopen(WORK + path, data=body, timeout=900) as answer:  # noqa: S310 (the bench's own line)
        return answer.status, answer.read()


def main() -> None:
    timeout = float(os.environ["BENCH_TIMEOUT"])
    _ask("/ready", b"")
    started, handled, failed = time.process_time(), 0, 0
    while True:
        status, batch = _ask("/next")
        if status == 204:
            break
        bodies = json.loads(batch)
        answer = app.handler(_sqs_event(bodies), Context(timeout))
        handled += len(bodies)
        failed += len(answer.get("batchItemFailures", []))
    report = {"cpu_seconds": time.process_time() - started, "records": handled, "failed": failed}
    _ask("/done", json.dumps(report).encode())


main()
