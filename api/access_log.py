"""A safe access log: targets truncated, no query string on failed auth, no control characters.

uvicorn's own access log writes the whole request target (100 KB lines were seen, and a query
string can carry whatever a client pasted). This writes through the `uvicorn.access` logger with
the same five arguments, so uvicorn's formatter and log config still apply; `api serve` turns
uvicorn's own access log off.

Every write that reached a signed-in caller (POST/PUT/PATCH/DELETE: rebinding, acknowledging,
reloading…) is also written to the `campus_twin.audit` logger: who (token name), role, scope,
what (method and path) and the outcome (status), so "who changed what" has one answer.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_TARGET = 200
log = logging.getLogger("uvicorn.access")
audit = logging.getLogger("campus_twin.audit")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def safe_target(path: str, query: bytes, status: int) -> str:
    """Path plus query (dropped for 401/403), printable ASCII only, at most MAX_TARGET chars."""
    target = path
    if query and status not in (401, 403):
        target += "?" + query.decode("latin-1")
    clean = "".join(c if 0x20 < ord(c) < 0x7F else f"\\x{ord(c) & 0xFF:02x}" for c in target)
    return clean if len(clean) <= MAX_TARGET else clean[: MAX_TARGET - 1] + "…"


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            client = scope.get("client")
            addr = f"{client[0]}:{client[1]}" if client else "-"
            target = safe_target(scope.get("path", ""), scope.get("query_string", b""), status)
            method = str(scope.get("method", "-"))[:10]
            log.info(
                '%s - "%s %s HTTP/%s" %d', addr, method, target, scope.get("http_version", "1.1"), status
            )
            who = scope.get("state", {}).get("principal")  # set by api.deps.require
            if who is not None and method in WRITES:
                audit.info(
                    "%s who=%s role=%s scope=%s %s %s -> %d",
                    addr,
                    who.name,
                    who.role.value,
                    who.scope,
                    method,
                    target,
                    status,
                )
