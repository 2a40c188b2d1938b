"""Browser sign-in: trade a token for an HttpOnly session cookie (api/sessions.py explains why)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, hash_token
from api.deps import authenticate, bearer, check_rate, failed, get_state
from api.errors import ERROR_RESPONSES
from api.sessions import COOKIE
from api.state import AppState

router = APIRouter(prefix="/session", responses=ERROR_RESPONSES, tags=["session"])
State = Annotated[AppState, Depends(get_state)]


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=16, max_length=512, description="an API token (viewer or admin)")


class SessionOut(BaseModel):
    name: str
    role: str
    campuses: list[str] | None = Field(description="the campuses this token sees; null = district (all)")
    csrf: str | None = Field(description="send as X-CSRF-Token on writes made with the cookie")


def _out(principal: Principal, csrf: str | None) -> SessionOut:
    campuses = sorted(principal.campuses) if principal.campuses is not None else None
    return SessionOut(name=principal.name, role=principal.role.value, campuses=campuses, csrf=csrf)


def _secure(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto == "https"


@router.post("", operation_id="signIn")
def sign_in(state: State, body: SessionIn, request: Request, response: Response) -> SessionOut:
    """Check the token and set the `ct_session` cookie (HttpOnly, SameSite=Strict, Path=/api/)."""
    check_rate(request)
    digest = hash_token(body.token)
    principal = state.tokens.authenticate_digest(digest)
    if principal is None:
        raise failed(request, "unknown token")
    sid, sess = state.sessions.open(digest)
    response.set_cookie(
        COOKIE,
        sid,
        max_age=int(state.sessions.ttl_s),
        path="/api/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return _out(principal, sess.csrf)


@router.get("", operation_id="getSession")
def current(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    state: State,
) -> SessionOut:
    """Who is signed in (after a page reload the UI gets its CSRF token back from here)."""
    principal = authenticate(request, creds)
    sess = None if creds is not None else state.sessions.get(request.cookies.get(COOKIE))
    return _out(principal, sess.csrf if sess else None)


@router.delete("", operation_id="signOut", status_code=204)
def sign_out(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    state: State,
    response: Response,
) -> None:
    """End the cookie session on the server (needs the CSRF token) and clear the cookie."""
    authenticate(request, creds)
    state.sessions.close(request.cookies.get(COOKIE))
    response.delete_cookie(COOKIE, path="/api/", httponly=True, samesite="strict")
