"""One error body for every failure (schemas.ErrorOut), with the offending fields named."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import ErrorOut, FieldProblem
from contract.yamlio import ConfigError

V = TypeVar("V")

_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
log = logging.getLogger("campus_twin.api")


class ApiError(StarletteHTTPException):
    def __init__(
        self, status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.field = field


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what} {ident[:80]!r} not found")


def known(index: Mapping[str, V], what: str, ident: str) -> V:
    """`index[ident]`, or the 404 naming what was not found (every by-id route looks up this way)."""
    found = index.get(ident)
    if found is None:
        raise not_found(what, ident)
    return found


def bad_param(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", field=field)


# Responses every protected route can give, for the OpenAPI schema.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or unknown bearer token"},
    403: {"model": ErrorOut, "description": "the token's role may not do this"},
    422: {"model": ErrorOut, "description": "invalid parameters"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "no such object"}}


def _body(status: int, detail: str, fields: list[FieldProblem] | None = None) -> dict[str, Any]:
    return ErrorOut(error=_CODES.get(status, "error"), detail=detail, fields=fields or []).model_dump()


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        field = getattr(exc, "field", None)
        fields = [FieldProblem(field=field, message=str(exc.detail))] if field else None
        return JSONResponse(_body(exc.status_code, str(exc.detail), fields), exc.status_code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = []
        for err in exc.errors()[:20]:
            loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
            fields.append(FieldProblem(field=".".join(loc) or "(request)", message=str(err.get("msg"))))
        detail = "; ".join(f"{f.field}: {f.message}" for f in fields) or "invalid request"
        return JSONResponse(_body(422, detail, fields), 422)

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        """A twin/rules/binding YAML broken on disk (e.g. during POST /admin/reload): the previous
        twin keeps serving; the answer names file:line:col for each problem."""
        fields = [FieldProblem(field=exc.path, message=p) for p in exc.problems[:20]]
        return JSONResponse(_body(409, f"configuration error in {exc.path}", fields), 409)


class InternalErrors:
    """Any unhandled exception → a 500 in the error envelope (logged with its traceback here,
    never sent to the client). Sits inside the security-header middleware so the 500 has them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), str(scope.get("path"))[:200])
            if started:
                raise
            body = json.dumps(_body(500, "internal error; the server log has the details")).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
