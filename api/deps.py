"""Request dependencies: the app state, the bearer-token check with a role, shared query checks."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, Role
from api.errors import ApiError, bad_param
from api.sessions import COOKIE, CSRF_HEADER, SAFE_METHODS
from api.state import AppState
from api.timeparse import parse_time_ns
from contract.quantities import check_quantity as known_quantity

DAY_NS = 86_400 * 1_000_000_000

bearer = HTTPBearer(auto_error=False, scheme_name="bearerToken", description="API token (viewer or admin)")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.campus
    return state


def authenticate(request: Request, creds: HTTPAuthorizationCredentials | None) -> Principal:
    """Bearer token (scripts) or the browser's session cookie; cookie writes need the CSRF token."""
    state = get_state(request)
    if creds is not None:
        if creds.scheme.lower() != "bearer" or not creds.credentials:
            raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)", headers=_CHALLENGE)
        principal = state.tokens.authenticate(creds.credentials)
        if principal is None:
            raise ApiError(401, "unknown token", headers=_CHALLENGE)
        return principal
    sid = request.cookies.get(COOKIE)
    sess = state.sessions.get(sid)
    if sess is None:
        raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)", headers=_CHALLENGE)
    principal = state.tokens.authenticate_digest(sess.digest)
    if principal is None:  # the token was revoked or expired, maybe while the API was down
        state.sessions.end_for_token(sess.digest)
        raise ApiError(401, "session ended: token revoked or expired", headers=_CHALLENGE)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), sess.csrf.encode()):
            raise ApiError(403, f"missing or wrong {CSRF_HEADER} header for a cookie session")
    return principal


def require(role: Role) -> Callable[..., Principal]:
    def check(
        request: Request,
        creds: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal:
        principal = authenticate(request, creds)
        if not principal.can(role):
            raise ApiError(403, f"role {principal.role.value!r} may not do this; needs {role.value!r}")
        return principal

    check.__name__ = f"require_{role.value}"
    return check


viewer = require(Role.VIEWER)
admin = require(Role.ADMIN)


def check_quantity(quantity: str | None) -> None:
    """A `quantity` query parameter, when given, must be a contract quantity."""
    if quantity is None:
        return
    try:
        known_quantity(quantity)
    except ValueError as exc:
        raise bad_param("quantity", str(exc)) from None


def query_window(state: AppState, start: str | None, end: str | None, now_ns: int) -> tuple[int, int]:
    """`from`/`to` query parameters as [start, end) ns; defaults: the day before `to`, `to` = now."""
    try:
        end_ns = parse_time_ns(end, state.tz) if end else now_ns
    except ValueError as exc:
        raise bad_param("to", str(exc)) from None
    try:
        start_ns = parse_time_ns(start, state.tz) if start else end_ns - DAY_NS
    except ValueError as exc:
        raise bad_param("from", str(exc)) from None
    if start_ns >= end_ns:
        raise bad_param("from", "must be before 'to'")
    return start_ns, end_ns
