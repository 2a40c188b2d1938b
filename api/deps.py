"""Request dependencies: the app state, the bearer-token check with a role and a campus scope
(api/scope.py), the failed-auth rate limit (api/ratelimit.py), shared query checks."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import scope
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


def client_of(request: Request) -> str:
    return request.client.host if request.client else "-"


def check_rate(request: Request) -> None:
    """429 with Retry-After while this client has too many failed sign-ins / unknown tokens."""
    wait = get_state(request).auth_failures.retry_after(client_of(request))
    if wait is not None:
        raise ApiError(
            429,
            f"too many failed sign-ins from this address; retry in {wait} s / 失败次数过多，请 {wait} 秒后重试",
            headers={"Retry-After": str(wait)},
        )


def failed(request: Request, detail: str) -> ApiError:
    """Count a failed token for this client; the 401 to raise."""
    get_state(request).auth_failures.fail(client_of(request))
    return ApiError(401, detail, headers=_CHALLENGE)


def authenticate(request: Request, creds: HTTPAuthorizationCredentials | None) -> Principal:
    """Bearer token (scripts) or the browser's session cookie; cookie writes need the CSRF token."""
    state = get_state(request)
    if creds is not None:
        if creds.scheme.lower() != "bearer" or not creds.credentials:
            raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)", headers=_CHALLENGE)
        check_rate(request)
        principal = state.tokens.authenticate(creds.credentials)
        if principal is None:
            raise failed(request, "unknown token")
        return principal
    sid = request.cookies.get(COOKIE)
    if not sid:
        raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)", headers=_CHALLENGE)
    check_rate(request)
    sess = state.sessions.get(sid)
    if sess is None:  # a guessed or stale session id counts as a failure
        raise failed(request, "missing bearer token (Authorization: Bearer <token>)")
    principal = state.tokens.authenticate_digest(sess.digest)
    if principal is None:  # the token was revoked or expired, maybe while the API was down
        state.sessions.end_for_token(sess.digest)
        raise ApiError(401, "session ended: token revoked or expired", headers=_CHALLENGE)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), sess.csrf.encode()):
            raise ApiError(403, f"missing or wrong {CSRF_HEADER} header for a cookie session")
    return principal


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """The one gate of every protected route: who (token or session), role, then campus scope."""

    async def check(
        request: Request,
        creds: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal:
        principal = authenticate(request, creds)
        if not principal.can(role):
            raise ApiError(403, f"role {principal.role.value!r} may not do this; needs {role.value!r}")
        request.state.principal = principal  # the audit log names who did it
        await scope.enforce(request, get_state(request), principal)
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
