"""The one logger of the functions; its service name comes from POWERTOOLS_SERVICE_NAME."""

from __future__ import annotations

from aws_lambda_powertools.logging import Logger

logger = Logger()
