"""Alert acknowledgement: admin only, who/when recorded, joined to /alerts by the episode key,
kept across a restart in `acks_file`."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from store.sqlite import SQLiteStore
from tests.api.api_seed import FixedClock, make_settings

V1 = "/api/v1"


@pytest.mark.slow  # restarts the API over its store
def test_admin_acknowledges_an_episode_and_it_survives_a_restart(
    tmp_path: Path, twin_dir: Path, sqlite_store: SQLiteStore, viewer: dict[str, str], admin: dict[str, str]
) -> None:
    settings = make_settings(twin_dir, acks_file=tmp_path / "acks.json")
    with TestClient(create_app(settings, store=sqlite_store, clock=FixedClock())) as c:
        alert = c.get(f"{V1}/alerts", headers=viewer, params={"open": "true"}).json()["items"][0]
        body = {k: alert[k] for k in ("room", "quantity", "device", "point", "start")}
        denied = c.post(f"{V1}/alerts/acks", headers=viewer, json=body)
        assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
        r = c.post(f"{V1}/alerts/acks", headers=admin, json={**body, "note": "窗已打开 window opened"})
        assert r.status_code == 200, r.text
        assert r.json()["by"] == "ops" and r.json()["at"].endswith("+08:00")
        assert c.post(f"{V1}/alerts/acks", headers=admin, json={**body, "room": "nope"}).status_code == 404
    with TestClient(create_app(settings, store=sqlite_store, clock=FixedClock())) as c:
        acks = c.get(f"{V1}/alerts/acks", headers=viewer).json()
        assert (
            len(acks) == 1
            and acks[0]["room"] == alert["room"]
            and acks[0]["note"] == "窗已打开 window opened"
        )
