"""Delivers the template's EventBridge rules to their functions, as EventBridge invokes them.

Each ``EventBridgeRule`` event of a function becomes a rule on the emulated bus, with the
template's pattern (intrinsics resolved), whose target is a queue of the runtime's own: moto's
EventBridge matches events and delivers them to SQS targets, not to functions it does not run.
A poller hands each delivered event to the function as an asynchronous invocation, as
EventBridge does, so the function's EventInvokeConfig (retries, destinations) applies. A rule
whose ``State`` is not ENABLED delivers nothing, as on AWS.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from walocal.lambda_service import FunctionTarget
from walocal.template import Resolver, RuleSource

log = logging.getLogger("walocal.rules")


class RuleDelivery:
    def __init__(
        self,
        events: Any,
        sqs: Any,
        source: RuleSource,
        resolver: Resolver,
        function: FunctionTarget,
        *,
        stack_name: str,
    ) -> None:
        self._events = events
        self._sqs = sqs
        self._source = source
        self._function = function
        self.bus = str(resolver.resolve(source.bus)) if source.bus is not None else "default"
        self.pattern = resolver.resolve(source.pattern)
        self.enabled = str(resolver.resolve(source.state)) == "ENABLED"
        self.rule_name = f"{stack_name}-{source.function}-{source.name}"
        self._queue_url: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rule-{self.rule_name}", daemon=True)

    def start(self) -> None:
        if not self.enabled:
            return
        self._queue_url = str(self._sqs.create_queue(QueueName=f"{self.rule_name}-delivery")["QueueUrl"])
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._events.put_rule(
            Name=self.rule_name, EventBusName=self.bus, EventPattern=json.dumps(self.pattern), State="ENABLED"
        )
        self._events.put_targets(
            Rule=self.rule_name, EventBusName=self.bus, Targets=[{"Id": "function", "Arn": queue_arn}]
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def deliver_once(self, wait_seconds: int = 1) -> int:
        """Hand what the rule matched since the last call to the function; how many events."""
        if self._queue_url is None:
            return 0
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        for message in messages:
            self._function.run_async(message["Body"].encode("utf-8"))
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_once()
            except Exception:
                log.exception("delivering rule %s failed", self.rule_name)
                self._stop.wait(1)
