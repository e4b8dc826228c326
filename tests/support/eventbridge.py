"""A scripted EventBridge for the publisher's tests: which entries of each PutEvents call fail."""

from __future__ import annotations

import json
from typing import Any


class ScriptedEventBridge:
    """PutEvents answering from a script: per call, the indexes of entries that fail, or an error."""

    def __init__(self, *script: set[int] | Exception) -> None:
        self.script = list(script)
        self.published: list[str] = []
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        step = self.script.pop(0) if self.script else set()
        if isinstance(step, Exception):
            raise step
        results = []
        for index, entry in enumerate(Entries):
            if index in step:
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
            else:
                self.published.append(json.loads(entry["Detail"])["event_id"])
                results.append({"EventId": f"id-{len(self.published)}"})
        return {"FailedEntryCount": len(step & set(range(len(Entries)))), "Entries": results}
