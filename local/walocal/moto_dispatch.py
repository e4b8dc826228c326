"""Each request to the emulated AWS routed to its service without searching for it again.

moto's server finds a request's service from its host name on every request: it lists moto's
package directory (one ``stat`` per service, about 170) and then tries each service's URL pattern
in turn, about 1.5 ms, while holding the dispatcher's one lock, so that every request of every
function waits its turn behind that search. The answer for a host never changes while the server
runs (the directory and the patterns are moto's own), so it is found once per host name and kept.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

# Host names seen: a few per service (regional, S3's virtual hosts per bucket); bounded all the same.
MAX_HOSTS = 4096

_installed = False


def install() -> None:
    """Patch moto's dispatcher in this process; calling it again changes nothing."""
    global _installed  # noqa: PLW0603 (one patch per process)
    if _installed:
        return
    original = DomainDispatcherApplication.get_backend_for_host
    found: dict[str | None, Any] = {}
    lock = threading.Lock()

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        try:
            return found[host]
        except KeyError:
            pass
        backend = original(self, host)
        with lock:
            if len(found) < MAX_HOSTS:
                found[host] = backend
        return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    _installed = True
