"""The project's exceptions: every AWS or HTTP failure is wrapped in one of these, classified."""

from __future__ import annotations


class WaCloudError(Exception):
    """Base of the project's errors. ``retryable`` tells the caller whether trying again may help."""

    retryable: bool = False


class ConfigurationError(WaCloudError):
    """An environment variable or setting is missing or malformed (found at cold start)."""


class SecretUnavailableError(WaCloudError):
    """The WhatsApp secret could not be read from Secrets Manager."""

    retryable = True


class SecretFormatError(WaCloudError):
    """The secret exists but is not the expected JSON object (names the keys, never the values)."""


class EnqueueError(WaCloudError):
    """A verified webhook could not be handed to the queue (or the payload bucket)."""

    retryable = True


class PayloadFetchError(WaCloudError):
    """A queued webhook's body could not be read back (for example from the payload bucket)."""

    retryable = True
