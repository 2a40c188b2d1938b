"""ETags on the API's JSON GETs, so the UI's polling costs a 304 when nothing changed.

The body is hashed after it is produced (the API formats cheap cached state, so this saves the
transfer and the page's re-render, not the lookup). Weak ETags: the JSON is equal, not the bytes.
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 4 * 1024 * 1024  # larger responses stream through untouched


def etag_of(body: bytes) -> bytes:
    return b'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


class ETags:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not str(scope.get("path", "")).startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        wanted = next((v for k, v in scope.get("headers", []) if k == b"if-none-match"), None)
        start: Message | None = None
        chunks: list[bytes] = []
        passthrough = False

        async def buffer(message: Message) -> None:
            nonlocal start, passthrough
            if passthrough:
                await send(message)
                return
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    passthrough = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                if sum(map(len, chunks)) > MAX_BODY:
                    passthrough = True
                    await send(start)
                    await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
                return
            body = b"".join(chunks)
            tag = etag_of(body)
            headers = [*start.get("headers", []), (b"etag", tag)]
            if wanted is not None and tag in [t.strip() for t in wanted.split(b",")]:
                keep = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
                await send({"type": "http.response.start", "status": 304, "headers": keep})
                await send({"type": "http.response.body", "body": b""})
                return
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffer)
