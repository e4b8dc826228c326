"""JSON Schema of the sender's request, generated from :mod:`wacloud.meta.outbound`.

``python -m wacloud.meta.schema > docs/sender-contract.schema.json`` refreshes the committed
copy; a test fails while that copy differs from what the models generate.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from wacloud.meta.outbound import SendRequest


class _Untitled(GenerateJsonSchema):
    """Leaves out the titles pydantic derives from field names: they repeat the names and double the file."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def send_request_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one send request: a single item or ``{"messages": [...]}``."""
    schema = TypeAdapter(SendRequest).json_schema(schema_generator=_Untitled)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "WhatsApp sender request",
        "description": (
            "One outbound item in the shape of Meta's Cloud API /messages body, or a batch "
            '{"messages": [...]}. idempotency_key is the only field of this contract Meta never sees.'
        ),
        **schema,
    }


def render() -> str:
    """The committed file's exact text."""
    return json.dumps(send_request_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
