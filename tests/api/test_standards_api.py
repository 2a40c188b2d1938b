"""The API's standards views (owned by the standards engine): every room of a storey plan has
a status and the reason for it, the room status lists its breaches, alerts are episodes."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.api.api_seed import DARK_ROOM, HOT_ROOM

V1 = "/api/v1"
STATUSES = {"compliant", "non_compliant", "not_applicable", "insufficient_data", "no_sensor"}


def _rooms(client: TestClient, viewer: dict[str, str]) -> dict[str, dict[str, object]]:
    items = client.get(f"{V1}/rooms", headers=viewer, params={"limit": 1000}).json()["items"]
    return {r["number"]: r for r in items}


def test_storey_plan_says_status_and_why_for_every_room(client: TestClient, viewer: dict[str, str]) -> None:
    rooms = _rooms(client, viewer)
    storey = rooms[HOT_ROOM]["storey"]
    live = client.get(f"{V1}/storeys/{storey}/live", headers=viewer).json()
    by_id = {r["id"]: r for r in live["rooms"]}
    hot = by_id[rooms[HOT_ROOM]["id"]]
    # the worst breach in words (relative to its limit), citing the standard
    assert hot["status"] == "non_compliant" and " > " in hot["reason"]["zh"] and "GB" in hot["reason"]["zh"]
    for r in live["rooms"]:
        assert r["status"] in STATUSES
        if r["status"] != "compliant":  # every grey or red room says why
            assert r["reason"] and r["reason"]["zh"] and r["reason"]["en"], r
    assert live["limit"] is None  # coloured by compliance: no ramp, no limit
    co2 = client.get(f"{V1}/storeys/{storey}/live", headers=viewer, params={"quantity": "co2"}).json()
    assert co2["unit"] == "ppm" and co2["limit"] == 1000  # the UI's only source of the ramp's mark
    by_q = {
        q: client.get(f"{V1}/storeys/{storey}/live", headers=viewer, params={"quantity": q}).json()["limit"]
        for q in ("illuminance", "temperature", "humidity")
    }
    # the desk plane's 300 lx; November is summer in the default 夏热冬暖 zone
    assert by_q == {"illuminance": 300, "temperature": [22, 28], "humidity": [40, 80]}
    hot = next(r for r in co2["rooms"] if r["id"] == rooms[HOT_ROOM]["id"])
    assert hot["value"] > 1000 and hot["status"] == "non_compliant"


def test_room_status_breaches_and_verdict_shares(client: TestClient, viewer: dict[str, str]) -> None:
    rid = _rooms(client, viewer)[DARK_ROOM]["id"]
    s = client.get(f"{V1}/rooms/{rid}/status", headers=viewer).json()
    desk = next(v for v in s["verdicts"] if v["rule"] == "gb7793-desk-illuminance")
    assert desk["status"] == "non_compliant" and desk["measured"] == 120 and desk["limit"] == 300
    assert desk["reason"]["en"].startswith("Illuminance 120 lx < 300 lx")
    assert {"rule": "gb7793-desk-illuminance", "measured": 120.0}.items() <= next(
        b for b in s["breaches"] if b["rule"] == "gb7793-desk-illuminance"
    ).items()
    assert all(v["status"] in STATUSES for v in s["verdicts"])
    board = next(v for v in s["verdicts"] if v["rule"] == "gb7793-blackboard-illuminance")
    assert board["status"] == "no_sensor" and board["reason"]["en"] == "no sensor of that role"


def test_alerts_are_episodes_without_duplicates(client: TestClient, viewer: dict[str, str]) -> None:
    a = client.get(f"{V1}/alerts", headers=viewer, params={"limit": 1000}).json()
    keys = [(x["room"], x["quantity"], x["start"]) for x in a["items"]]
    assert keys and len(keys) == len(set(keys))
    for x in a["items"]:
        assert x["rules"] and x["rule"] == x["rules"][0]["rule"] and x["severity"] in ("warning", "severe")
        assert x["start"].endswith("+08:00")  # campus local time


def test_live_state_is_kept_in_memory_with_the_engines_verdicts(client: TestClient) -> None:
    """Every room's live state is refreshed in the background, so a status request only formats;
    the kept states (`twin.live_engine`) are the engine's own (`twin.live.room_states` over the
    whole campus)."""
    from api.state import AppState
    from twin.live import room_states

    state: AppState = client.app.state.campus  # type: ignore[attr-defined]
    live = state.live
    deadline = time.monotonic() + 120
    while live.sweeps < 1 and time.monotonic() < deadline:  # wait on the condition, not a sleep
        time.sleep(0.05)
    assert live.sweeps >= 1, "the live-state refresher never completed a pass"
    kept = live.rooms(state.live_inputs(), list(state.twin.spaces.values()))
    assert set(kept) == set(state.twin.spaces)
    campus = state.loaded.campuses[0]
    direct = room_states(campus, state.binding_index, state.store, state.now_ns(), engine=live.engine)
    for gid, st in direct.items():
        assert kept[gid].status == st.status and kept[gid].reason == st.reason, gid
        assert [(v.rule_id, v.status, v.value) for v in kept[gid].verdicts] == [
            (v.rule_id, v.status, v.value) for v in st.verdicts
        ], gid


def test_alerts_are_built_once_per_filter_and_period(client: TestClient, viewer: dict[str, str]) -> None:
    """Paging through alerts, or thirty viewers opening the page, reuses one build (api/expensive.py)."""
    from api.state import AppState

    state: AppState = client.app.state.campus  # type: ignore[attr-defined]
    state.alerts.clear()
    built = 0
    real_get = state.alerts.get

    async def counting_get(key, build):  # type: ignore[no-untyped-def]
        def counted():  # type: ignore[no-untyped-def]
            nonlocal built
            built += 1
            return build()

        return await real_get(key, counted)

    state.alerts.get = counting_get  # type: ignore[method-assign]
    try:
        first = client.get(f"{V1}/alerts", headers=viewer, params={"limit": 1}).json()
        second = client.get(f"{V1}/alerts", headers=viewer, params={"limit": 1, "offset": 1}).json()
        assert built == 1 and first["total"] == second["total"] >= 2
        client.get(f"{V1}/alerts", headers=viewer, params={"open": True})
        assert built == 2  # another filter is another build
    finally:
        del state.alerts.get
