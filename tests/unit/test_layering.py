"""The shared layer's tree tells its architecture: floors import only floors below them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.layering import FLOORS, closure, modules, upward_imports
from support.paths import REPO

WACLOUD = REPO / "layers" / "shared" / "wacloud"
# What the webhook's cold path may load besides the standard library: the Lambda runtime's boto3
# and Powertools' logger. pydantic and requests would cost it hundreds of milliseconds.
WEBHOOK_OUTSIDE_ALLOWED = {"boto3", "botocore", "aws_lambda_powertools"}
STDLIB_USED = {"__future__", "base64", "hashlib", "hmac", "json", "os", "re", "threading", "time"}
STDLIB_USED |= {"collections", "dataclasses", "typing", "contextlib", "datetime", "zoneinfo", "math"}
STDLIB_USED |= {"binascii", "traceback"}


def test_every_module_lives_on_a_floor() -> None:
    loose = [name for name in modules(WACLOUD) if name.count(".") >= 1 and name.split(".")[1] not in FLOORS]
    assert loose == []


def test_no_module_imports_a_higher_floor() -> None:
    assert upward_imports(WACLOUD) == []


def test_the_webhook_floor_reaches_neither_pydantic_nor_requests() -> None:
    for name in modules(WACLOUD):
        if name.startswith("wacloud.webhook"):
            project, outside = closure(name, WACLOUD)
            assert not any(
                module.startswith("wacloud.meta.") and module != "wacloud.meta.signature"
                for module in project
            ), (name, sorted(project))
            assert outside - STDLIB_USED <= WEBHOOK_OUTSIDE_ALLOWED, (name, sorted(outside))


def test_the_sender_function_does_not_load_the_webhook_payload_models() -> None:
    """The sender reads and writes the table, never a webhook: the inbound models (the largest
    pydantic schemas of the project) would only lengthen its cold start."""
    script = (
        "import os, sys\n"
        "os.environ.update(TABLE_NAME='t', ACCESS_TOKEN_SECRET_ARN='s', GRAPH_API_URL='https://graph.test',"
        " GRAPH_API_VERSION='v21.0', WHATSAPP_PHONE_NUMBER_ID='123456789012345', OUTBOUND_QUEUE_URL='q',"
        " MEDIA_BUCKET='b',"
        " REMINDER_TEMPLATE_NAME='r', REMINDER_TEMPLATE_LANGUAGE='en', REMINDER_NAME_FALLBACK='there',"
        " AWS_DEFAULT_REGION='us-east-1')\n"
        "from walocal.template import Template\n"
        "from walocal.functions import load_module\n"
        "load_module(Template.load().functions()['SenderFunction'])\n"
        "assert 'wacloud.sender.service' in sys.modules\n"
        "print('wacloud.meta.inbound' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "wacloud"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for floor in FLOORS:
        (root / floor).mkdir(exist_ok=True)
        (root / floor / "__init__.py").touch()
    (root / "__init__.py").touch()
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"core/settings.py": "from wacloud.table.store import X\n"}, ["wacloud.core.settings:1"]),
        ({"table/store.py": "import wacloud.sender.delivery\n"}, ["wacloud.table.store:1"]),
        ({"sender/a.py": "from wacloud.processor import updates\n"}, ["wacloud.sender.a:1"]),
        ({"meta/a.py": "def f():\n    from wacloud.webhook.intake import W\n"}, ["wacloud.meta.a:2"]),
        ({"core/a.py": "if TYPE_CHECKING:\n    from wacloud.table.store import S\n"}, []),
        ({"table/a.py": "from wacloud.meta.inbound import Entry\nfrom wacloud.core import errors\n"}, []),
    ],
)
def test_the_rule_catches_upward_imports(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    found = [problem.split(" ")[0] for problem in upward_imports(_package(tmp_path, files))]
    assert sorted(set(found)) == expected


def test_the_webhook_rule_catches_a_path_to_pydantic(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "webhook/intake.py": "from wacloud.core.settings import S\n",
            "core/settings.py": "import json\nfrom pydantic import BaseModel\n",
        },
    )
    _, outside = closure("wacloud.webhook.intake", root)
    assert "pydantic" in outside
