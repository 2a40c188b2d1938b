"""HEAD on every GET route (uptime monitors use it): run the GET, send its headers, no body."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        sent_end = False

        async def headers_only(message: Message) -> None:
            nonlocal sent_end
            if message["type"] == "http.response.body":
                if sent_end:
                    return
                if message.get("more_body", False):
                    return  # swallow streamed chunks; close once at the end
                sent_end = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
