"""Agent health from the agents' retained status/health topics on a real Mosquitto."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient

from api.app import create_app
from campus_twin.servers import Mosquitto
from contract.telemetry import HealthReport, Status, encode_status, topic
from store.sqlite import SQLiteStore
from tests.api.api_seed import NOW_NS, VIEWER_TOKEN, FixedClock, make_settings
from tests.support.waiting import wait_until


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
        twin_dir, agent_health={"type": "mqtt", "host": mosquitto.host, "port": mosquitto.port}
    )
    app = create_app(settings, store=sqlite_store, clock=FixedClock())
    headers = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    with TestClient(app) as c:
        agents: dict[str, dict[str, object]] = {}

        def retained_seen() -> bool:
            agents.clear()
            agents.update({a["id"]: a for a in c.get("/api/v1/agents", headers=headers).json()["items"]})
            return (
                agents.get("gw-A", {}).get("queue_depth") == 42
                and agents.get("gw-B", {}).get("state") == "offline"
            )

        wait_until(retained_seen, 10, "the retained status of gw-A and gw-B", every=0.1)
    a = agents["gw-A"]
    assert a["state"] == "online" and a["queue_depth"] == 42 and a["dropped_total"] == 3
    assert a["quarantined_total"] == 1 and a["last_seen"] is not None and a["devices"] > 0
    assert agents["gw-B"]["state"] == "offline"
    assert "gw-C" not in agents  # an undecodable status is rejected, not shown
    assert app.state.campus.agent_health.rejected >= 1


def test_the_book_keeps_the_newest_status_and_rejects_mismatched_topics() -> None:
    """Retained messages can arrive out of order (reconnects): an older status never wins."""
    from api.agent_health import AgentHealthBook

    book = AgentHealthBook()
    site = "sz-demo-school"
    online = Status(site=site, agent="gw-A", state="online", ts=NOW_NS, version="0.1.0")
    older = Status(site=site, agent="gw-A", state="offline", ts=NOW_NS - 1)
    book.observe(topic(site, "gw-A", "status"), encode_status(online))
    book.observe(topic(site, "gw-A", "status"), encode_status(older))
    book.observe(topic(site, "gw-X", "status"), encode_status(online))  # topic names another agent
    (seen,) = book.agents()
    assert (seen.agent, seen.state, seen.status_ts) == ("gw-A", "online", NOW_NS)
    assert book.rejected == 1
