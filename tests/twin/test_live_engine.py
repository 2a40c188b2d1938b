"""The twin's kept live state (`twin.live_engine`): what the API asks for rooms, storeys, a
campus and alerts, answered over a real SQLite store without the API."""

from __future__ import annotations

from typing import Any

from contract.bindings import BindingIndex
from contract.telemetry import SeriesKey
from store.base import Store
from tests.twin.test_live import NOW, bindings, campus, store  # noqa: F401 (the store fixture)
from twin.index import TwinIndex
from twin.live import bound_series, room_states
from twin.live_engine import LiveEngine, LiveInputs
from twin.standards.evaluator import Status

HOUR_NS = 3600 * 10**9


def _inputs(st: Store) -> LiveInputs:
    c = campus()
    return LiveInputs(
        TwinIndex.build([c]), bound_series(c, bindings(), st.series()), BindingIndex(bindings()), NOW
    )


def test_rooms_are_the_engines_states_and_kept(store: Store) -> None:  # noqa: F811
    live = LiveEngine(store, cache_s=60)
    inputs = _inputs(store)
    places = list(inputs.twin.spaces.values())
    got = live.rooms(inputs, places)
    direct = room_states(campus(), bindings(), store, NOW, engine=live.engine)
    assert {g: s.to_dict() for g, s in got.items()} == {g: s.to_dict() for g, s in direct.items()}
    reads: list[Any] = []
    real_latest = store.latest

    def counting_latest(keys: list[SeriesKey] | None = None) -> Any:
        reads.append(keys)
        return real_latest(keys)

    store.latest = counting_latest  # type: ignore[method-assign]
    assert live.rooms(inputs, places) == got and reads == []  # kept: no store read
    live.clear()
    live.rooms(inputs, places)
    assert len(reads) == 1  # one `latest` query for the whole set


def test_storey_campus_and_alerts(store: Store) -> None:  # noqa: F811
    live = LiveEngine(store, cache_s=60)
    inputs = _inputs(store)
    storey = live.storey(inputs, "S1", "co2")
    assert [r.global_id for r in storey.rooms] == ["R1", "R2", "R3", "R4"] and storey.limit == 1000
    assert live.storey(inputs, "S1").limit is None
    # R1's CO₂ has been 1200 ppm for the last hour: one open alert, both CO₂ rules named
    alerts = live.alerts(inputs, list(inputs.twin.spaces.values()), NOW - 24 * HOUR_NS, NOW)
    r1 = [a for a in alerts if a.place.space.global_id == "R1" and a.episode.quantity == "co2"]
    assert len(r1) == 1 and r1[0].episode.end is None and r1[0].device == "A-101-air"
    assert "gbt18883-co2-1h" in {r.id for r in r1[0].rules}
    assert [a.start for a in alerts] == sorted((a.start for a in alerts), reverse=True)
    state = live.campus(inputs, campus().id, NOW - 24 * HOUR_NS, max_alert_rooms=500)
    assert state.storeys == {"S1": [r.status for r in storey.rooms]}
    assert Status.NON_COMPLIANT in state.storeys["S1"]
    open_now = [a for a in alerts if a.episode.end is None and a.place.storey is not None]
    assert state.open_alerts == {"S1": len(open_now)}
    # more rooms with data than one alerts build covers: not counted, not guessed
    assert live.campus(inputs, campus().id, NOW - 24 * HOUR_NS, max_alert_rooms=1).open_alerts is None
