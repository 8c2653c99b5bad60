"""The HTTP server each worker runs: uvicorn on uvloop with the httptools parser.

uvloop and httptools are C event loop and HTTP parser, several times cheaper per request
than asyncio's loop and h11; uvicorn falls back to those only if they cannot be imported.
h11 limits a request head to `h11_max_incomplete_event_size` but uvicorn's httptools
protocol has no such limit (it buffers any head whole), so `BoundedHttpToolsProtocol`
applies the same limit to the request line and headers: beyond it, 400 and the connection
closed, as h11 does.
"""

import importlib.util
import socket
from typing import Any

import uvicorn

from api.infra.settings import Settings
from api.web import observability


class HeadTooLarge(Exception):
    """The request line and headers so far exceed the head limit."""


HEAD_OVERHEAD = 4  # ": " and CRLF around each header, as they came on the wire
HTTP: Any = "h11"  # without httptools

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover
    pass
else:

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with h11's limit on the size of a request head."""

        head_bytes = 0

        def on_message_begin(self) -> None:
            self.head_bytes = 0
            super().on_message_begin()

        def _count(self, size: int) -> None:
            self.head_bytes += size
            limit = self.config.h11_max_incomplete_event_size
            if limit is not None and self.head_bytes > limit:
                # Raised inside a parser callback: httptools turns it into HttpParserError,
                # which uvicorn answers with 400 and closes the connection.
                raise HeadTooLarge

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + HEAD_OVERHEAD)
            super().on_header(name, value)

    HTTP = BoundedHttpToolsProtocol


def server_choice() -> dict[str, Any]:
    """uvloop and the bounded httptools protocol when installed, else uvicorn's defaults."""
    uvloop = importlib.util.find_spec("uvloop") is not None
    return {
        "loop": "uvloop" if uvloop else "auto",
        "http": HTTP,
    }


def config(settings: Settings, limits: dict[str, Any], **where: Any) -> uvicorn.Config:
    """The uvicorn configuration of one worker: the app factory, our JSON logging (its own
    access log off), the given limits, and `where` (host and port, when not given a socket)."""
    return uvicorn.Config(
        "api.app:create_app",
        factory=True,
        log_level=settings.log_level.lower(),
        log_config=observability.uvicorn_log_config(settings),
        access_log=False,
        **server_choice(),
        **limits,
        **where,
    )


def serve(settings: Settings, limits: dict[str, Any], host: str, port: int) -> None:
    """One process, one server: uvicorn binds `host:port` itself."""
    uvicorn.Server(config(settings, limits, host=host, port=port)).run()


def serve_on(limits: dict[str, Any], sock: socket.socket) -> None:
    """A worker: serve on its own listening socket, with settings read in this process."""
    from api.infra.settings import get_settings

    uvicorn.Server(config(get_settings(), limits)).run(sockets=[sock])
