"""The template catalog as the sender consults it: templates a send names, checked before Meta is.

A template send is refused before sending, with Meta's own code, when the catalog says Meta would
refuse it:

- the template does not exist, or not in the language asked, or is not approved (pending,
  rejected, deleted): 132001;
- its body or header takes another number of parameters: 132000;
- its media header is of another type than the parameter given: 132012;
- it is paused (Meta pauses a template whose quality dropped): 132015; disabled: 132016.

Its category decides the marketing rules: a MARKETING template is not sent to a contact who
stopped marketing messages.

The catalog is read once per :data:`CACHE_SECONDS` per instance (one query of its partition), so a
send costs no extra read. With no catalog at all (never synced, no template webhook yet), or when
it cannot be read and none was read before, templates are sent unchecked and Meta judges them, as
before there was a catalog: an empty catalog never blocks every send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

from wacloud.core.observability import log_failure, logger
from wacloud.meta.outbound import SendError
from wacloud.meta.templates import DISABLED, MARKETING, MEDIA_HEADERS, PAUSED, TemplateDefinition
from wacloud.sender.policy import REFUSED_BEFORE_SENDING
from wacloud.table.errors import TableUnavailableError
from wacloud.table.templates import CatalogSnapshot, TemplateCatalogStore

if TYPE_CHECKING:
    from wacloud.meta.outbound import OutboundItem, TemplateMessage

CACHE_SECONDS = 60.0
TEMPLATE_MISSING = 132001
PARAMETER_COUNT = 132000
PARAMETER_FORMAT = 132012
TEMPLATE_PAUSED = 132015
TEMPLATE_DISABLED = 132016
# Statuses under which Meta does not send a template (it answers as for one that does not exist).
NOT_SENDABLE = frozenset(
    {"PENDING", "REJECTED", "DELETED", "PENDING_DELETION", "IN_APPEAL", "LIMIT_EXCEEDED", "ARCHIVED"}
)
_SYNC_HINT = "Run `wactl templates sync` if the template changed at Meta since the last sync."


@dataclass(frozen=True)
class TemplateVerdict:
    """What the catalog says of one item: why not to send it, and its category when known."""

    refusal: SendError | None = None
    category: str | None = None

    @property
    def marketing(self) -> bool | None:
        return None if self.category is None else self.category == MARKETING


UNCHECKED = TemplateVerdict()


class TemplateCatalog:
    def __init__(
        self,
        store: TemplateCatalogStore,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: CatalogSnapshot | None = None
        self._read_at: float | None = None

    def forget(self) -> None:
        """Read the catalog again at the next send (after a sync by this instance)."""
        with self._lock:
            self._read_at = None

    def snapshot(self) -> CatalogSnapshot | None:
        """The catalog, read at most once per ``cache_seconds``; the last one read if it cannot be."""
        with self._lock:
            now = self._clock()
            if self._read_at is not None and now - self._read_at < self._cache_seconds:
                return self._snapshot
            try:
                snapshot = self._store.snapshot()
            except TableUnavailableError as exc:
                log_failure("could not read the template catalog; the last one read stays in use", exc)
                self._read_at = now  # not again at once: the table is struggling
                return self._snapshot
            if not snapshot.known:
                logger.warning("no template catalog (never synced): templates are sent unchecked")
            self._snapshot, self._read_at = snapshot, now
            return snapshot

    def category(self, name: str, language: str) -> str | None:
        """The catalog's category of a template (MARKETING, UTILITY, ...); None when it does not
        know the template or its category."""
        snapshot = self.snapshot()
        definition = snapshot.templates.get((name, language)) if snapshot is not None else None
        return definition.category if definition is not None else None

    def verdict(self, item: OutboundItem) -> TemplateVerdict:
        if not _is_template(item):
            return UNCHECKED
        snapshot = self.snapshot()
        if snapshot is None or not snapshot.known:
            return UNCHECKED
        template = item.template
        name, language = template.name, template.language.code
        definition = snapshot.templates.get((name, language))
        if definition is None:
            others = sorted(lang for known, lang in snapshot.templates if known == name)
            detail = (
                f"template {name!r} has no {language!r} translation (it has {', '.join(others)})"
                if others
                else f"template {name!r} is not in the catalog"
            )
            return TemplateVerdict(
                _refused(TEMPLATE_MISSING, "Template name does not exist in the translation", detail)
            )
        return TemplateVerdict(_check(definition, item), definition.category)


def _is_template(item: OutboundItem) -> TypeGuard[TemplateMessage]:
    # Its class's flag rather than isinstance: importing TemplateMessage here would create every
    # template model at the sender's start, whatever the type of its sends.
    return item.is_template


def _check(definition: TemplateDefinition, item: TemplateMessage) -> SendError | None:
    label = f"template {definition.name!r} ({definition.language})"
    if definition.status == PAUSED:
        return _refused(
            TEMPLATE_PAUSED, "Template is paused", f"{label} is paused by Meta (its quality dropped)"
        )
    if definition.status == DISABLED:
        return _refused(TEMPLATE_DISABLED, "Template is disabled", f"{label} is disabled by Meta")
    if definition.status in NOT_SENDABLE:
        return _refused(
            TEMPLATE_MISSING,
            "Template name does not exist in the translation",
            f"{label} is {definition.status}",
        )
    body: list[str] = []
    header: list[str] = []
    for component in item.template.components or []:
        if component.type == "body":
            body += [parameter.type for parameter in component.parameters]
        elif component.type == "header":
            header += [parameter.type for parameter in component.parameters]
    if definition.body_params is None:
        return None  # known from a webhook only: what it takes is not known
    if len(body) != definition.body_params:
        return _count_mismatch(label, "body", len(body), definition.body_params)
    if definition.header_format != "LOCATION" and len(header) != definition.header_params:
        return _count_mismatch(label, "header", len(header), definition.header_params)
    if definition.header_format in MEDIA_HEADERS and header and header[0] != definition.header_format.lower():
        return _refused(
            PARAMETER_FORMAT,
            "Parameter format does not match format in the created template",
            f"{label} has a {definition.header_format.lower()} header, the send gives a {header[0]}",
        )
    return None


def _count_mismatch(label: str, component: str, received: int, expected: int) -> SendError:
    return _refused(
        PARAMETER_COUNT,
        "Number of parameters does not match the expected number of params",
        f"{label}: its {component} takes {expected} parameter(s), the send gives {received}",
    )


def _refused(code: int, title: str, detail: str) -> SendError:
    return SendError(
        code=code,
        title=title,
        message=f"{REFUSED_BEFORE_SENDING}: {detail}, per the template catalog ({code}).",
        hint=_SYNC_HINT,
        retryable=False,
    )
