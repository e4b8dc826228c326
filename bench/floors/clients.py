"""Cold start floor: import boto3 and create the clients a function creates at INIT.

    python -S clients.py dynamodb-resource sqs secretsmanager

prints the CPU seconds it took.
"""

from __future__ import annotations

import sys
import time

started = time.process_time()
import boto3  # noqa: E402 (timed from before the import)

for name in sys.argv[1:]:
    if name.endswith("-resource"):
        boto3.resource(name.removesuffix("-resource"))  # type: ignore[call-overload]
    else:
        boto3.client(name)  # type: ignore[call-overload]
print(time.process_time() - started)
