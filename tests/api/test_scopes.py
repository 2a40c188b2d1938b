"""A district server with two schools: each school's token sees and changes only its own campus.

The matrix is generated from the app's OpenAPI document: every operation × every identity,
with each id parameter naming the *other* school's campus/building/storey/room/device. A new
route is in it the day it is added; a route with an id parameter the scope check does not know
fails `test_every_id_parameter_is_scoped`.

Rule pinned here (api/scope.py): another campus's id answers 404, the same as an id that does
not exist; a role too low answers 403 first; a district-wide write (reload) needs a district
token (403).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role
from api.ratelimit import FailureLimiter
from api.scope import PARAMS, QUALIFIED
from api.token_cli import add, listing
from api.twin_loader import load_from_config
from contract.campus import CampusSpec
from contract.yamlio import load_model
from store.sqlite import SQLiteStore
from tests.api.api_seed import REPO, FixedClock, make_settings, seed_store

V1 = "/api/v1"
A, B = "school-a", "school-b"
TOKENS = {  # identity → (token, role, campuses or None = district)
    "district-viewer": ("district-viewer-token-0123456789", "viewer", None),
    "district-admin": ("district-admin-token-0123456789", "admin", None),
    "a-viewer": ("school-a-viewer-token-0123456789", "viewer", [A]),
    "a-admin": ("school-a-admin-token-0123456789", "admin", [A]),
}
SCHOOL = ("a-viewer", "a-admin")


def _hdr(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who][0]}"}


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two generated schools (one building each) in one twin config; tokens of both kinds."""
    from twin.generator import generate_campus

    d = tmp_path_factory.mktemp("district")
    spec = load_model(CampusSpec, REPO / "examples/campus/demo-campus.yaml")
    lines = ["campuses:"]
    for site in (A, B):
        one = spec.model_copy(update={"site": site, "buildings": spec.buildings[:1]})
        files = generate_campus(one, d / site)
        (d / f"{site}-bindings.yaml").write_text(f"site: {site}\nbindings: []\n", encoding="utf-8")
        ifc = ", ".join(str(f.path) for f in files)
        lines.append(f"  - {{id: {site}, name: {site}, ifc: [{ifc}], bindings: {site}-bindings.yaml}}")
    (d / "twin.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ["tokens:"]
    for name, (tok, role, campuses) in TOKENS.items():
        scope = f", campuses: [{', '.join(campuses)}]" if campuses else ""  # none: a pre-scope entry
        rows.append(f"  - {{name: {name}, role: {role}, token: {tok}{scope}}}")
    (d / "tokens.yaml").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def client(district: Path) -> Iterator[TestClient]:
    loaded = load_from_config(district / "twin.yaml")
    store = SQLiteStore(district / "store.sqlite")
    for c in loaded.campuses:
        seed_store(store, c, hours=2)
    app = create_app(
        make_settings(district, auth_limit={"max_failures": 10_000}), store=store, clock=FixedClock()
    )
    with TestClient(app) as c:
        yield c
    store.close()


@pytest.fixture(scope="module")
def ids(client: TestClient) -> dict[str, dict[str, str]]:
    """One id of each kind per campus, read as a district viewer."""
    out: dict[str, dict[str, str]] = {}
    h = _hdr("district-viewer")
    for site in (A, B):
        b = client.get(f"{V1}/buildings", params={"campus": site}, headers=h).json()["items"][0]
        st = client.get(f"{V1}/storeys", params={"campus": site}, headers=h).json()["items"][0]
        rm = client.get(f"{V1}/rooms", params={"campus": site, "storey": st["id"]}, headers=h).json()[
            "items"
        ][0]
        dev = client.get(f"{V1}/devices", params={"campus": site}, headers=h).json()["items"][0]
        out[site] = {
            "campus": site,
            "building": b["id"],
            "storey": st["id"],
            "room": rm["id"],
            "device": dev["id"],
            "point": dev["points"][0],
        }
    return out


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _value(name: str, site_ids: dict[str, str]) -> str:
    kind = PARAMS.get(name, name)
    return site_ids[kind]


def _body(client: TestClient, op: dict[str, Any], site_ids: dict[str, str]) -> dict[str, Any] | None:
    ref = (
        op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    )
    if not ref:
        return None
    schema = client.app.openapi()["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[attr-defined]
    body: dict[str, Any] = {}
    for name in schema.get("required", []):
        if name in PARAMS or name in QUALIFIED:
            body[name] = _value(name, site_ids)
        elif name == "quantity":
            body[name] = "co2"
        elif name == "start":
            body[name] = "2026-11-23T09:00:00+08:00"
        else:
            body[name] = "x"
    return body


def _call(
    client: TestClient, method: str, path: str, op: dict[str, Any], who: str, site_ids: dict[str, str]
) -> int:
    url = path
    query: dict[str, str] = {}
    for p in op.get("parameters", []):
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", _value(p["name"], site_ids))
        elif p["in"] == "query" and p.get("required"):
            query[p["name"]] = "co2" if p["name"] == "quantity" else _value(p["name"], site_ids)
    r = client.request(method, url, headers=_hdr(who), params=query, json=_body(client, op, site_ids))
    return r.status_code


def test_every_id_parameter_is_scoped(client: TestClient) -> None:
    """A route taking an id the scope check cannot place would skip it: refuse such a route."""
    for method, path, op in _operations(client):
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        unknown = names - set(PARAMS) - QUALIFIED
        assert not unknown, f"{method} {path}: id parameter(s) {unknown} unknown to api/scope.py PARAMS"
        if names & QUALIFIED:
            assert names & {"site", "campus_id"}, f"{method} {path}: a device/point id needs its site"


def test_school_token_gets_404_for_every_route_naming_another_campus(
    client: TestClient, ids: dict[str, dict[str, str]]
) -> None:
    checked = 0
    for method, path, op in _operations(client):
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        body = _body(client, op, ids[B])
        if not (names & set(PARAMS)) and not (body and set(body) & set(PARAMS)):
            continue
        needs_admin = method != "GET" or "admin" in op.get("tags", [])
        for who in SCHOOL:
            got = _call(client, method, path, op, who, ids[B])
            if needs_admin and who == "a-viewer":
                assert got == 403, f"{who} {method} {path}: {got}"
            else:
                assert got == 404, f"{who} {method} {path} on {B}: {got}, expected 404"
            checked += 1
        if method == "GET":  # the same route on its own campus, and district on the other, works
            school, whole = ("a-admin", "district-admin") if needs_admin else ("a-viewer", "district-viewer")
            assert _call(client, method, path, op, school, ids[A]) == 200, f"{method} {path} own"
            assert _call(client, method, path, op, whole, ids[B]) == 200, f"{method} {path}"
    assert checked >= 12


@pytest.mark.parametrize("who", [*SCHOOL, "district-viewer", "district-admin"])
def test_every_list_shows_only_the_callers_campuses(
    client: TestClient, ids: dict[str, dict[str, str]], who: str
) -> None:
    listed = 0
    for method, path, op in _operations(client):
        if method != "GET" or "{" in path:
            continue
        r = client.get(path, headers=_hdr(who), params={"limit": 1000} if "limit" in str(op) else None)
        if r.status_code == 403 and TOKENS[who][1] == "viewer" and "admin" in op.get("tags", []):
            continue  # an admin list: the role check comes first (the admin identities list it)
        assert r.status_code == 200, f"{path}: {r.status_code}"
        body = r.json()
        items = body["items"] if isinstance(body, dict) and "items" in body else body
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            continue
        keys = set(items[0])
        if not keys & {"campus", "site", "room"} and path != f"{V1}/campuses":
            continue  # not campus data (quantities)
        seen = set()
        for it in items:
            seen.add(it.get("campus") or it.get("site") or (it["id"] if path.endswith("/campuses") else None))
        seen.discard(None)
        if who in SCHOOL:
            assert seen <= {A}, f"{who} {path} lists {seen}"
        elif path.endswith(("/campuses", "/rooms", "/devices", "/storeys", "/buildings")):
            assert seen == {A, B}, f"{who} {path} lists {seen}"
        listed += 1
        # a filter naming the other campus is the same 404 as an unknown campus
        if who in SCHOOL and any(p["name"] == "campus" for p in op.get("parameters", [])):
            assert client.get(path, headers=_hdr(who), params={"campus": B}).status_code == 404, path
    assert listed >= 6


def test_a_session_carries_its_tokens_scope(
    district: Path, client: TestClient, ids: dict[str, dict[str, str]]
) -> None:
    app = client.app
    with TestClient(app) as browser:  # type: ignore[arg-type]
        r = browser.post(f"{V1}/session", json={"token": TOKENS["a-viewer"][0]})
        assert r.status_code == 200 and r.json()["campuses"] == [A]
        assert browser.get(f"{V1}/rooms/{ids[A]['room']}/status").status_code == 200
        assert browser.get(f"{V1}/rooms/{ids[B]['room']}/status").status_code == 404
        assert browser.get(f"{V1}/storeys/{ids[B]['storey']}/live").status_code == 404  # the plan's poll
        assert {c["id"] for c in browser.get(f"{V1}/campuses").json()["items"]} == {A}
    r = client.get(f"{V1}/session", headers=_hdr("district-viewer"))
    assert r.json()["campuses"] is None  # a token written before scopes: the whole district


def test_out_of_scope_and_unknown_ids_answer_alike(
    client: TestClient, ids: dict[str, dict[str, str]]
) -> None:
    other = client.get(f"{V1}/rooms/{ids[B]['room']}", headers=_hdr("a-viewer"))
    none = client.get(f"{V1}/rooms/0000000000000000000000", headers=_hdr("a-viewer"))
    assert other.status_code == none.status_code == 404
    assert other.json()["error"] == none.json()["error"]
    assert "not found" in other.json()["detail"]


def test_school_admin_cannot_run_district_wide_writes(client: TestClient) -> None:
    r = client.post(f"{V1}/admin/reload", headers=_hdr("a-admin"))
    assert r.status_code == 403 and "district" in r.json()["detail"]
    # a write naming a place that does not exist is the route's 404, not a district refusal
    r = client.post(
        f"{V1}/alerts/acks",
        headers=_hdr("a-admin"),
        json={
            "room": "no-such-room",
            "quantity": "co2",
            "device": "d",
            "point": "p",
            "start": "2026-11-23T09:00:00+08:00",
        },
    )
    assert r.status_code == 404


def test_audit_log_names_who_changed_what(
    client: TestClient, ids: dict[str, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="campus_twin.audit")
    body = {
        "room": ids[A]["room"],
        "quantity": "co2",
        "device": ids[A]["device"],
        "point": ids[A]["point"],
        "start": "2026-11-23T09:00:00+08:00",
        "note": "window opened",
    }
    assert client.post(f"{V1}/alerts/acks", headers=_hdr("a-admin"), json=body).status_code == 200
    assert (
        client.post(
            f"{V1}/alerts/acks", headers=_hdr("a-admin"), json={**body, "room": ids[B]["room"]}
        ).status_code
        == 404
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "campus_twin.audit"]
    assert any(
        "who=a-admin role=admin scope=school-a POST /api/v1/alerts/acks -> 200" in ln for ln in lines
    ), lines
    assert any("-> 404" in ln for ln in lines), lines  # the refused attempt is recorded too
    # the acknowledgement list of each school holds only its own
    assert all(
        a["room"] != ids[B]["room"] for a in client.get(f"{V1}/alerts/acks", headers=_hdr("a-viewer")).json()
    )


def test_token_add_with_campuses_and_list(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from api.auth import file_records

    f = tmp_path / "tokens.yaml"
    now = datetime.now(UTC)
    add(f, "a-desk", Role.VIEWER, None, now, [A, B, A])
    add(f, "district", Role.ADMIN, None, now)
    recs = {r.principal.name: r.principal for r in file_records(f)}
    assert recs["a-desk"].campuses == frozenset({A, B}) and recs["district"].campuses is None
    rows = listing(f, now)
    assert rows[0].endswith(f"campuses {A},{B}") and rows[1].endswith("district 全区")


# ------------------------------------------------------------------ rate limit on failed auth
def test_wrong_tokens_then_the_right_one_is_429_with_retry_after(
    district: Path, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(district), store=client.app.state.campus.store, clock=FixedClock())  # type: ignore[attr-defined]
    caplog.set_level(logging.WARNING, logger="campus_twin.api.auth")
    with TestClient(app) as c:
        for i in range(10):
            r = c.get(f"{V1}/campuses", headers={"Authorization": f"Bearer wrong-token-{i:020d}"})
            assert r.status_code == 401
        right = c.get(f"{V1}/campuses", headers=_hdr("a-viewer"))
        assert right.status_code == 429 and 1 <= int(right.headers["retry-after"]) <= 300
        assert right.json()["error"] == "too_many_requests"
        signin = c.post(f"{V1}/session", json={"token": TOKENS["a-viewer"][0]})
        assert signin.status_code == 429 and "retry-after" in signin.headers
        assert c.get(f"{V1}/health").status_code == 200  # nothing else is refused
    assert any("rate limit" in r.getMessage() and "testclient" in r.getMessage() for r in caplog.records)


def test_failure_limiter_window_and_bounded_memory() -> None:
    now = [0.0]
    lim = FailureLimiter(max_failures=3, window_s=60, max_clients=100, clock=lambda: now[0])
    for _ in range(3):
        lim.fail("10.0.0.1")
    assert lim.retry_after("10.0.0.1") == 60 and lim.retry_after("10.0.0.2") is None
    now[0] = 59.5
    assert lim.retry_after("10.0.0.1") == 1
    now[0] = 60.0  # the failures left the window
    assert lim.retry_after("10.0.0.1") is None
    for i in range(1000):  # an address sweep cannot grow memory past max_clients
        lim.fail(f"10.1.{i // 256}.{i % 256}")
    assert len(lim) == 100
