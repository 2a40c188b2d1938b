"""Request dependencies: the app state and the bearer-token check with a role."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, Role
from api.errors import ApiError
from api.state import AppState

bearer = HTTPBearer(auto_error=False, scheme_name="bearerToken", description="API token (viewer or admin)")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.campus
    return state


def require(role: Role) -> Callable[..., Principal]:
    def check(
        request: Request,
        creds: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> Principal:
        if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
            raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)", headers=_CHALLENGE)
        principal = get_state(request).tokens.authenticate(creds.credentials)
        if principal is None:
            raise ApiError(401, "unknown token", headers=_CHALLENGE)
        if not principal.can(role):
            raise ApiError(403, f"role {principal.role.value!r} may not do this; needs {role.value!r}")
        return principal

    check.__name__ = f"require_{role.value}"
    return check


viewer = require(Role.VIEWER)
admin = require(Role.ADMIN)
