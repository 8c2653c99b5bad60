"""ETag and If-None-Match for every successful GET, as pure ASGI middleware."""

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.etags import etag_for, etag_matches


class ETagMiddleware:
    """Buffers 200 answers to GET, adds an ETag (unless the route set one), answers 304."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200:
                    await send(message)
                return
            if start is None or start["status"] != 200:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await _finish(start, b"".join(chunks), if_none_match, send)

        await self.app(scope, receive, buffered_send)


async def _finish(start: Message, body: bytes, if_none_match: str | None, send: Send) -> None:
    headers = MutableHeaders(raw=list(start["headers"]))
    etag = headers.get("etag") or etag_for(body)
    headers["etag"] = etag
    if if_none_match and etag_matches(if_none_match, etag):
        del headers["content-length"]
        if "content-type" in headers:
            del headers["content-type"]
        await send({"type": "http.response.start", "status": 304, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({**start, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})
