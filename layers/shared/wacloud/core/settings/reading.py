"""Reading a setting from the environment: each reader refuses a missing or malformed value with
:class:`~wacloud.core.errors.ConfigurationError`, naming the variable."""

from __future__ import annotations

from collections.abc import Mapping

from wacloud.core.errors import ConfigurationError

DEFAULT_OPT_OUT_KEYWORDS = ("STOP", "UNSUBSCRIBE")
DEFAULT_OPT_IN_KEYWORDS = ("START",)


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is required")
    return value


def number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"environment variable {name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigurationError(f"environment variable {name} must be at least {minimum}, got {raw!r}")
    return value


def whole_number(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    value = number(env, name, default, minimum)
    if value != int(value):
        raise ConfigurationError(f"environment variable {name} must be a whole number, got {value}")
    return int(value)


def words(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(word.strip().upper() for word in raw.split(",") if word.strip())


def phone_numbers(env: Mapping[str, str], default_number: str) -> tuple[str, ...]:
    """The business numbers of ``WHATSAPP_PHONE_NUMBER_IDS`` (comma-separated), the default first.

    The default (``WHATSAPP_PHONE_NUMBER_ID``) is served whether or not the list names it.
    """
    listed = [number.strip() for number in env.get("WHATSAPP_PHONE_NUMBER_IDS", "").split(",")]
    numbers = [default_number]
    for number in listed:
        if not number:
            continue
        if not number.isdigit() or not number.isascii():
            raise ConfigurationError(
                "environment variable WHATSAPP_PHONE_NUMBER_IDS must list numeric phone number ids, "
                f"got {number!r}"
            )
        if number not in numbers:
            numbers.append(number)
    return tuple(numbers)


def choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().upper() or default
    if value not in allowed:
        raise ConfigurationError(
            f"environment variable {name} must be one of {', '.join(allowed)}, got {value!r}"
        )
    return value


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"environment variable {name} must be true or false, got {raw!r}")
    return raw == "true"
