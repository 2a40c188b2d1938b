"""Injection attempts through every user-controlled parameter, over the real SQLite store and a
real InfluxDB 1.x store: each is answered 4xx (or an empty 200), never 5xx, and the stored
data is intact afterwards. The API never passes a user string to a store query: rooms, devices
and quantities are looked up in the twin/series index and only known SeriesKeys reach the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.state import LoadedTwin
from campus_twin.servers import InfluxDB
from store.base import Store
from store.influx_v1 import InfluxV1Store
from tests.api.api_seed import ADMIN_TOKEN, HOT_ROOM, VIEWER_TOKEN, FixedClock, make_settings, seed_store

V1 = "/api/v1"
PAYLOADS = [
    "' OR '1'='1",
    "x'; DROP TABLE points; --",
    '"; DROP MEASUREMENT co2; --',
    'co2" OR 1=1 --',
    "A-101' UNION SELECT * FROM series --",
    "/.*/",
    "1; DROP DATABASE campus",
    'r["_measurement"] == "co2") |> drop()',
    "$(rm -rf /)",
    "\\x00\u0000nul",
    "../../etc/passwd",
    "%' --",
]


@pytest.fixture(scope="module")
def influx_store(influxdb: InfluxDB, loaded: LoadedTwin) -> Iterator[InfluxV1Store]:
    store = InfluxV1Store(influxdb.url, "campus_api_inj", create_database=True)
    seed_store(store, loaded.campuses[0], hours=3)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("influxdb_v1", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "influx_store")  # type: ignore[no-any-return]


def _fingerprint(store: Store) -> tuple[int, int, float]:
    latest = store.latest()
    return len(store.series()), len(latest), round(sum(p.value or 0.0 for p in latest.values()), 6)


@pytest.mark.slow  # every injection through a whole API over each store
def test_injection_attempts_are_rejected_and_data_survives(twin_dir: Path, store: Store) -> None:
    before = _fingerprint(store)
    assert before[0] > 100
    viewer = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    app = create_app(make_settings(twin_dir), store=store, clock=FixedClock())
    with TestClient(app) as c:
        rooms = c.get(f"{V1}/rooms", headers=viewer, params={"limit": 1000}).json()["items"]
        hot = next(r["id"] for r in rooms if r["number"] == HOT_ROOM)
        statuses = []
        for p in PAYLOADS:
            q = quote(p, safe="")  # as a path segment
            calls = [
                c.get(f"{V1}/rooms/{q}/status", headers=viewer),
                c.get(f"{V1}/rooms/{hot}/history", headers=viewer, params={"quantity": p}),
                c.get(f"{V1}/rooms/{hot}/history", headers=viewer, params={"quantity": "co2", "from": p}),
                c.get(f"{V1}/rooms/{hot}/history", headers=viewer, params={"quantity": "co2", "every": p}),
                c.get(f"{V1}/rooms/{hot}/history", headers=viewer, params={"quantity": "co2", "agg": p}),
                c.get(f"{V1}/rooms", headers=viewer, params={"condition": f"co2>{p}"}),
                c.get(f"{V1}/rooms", headers=viewer, params={"condition": p}),
                c.get(f"{V1}/rooms", headers=viewer, params={"campus": p, "building": p, "type": p}),
                c.get(f"{V1}/devices", headers=viewer, params={"campus": p, "room": p}),
                c.get(f"{V1}/alerts", headers=viewer, params={"campus": p, "quantity": p}),
                c.get(f"{V1}/storeys/{q}/live", headers=viewer, params={"quantity": p}),
                c.put(f"{V1}/admin/bindings/sz-demo-school/{q}", headers=admin, json={"room": p}),
                c.put(f"{V1}/admin/bindings/{q}/A-101-air", headers=admin, json={"room": hot, "point": p}),
            ]
            for r in calls:
                assert r.status_code < 500, (p, r.request.url, r.text)
                statuses.append(r.status_code)
                if r.status_code == 200:  # only the plain filters may answer, and then with nothing
                    assert r.json().get("total", 0) == 0, (p, r.request.url, r.text)
        assert statuses.count(200) < len(statuses) // 2
        # the store still answers real questions with the same data
        ok = c.get(f"{V1}/rooms/{hot}/history", headers=viewer, params={"quantity": "co2", "every": "1h"})
        assert ok.status_code == 200 and ok.json()["series"][0]["points"]
    assert _fingerprint(store) == before
