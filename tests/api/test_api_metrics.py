"""`GET /metrics` on the API: prometheus_client text, viewer token, handlers (not paths) as labels."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import VERSION
from ops.version import package_version
from tests.support.metrics import key, parse_metrics


def test_metrics_need_a_token_and_count_requests_by_handler(
    client: TestClient, viewer: dict[str, str]
) -> None:
    assert client.get("/metrics").status_code == 401
    for room in ("no-such-room-1", "no-such-room-2"):
        client.get(f"/api/v1/rooms/{room}", headers=viewer)
    client.get("/api/v1/health")
    r = client.get("/metrics", headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = parse_metrics(r.text)
    assert not any("no-such-room" in k for k in m), "raw paths never become labels"
    assert m[key("campus_api_requests_total", method="GET", handler="getHealth", status="200")] >= 1
    assert m[key("campus_api_requests_total", method="GET", handler="getMetrics", status="401")] >= 1
    room = [v for k, v in m.items() if k.startswith("campus_api_requests_total") and 'status="404"' in k]
    assert sum(room) >= 2, "both unknown rooms counted under their handler"
    assert "campus_api_agent_status_rejected_total" in m


def test_one_version_string_everywhere(client: TestClient) -> None:
    assert VERSION == package_version() != "0+unknown"
    assert client.get("/api/v1/health").json()["version"] == package_version()


def test_metrics_count_down_to_the_end_of_each_campus_calendar(
    client: TestClient, viewer: dict[str, str]
) -> None:
    """Every campus's days until its school calendar ends, and whether the 60-day warning is on
    (the shipped calendar ends 2028-08-31)."""
    from datetime import date

    from contract.school_time import CALENDAR_WARN_DAYS

    m = parse_metrics(client.get("/metrics", headers=viewer).text)
    left = {k: v for k, v in m.items() if k.startswith("campus_api_school_calendar_days_left")}
    assert left, "one series per campus"
    today = client.app.state.campus.to_dt(client.app.state.campus.now_ns()).date()  # type: ignore[attr-defined]
    want = (date(2028, 8, 31) - today).days
    assert set(left.values()) == {want}
    ending = {v for k, v in m.items() if k.startswith("campus_api_school_calendar_ending")}
    assert ending == {1 if want <= CALENDAR_WARN_DAYS else 0}
