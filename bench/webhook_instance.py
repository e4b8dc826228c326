"""The webhook and its floor, warm in one process of the template's runtime (``python -S``) with
only the built artifacts, the runtime's own packages and the floors on its path, as
:mod:`bench.webhook_cpu` measures them: for each event, short blocks of calls in strict turns,
and each side's median block. Standard library only besides them: nothing of the benchmark is
on the path. The result goes to the file ``BENCH_RESULT`` names (stdout is the functions' log).
"""

import json
import os
import statistics
import time

import app  # type: ignore[import-not-found]  # the webhook's module, from its artifacts
import webhook as floor  # type: ignore[import-not-found]  # bench/floors/webhook.py


class Context:
    function_name = "WebhookFunction"
    memory_limit_in_mb = int(os.environ["BENCH_MEMORY"])
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:WebhookFunction"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _block(handler: object, event: object, calls: int) -> float:
    """CPU seconds per call over ``calls`` calls."""
    context = Context()
    started = time.process_time()
    for _ in range(calls):
        handler(event, context)  # type: ignore[operator]
    return (time.process_time() - started) / calls


def main() -> None:
    blocks, calls = int(os.environ["BENCH_BLOCKS"]), int(os.environ["BENCH_CALLS"])
    with open(os.environ["BENCH_EVENTS"], encoding="utf-8") as source:
        events = json.load(source)
    found = {}
    for label, event in events:
        for handler in (app.handler, floor.handler):
            answer = handler(event, Context())
            if answer["statusCode"] != 200:
                raise RuntimeError(f"{label}: answered {answer['statusCode']}")
        own, least = [], []
        for _ in range(blocks):
            own.append(_block(app.handler, event, calls))
            least.append(_block(floor.handler, event, calls))
        found[label] = [statistics.median(own), statistics.median(least)]
    with open(os.environ["BENCH_RESULT"], "w", encoding="utf-8") as result:
        json.dump(found, result)


if __name__ == "__main__":
    main()
