"""The provisionable Grafana dashboard's InfluxQL runs on a real InfluxDB against our schema."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from campus_twin.servers import InfluxDB
from contract.telemetry import SeriesKey
from store.base import StoredPoint
from store.influx_v1 import InfluxV1Store

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "campus-rooms-influxql.json"
T0 = 1_763_884_800 * 1_000_000_000
ROOM = {
    "campus": "sz-01",
    "building": "A",
    "storey": "2F",
    "room": "g1",
    "room_number": "A-201",
    "room_type": "smart_classroom",
}


def substitute(q: str) -> str:
    for name, value in (("campus", "sz-01"), ("building", "A"), ("storey", "2F"), ("room", "A-201")):
        q = q.replace(f"/^${name}$/", f"/^{value}$/")
    return q.replace("$timeFilter", f"time >= {T0 - 10**12} AND time < {T0 + 10**12}").replace(
        "$__interval", "1m"
    )


def test_dashboard_queries_return_our_data(influxdb: InfluxDB) -> None:
    store = InfluxV1Store(influxdb.url, f"g_{uuid.uuid4().hex[:8]}", create_database=True)
    try:
        points = []
        for q, unit, v in (("co2", "ppm", 812.0), ("temperature", "°C", 24.5), ("humidity", "%RH", 50.0)):
            key = SeriesKey("sz-01", f"A-201-{q}", q)
            points.append(StoredPoint(key, T0, v, q, unit, agent="gw-A", tags=ROOM))
        points.append(
            StoredPoint(
                SeriesKey("sz-01", "A-201-x", "co2"), T0, None, "co2", "ppm", "bad", "timeout", tags=ROOM
            )
        )
        store.write(points)
        dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
        variables = [v for v in dash["templating"]["list"] if v["type"] == "query"]
        assert [v["name"] for v in variables] == ["campus", "building", "storey", "room"]
        for v in variables:
            values = [row[1] for s in store.query(substitute(v["query"])) for row in s["values"]]
            assert values, v["query"]
        results = {}
        for p in dash["panels"]:
            for t in p["targets"]:
                results[p["id"]] = store.query(substitute(t["query"]))
        assert results[1][0]["values"][0][1] == 812.0 and results[1][0]["tags"] == {"room_number": "A-201"}
        assert results[2][0]["values"][0][1] == 24.5
        assert results[7][0]["values"][0][1] == 812.0
        assert results[8][0]["values"][0][1] == 1 and results[8][0]["tags"]["device"] == "A-201-x"
    finally:
        store.query(f'DROP DATABASE "{store.database}"')
        store.close()
