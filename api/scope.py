"""Which campuses a caller may see: one check for every route, one filter for every list.

A token (and so each session opened with it) is either district-wide or limited to a list of
campus ids (`Principal.campuses`). Enforcement lives here only, reached from the auth
dependency (`api.deps.require`) that every protected route has:

- `enforce` resolves every id a request names — path parameters, query filters and the
  top-level fields of a JSON body — to its campus through the twin (`PARAMS`). An id of a
  campus out of scope answers **404 with the same text as an unknown id**: a school's staff
  cannot tell another school's room from a room that does not exist (403 would confirm it).
  A write (POST/PUT/PATCH/DELETE) that names no campus at all (reload, anything district-wide)
  needs a district token.
- `visible` is the filter every list applies (`api.views.page` calls it on every paginated
  list): an item whose campus cannot be told raises, so a new list type fails closed.

The caller is kept in a context variable for the request (set by the auth dependency), so the
list filter needs no extra argument threaded through every route.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from api.auth import Principal
from api.errors import ApiError, not_found

if TYPE_CHECKING:
    from fastapi import Request

    from api.state import AppState

T = TypeVar("T")

CURRENT: ContextVar[Principal | None] = ContextVar("campus_twin_principal", default=None)

# request parameter / body field name → what kind of id it holds (its campus is looked up)
PARAMS: dict[str, str] = {
    "campus_id": "campus",
    "campus": "campus",
    "site": "campus",
    "building_id": "building",
    "building": "building",
    "storey_id": "storey",
    "storey": "storey",
    "room_id": "room",
    "room": "room",
}
# ids that only mean something next to one of PARAMS (a device id is unique within its site):
# a route taking one of these must also take `site` (tests/api/test_scopes.py checks it)
QUALIFIED = frozenset({"device", "point"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def campus_of(state: AppState, kind: str, ident: str) -> str | None:
    """The campus an id belongs to; None when the twin does not know it (the route answers 404)."""
    twin = state.twin
    if kind == "campus":
        return ident if ident in twin.campuses else None
    if kind == "building":
        b = twin.buildings.get(ident)
        return b[0].id if b else None
    if kind == "storey":
        st = twin.storeys.get(ident)
        return st[0].id if st else None
    place = twin.spaces.get(ident)
    return place.campus.id if place else None


def _named(request: Request, body: Any) -> Iterable[tuple[str, str]]:
    for name, value in request.path_params.items():
        yield name, str(value)
    for name, value in request.query_params.multi_items():
        yield name, value
    if isinstance(body, dict):
        for name, value in body.items():
            if isinstance(value, str):
                yield name, value


async def _json_body(request: Request) -> Any:
    if request.method not in WRITES:
        return None
    if "json" not in request.headers.get("content-type", ""):
        return None
    try:  # FastAPI has read the body already; this re-reads the cached bytes
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None  # the route's own validation answers 422


async def enforce(request: Request, state: AppState, principal: Principal) -> None:
    """404 for any id of a campus out of the caller's scope; district-wide writes need district."""
    CURRENT.set(principal)
    if principal.campuses is None:
        return
    named_campus = False
    for name, value in _named(request, await _json_body(request)):
        kind = PARAMS.get(name)
        if kind is None:
            continue
        named_campus = True  # the write is about one place, not the district
        campus = campus_of(state, kind, value)
        if campus is None:
            continue  # unknown id: the route says 404 (the same answer as out of scope)
        if not principal.sees(campus):
            raise not_found(kind, value)
    if request.method in WRITES and not named_campus:
        raise ApiError(
            403,
            f"scope {principal.scope!r} may not change what is district-wide / 学校范围的令牌不能执行全区操作",
        )


def visible(items: Sequence[T], campus: Callable[[T], str] | None = None) -> list[T]:
    """The items of the campuses the current caller sees (every list goes through this);
    `campus` tells an item's campus (default `item_campus`)."""
    principal = CURRENT.get()
    if principal is None or principal.campuses is None:
        return list(items)
    of = campus or item_campus
    return [it for it in items if principal.sees(of(it))]


def item_campus(item: object) -> str:
    """The campus a response row belongs to: `campus`, `site`, or a campus row's own `id`."""
    from api.schemas import CampusOut

    if isinstance(item, CampusOut):
        return item.id
    for attr in ("campus", "site"):
        value = getattr(item, attr, None)
        if isinstance(value, str):
            return value
    raise TypeError(f"{type(item).__name__}: no campus to scope by (add a 'campus' or 'site' field)")


def campuses_in_scope(principal: Principal | None) -> frozenset[str] | None:
    """None = every campus (district or no caller)."""
    return None if principal is None else principal.campuses


def scope_key() -> str:
    """The current caller's scope as a cache-key part (results built for one scope stay in it)."""
    principal = CURRENT.get()
    return "district" if principal is None else principal.scope
