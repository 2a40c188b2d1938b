"""Agent health from the agents' retained status/health topics on a real Mosquitto."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
from api_seed import NOW_NS, VIEWER_TOKEN, FixedClock, make_settings
from fastapi.testclient import TestClient

from api.app import create_app
from campus_twin.servers import Mosquitto
from contract.telemetry import HealthReport, Status, encode_status, topic
from store.sqlite import SQLiteStore


def _publish_retained(broker: Mosquitto) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.connect(broker.host, broker.port)
    c.loop_start()
    site = "sz-demo-school"
    msgs = [
        (topic(site, "gw-A", "status"), Status(site=site, agent="gw-A", state="online", ts=NOW_NS)),
        (
            topic(site, "gw-A", "health"),
            Status(
                site=site,
                agent="gw-A",
                state="health",
                ts=NOW_NS + 1,
                health=HealthReport(queue_depth=42, dropped_total=3, quarantined_total=1),
            ),
        ),
        (topic(site, "gw-B", "status"), Status(site=site, agent="gw-B", state="offline", ts=NOW_NS)),
    ]
    for t, st in msgs:
        c.publish(t, encode_status(st), qos=1, retain=True).wait_for_publish(5)
    c.publish(topic(site, "gw-C", "status"), b"{not json", qos=1, retain=True).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def test_agents_show_queue_depth_drops_and_state(
    mosquitto: Mosquitto, twin_dir: Path, sqlite_store: SQLiteStore
) -> None:
    _publish_retained(mosquitto)
    settings = make_settings(
        twin_dir, agent_health={"kind": "mqtt", "host": mosquitto.host, "port": mosquitto.port}
    )
    app = create_app(settings, store=sqlite_store, clock=FixedClock())
    headers = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    with TestClient(app) as c:
        deadline = time.monotonic() + 10
        agents: dict[str, dict[str, object]] = {}
        while time.monotonic() < deadline:
            agents = {a["id"]: a for a in c.get("/api/v1/agents", headers=headers).json()["items"]}
            if (
                agents.get("gw-A", {}).get("queue_depth") == 42
                and agents.get("gw-B", {}).get("state") == "offline"
            ):
                break
            time.sleep(0.1)
    a = agents["gw-A"]
    assert a["state"] == "online" and a["queue_depth"] == 42 and a["dropped_total"] == 3
    assert a["quarantined_total"] == 1 and a["last_seen"] is not None and a["devices"] > 0
    assert agents["gw-B"]["state"] == "offline"
    assert "gw-C" not in agents  # an undecodable status is rejected, not shown
    assert app.state.campus.agent_health.rejected >= 1
