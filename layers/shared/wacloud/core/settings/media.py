"""The media function's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wacloud.core.settings.reading import number, required


@dataclass(frozen=True)
class MediaSettings:
    """The media job: where media go, and how it reaches Meta (the sender's token and Graph API)."""

    table_name: str
    media_bucket: str
    secret_arn: str
    secret_max_age_seconds: float
    graph_api_url: str
    graph_api_version: str
    connect_timeout_seconds: float
    read_timeout_seconds: float
    download_attempts: int
    backoff_base_seconds: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MediaSettings:
        return cls(
            table_name=required(env, "TABLE_NAME"),
            media_bucket=required(env, "MEDIA_BUCKET"),
            secret_arn=required(env, "ACCESS_TOKEN_SECRET_ARN"),
            secret_max_age_seconds=number(env, "SECRET_MAX_AGE_SECONDS", 300.0, 0.0),
            graph_api_url=required(env, "GRAPH_API_URL").rstrip("/"),
            graph_api_version=required(env, "GRAPH_API_VERSION"),
            connect_timeout_seconds=number(env, "GRAPH_CONNECT_TIMEOUT_SECONDS", 3.05, 0.1),
            # A download of the largest media (100 MB) is one read per chunk, each within this.
            read_timeout_seconds=number(env, "GRAPH_READ_TIMEOUT_SECONDS", 20.0, 0.1),
            download_attempts=int(number(env, "MEDIA_DOWNLOAD_ATTEMPTS", 4, 1)),
            backoff_base_seconds=number(env, "MEDIA_BACKOFF_BASE_SECONDS", 0.5, 0.0),
        )
