"""The template catalog synced from the Graph API: ``GET /<version>/<waba-id>/message_templates``.

Every page is read before anything is written: a sync that fails half-way (Meta unreachable, a
refused token, a page that is not Meta's) leaves the last known catalog in force, notes the
failure on the catalog's sync item and says so in the log. The access token is the sender's
(read from the secret, cached).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wacloud.core.errors import WaCloudError
from wacloud.core.metrics import metrics
from wacloud.core.observability import log_failure, logger
from wacloud.meta.graph_client import GraphApiError, GraphClient
from wacloud.meta.outbound import SendError
from wacloud.meta.templates import TemplateDefinition, next_page
from wacloud.table.errors import TableUnavailableError
from wacloud.table.templates import TemplateCatalogStore

PAGE_SIZE = 100
MAX_PAGES = 200  # 20,000 templates: far past Meta's limit per account
FIELDS = "name,language,status,category,components,id,quality_score"


@dataclass(frozen=True)
class SyncSummary:
    synced: bool
    templates: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        answer: dict[str, object] = {"synced": self.synced, "templates": self.templates}
        if self.error is not None:
            answer["error"] = self.error
            answer["message"] = "the template catalog was not synced: the last known catalog stays in force"
        return answer


class TemplateSync:
    def __init__(
        self,
        graph: GraphClient,
        store: TemplateCatalogStore,
        waba_id: str | None,
        token: Callable[[], str | SendError],
    ) -> None:
        """``token`` gives the access token, or a SendError saying why there is none."""
        self._graph = graph
        self._store = store
        self._waba_id = waba_id
        self._token = token

    def run(self) -> SyncSummary:
        if not self._waba_id:
            return self._failed("no WhatsApp Business Account id is configured (WHATSAPP_WABA_ID / WabaId)")
        token = self._token()
        if isinstance(token, SendError):
            return self._failed(f"no access token: {token.message}")
        try:
            definitions = self._listing(token)
        except GraphApiError as exc:
            return self._failed(f"the Graph API refused the listing ({exc.code}): {exc}")
        except WaCloudError as exc:
            return self._failed(f"the Graph API could not be read ({type(exc).__name__}): {exc}")
        try:
            count = self._store.replace(definitions)
        except TableUnavailableError as exc:
            return self._failed(f"the catalog could not be written: {exc}")
        logger.info("template catalog synced", extra={"templates": count})
        metrics.count("TemplateSyncs", result="synced")
        return SyncSummary(synced=True, templates=count)

    def _listing(self, token: str) -> list[TemplateDefinition]:
        url: str | None = self._graph.endpoint.templates_url(str(self._waba_id))
        params: dict[str, str] | None = {"limit": str(PAGE_SIZE), "fields": FIELDS}
        definitions: list[TemplateDefinition] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return definitions
            page = self._graph.get_page(url, token, params)
            data = page.get("data")
            if not isinstance(data, list):
                raise WaCloudError("the listing's answer has no data array")
            definitions += [d for d in map(_definition, data) if d is not None]
            url, params = next_page(page), None  # the next URL carries the query
        raise WaCloudError(f"the listing had more than {MAX_PAGES} pages")

    def _failed(self, error: str) -> SyncSummary:
        logger.error(
            "template catalog not synced: the last known catalog stays in force", extra={"error": error}
        )
        metrics.count("TemplateSyncs", result="failed")
        try:
            self._store.note_sync_failure(error)
        except TableUnavailableError as exc:
            log_failure("could not note the failed template sync", exc)
        return SyncSummary(synced=False, error=error)


def _definition(data: object) -> TemplateDefinition | None:
    return TemplateDefinition.from_graph(data) if isinstance(data, dict) else None
