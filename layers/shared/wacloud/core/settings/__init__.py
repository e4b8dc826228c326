"""Each function's configuration, read from its environment once at cold start and validated.

Plain dataclasses rather than pydantic: the webhook function imports this on its cold path,
which must stay lean. Each function's settings have their own module, imported when their class
is first asked for: creating a dataclass takes about a millisecond, and a function needs only
its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wacloud.core.lazy import lazy_names
from wacloud.core.settings.reading import DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS, phone_numbers

if TYPE_CHECKING:
    from wacloud.core.settings.media import MediaSettings
    from wacloud.core.settings.processor import RAW_ARCHIVE_MODES, ProcessorSettings
    from wacloud.core.settings.publisher import PublisherSettings
    from wacloud.core.settings.replybot import ReplyBotSettings
    from wacloud.core.settings.sender import REMINDER_CATEGORIES, ReminderSettings, SenderSettings
    from wacloud.core.settings.webhook import WebhookSettings

__all__ = [
    "DEFAULT_OPT_IN_KEYWORDS",
    "DEFAULT_OPT_OUT_KEYWORDS",
    "RAW_ARCHIVE_MODES",
    "REMINDER_CATEGORIES",
    "MediaSettings",
    "ProcessorSettings",
    "PublisherSettings",
    "ReminderSettings",
    "ReplyBotSettings",
    "SenderSettings",
    "WebhookSettings",
    "phone_numbers",
]

_MODULE_OF = {
    "MediaSettings": "media",
    "ProcessorSettings": "processor",
    "RAW_ARCHIVE_MODES": "processor",
    "PublisherSettings": "publisher",
    "ReplyBotSettings": "replybot",
    "REMINDER_CATEGORIES": "sender",
    "ReminderSettings": "sender",
    "SenderSettings": "sender",
    "WebhookSettings": "webhook",
}


__getattr__ = lazy_names(__name__, _MODULE_OF)
