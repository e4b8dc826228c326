"""What the local HTTP servers share: one way to answer a request."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler

# Hop-by-hop and length headers are the server's to set, whatever a handler's answer says.
_SERVER_HEADERS = {"content-length", "connection"}
# Query parameters whose values are credentials (Meta's handshake sends hub.verify_token).
_CREDENTIAL_PARAMETER = re.compile(r"([?&][^=&\s]*(?:token|secret|key|signature)[^=&\s]*=)[^&\s\"]*", re.I)


def redacted(line: str) -> str:
    """A request line with the values of credential-like query parameters masked."""
    return _CREDENTIAL_PARAMETER.sub(r"\1***", line)


class ReplyingHandler(BaseHTTPRequestHandler):
    """A request handler that answers with one call and logs requests to its own logger."""

    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait for a
    # delayed ACK (about 40 ms) before the body.
    disable_nagle_algorithm = True
    log: logging.Logger = logging.getLogger("walocal")
    access_log_level = logging.INFO

    def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Send a whole answer; a client that stopped waiting is logged, not raised."""
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in _SERVER_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.log.debug("client went away before the answer to %s %s", self.command, redacted(self.path))

    def log_message(self, format: str, *args: object) -> None:
        self.log.log(self.access_log_level, "%s %s", self.address_string(), redacted(format % args))
