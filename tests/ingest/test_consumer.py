"""Ingest in-process against a real Mosquitto: validation, quarantine, enrichment, sequence
metrics, agent state, manual acks (SQLite store; InfluxDB in test_ingest_faults.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ingest_helpers import T0, Publisher, S, payload, readings, wait_until

from campus_twin.servers import Mosquitto
from contract.bindings import Binding, BindingTable, RoomTags
from contract.telemetry import HealthReport, SeriesKey, Status, encode_status, topic
from ingest.agent_state import read_agent_states
from ingest.config import BatchConfig, BrokerConfig, IngestConfig, MetricsConfig
from ingest.metrics import render
from ingest.quarantine import read_rejects
from ingest.service import IngestService
from store.config import SqliteStoreConfig
from store.sqlite import SQLiteStore


def binding(site: str, device: str, room: str, room_type: str = "smart_classroom") -> Binding:
    return Binding(
        site=site,
        device=device,
        tags=RoomTags(
            campus=site,
            building="A",
            storey="2F",
            room=f"guid-{room}",
            room_number=room,
            room_type=room_type,
        ),
    )


@pytest.fixture
def service(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Callable[..., IngestService]]:
    made: list[IngestService] = []

    def make(site: str, **kw: object) -> IngestService:
        cfg = IngestConfig(
            broker=BrokerConfig(
                host=mosquitto.host, port=mosquitto.port, client_id=f"ingest-{uuid.uuid4().hex[:8]}"
            ),
            share_group=f"g{uuid.uuid4().hex[:8]}",
            site=site,
            store=SqliteStoreConfig(path=tmp_path / "ts.db"),
            quarantine_dir=tmp_path / "quarantine",
            state_db=tmp_path / "state.db",
            metrics=MetricsConfig(port=0),
            batch=BatchConfig(max_points=500, max_delay_s=0.1),
            **kw,
        )
        svc = IngestService(cfg)
        svc.start()
        assert svc.consumer.wait_ready(10)
        made.append(svc)
        return svc

    yield make
    for s in made:
        if not s.stopped.is_set():
            s.stop()


def site_id() -> str:
    return f"s{uuid.uuid4().hex[:8]}"


def test_published_equals_stored_with_rejects_quarantined(
    service: Callable[..., IngestService], publisher: Publisher, tmp_path: Path
) -> None:
    site = site_id()
    bindings = tmp_path / "bindings.json"
    BindingTable(bindings=[binding(site, "gw-A-d0", "A-201")]).save(bindings)
    svc = service(site, bindings=bindings)
    for seq in range(10):
        for agent in ("gw-A", "gw-B"):
            publisher.publish(topic(site, agent, "telemetry"), payload(site, agent, seq, 30))
    bad_topic = topic(site, "gw-A", "telemetry")
    publisher.publish(bad_topic, b'{"v":1,"site":"x"')  # not JSON
    unit_bad = payload(site, "gw-A", 99, 3).replace(b'"ppm"', b'"%"')
    publisher.publish(bad_topic, unit_bad)
    publisher.publish(topic(site, "gw-C", "telemetry"), payload(site, "gw-A", 50, 2))  # origin mismatch
    store = svc.store
    assert isinstance(store, SQLiteStore)
    wait_until(lambda: store.count() == 600, 20, "600 points stored")
    wait_until(lambda: svc.quarantine.total["payload"] == 3, 10, "3 rejects")
    # every published reading is stored with its exact value, time and quality
    stored = 0
    for seq in range(10):
        for agent in ("gw-A", "gw-B"):
            for r in readings(site, agent, seq, 30):
                got = store.range(r.series_key, r.ts, r.ts + 1)
                assert [(w.start, w.value) for w in got] == [(r.ts, r.value)]
                stored += 1
    assert stored == store.count()
    # room tags from the binding table; unbound devices have none
    latest = store.latest()
    assert latest[SeriesKey(site, "gw-A-d0", "co2")].tags["room_number"] == "A-201"
    assert latest[SeriesKey(site, "gw-A-d1", "temperature")].tags == {}
    # quarantine on disk names topic and reason
    rejects = list(read_rejects(tmp_path / "quarantine"))
    reasons = {r.reason for r in rejects}
    assert {r.topic for r in rejects} == {bad_topic, topic(site, "gw-C", "telemetry")}
    assert any("not valid JSON" in x for x in reasons)
    assert any("field 'r[0]': Value error, unit '%' is not the canonical 'ppm'" in x for x in reasons)
    assert any("payload is from" in x for x in reasons)
    text = render(svc.metrics.samples())
    assert 'campus_ingest_rejected_messages_total{reason="contract"} 2' in text
    assert 'campus_ingest_rejected_messages_total{reason="origin"} 1' in text
    assert "campus_ingest_points_written_total 600" in text


def test_sequence_gaps_duplicates_and_agent_state(
    service: Callable[..., IngestService], publisher: Publisher, tmp_path: Path
) -> None:
    site = site_id()
    svc = service(site)
    t = topic(site, "gw-A", "telemetry")
    for seq in (0, 1, 3, 1):
        publisher.publish(t, payload(site, "gw-A", seq, 2))
    health = Status(
        site=site,
        agent="gw-A",
        state="health",
        ts=T0,
        health=HealthReport(queue_depth=17, dropped_total=2, devices={"d0": {"polls_ok": 5}}),
    )
    publisher.publish(topic(site, "gw-A", "health"), encode_status(health))
    publisher.publish(
        topic(site, "gw-A", "status"),
        encode_status(Status(site=site, agent="gw-A", state="online", ts=T0, version="0.1.0")),
    )
    # an older status arriving later does not win
    publisher.publish(
        topic(site, "gw-A", "status"),
        encode_status(Status(site=site, agent="gw-A", state="offline", ts=T0 - S)),
    )

    def text() -> str:
        return render(svc.metrics.samples())

    wait_until(lambda: 'campus_ingest_messages_total{kind="status"} 2' in text(), 10, "status handled")
    wait_until(lambda: 'campus_ingest_messages_total{kind="telemetry"} 4' in text(), 10, "4 batches")
    m = text()
    assert "campus_ingest_seq_gaps_total 1" in m and "campus_ingest_seq_duplicates_total 1" in m
    assert f'campus_ingest_seq_open_gaps{{site="{site}",agent="gw-A"}} 1' in m
    publisher.publish(t, payload(site, "gw-A", 2, 2))  # the late batch closes the gap
    wait_until(
        lambda: f'campus_ingest_seq_open_gaps{{site="{site}",agent="gw-A"}} 0' in text(), 10, "gap closed"
    )
    (state,) = [a for a in read_agent_states(tmp_path / "state.db") if a.site == site]
    assert (state.state, state.version, state.queue_depth, state.dropped_total) == ("online", "0.1.0", 17, 2)
    assert state.last_seq == 3 and state.open_gaps == 0 and state.duplicates_total == 1
    assert state.health and state.health["devices"] == {"d0": {"polls_ok": 5}}
    assert svc.store.count() == 8  # type: ignore[attr-defined]


def test_binding_table_reload_on_change_and_sighup(
    service: Callable[..., IngestService], publisher: Publisher, tmp_path: Path
) -> None:
    site = site_id()
    path = tmp_path / "bindings.json"
    svc = service(site, bindings=path, bindings_check_s=0.05)  # file appears later
    key = SeriesKey(site, "gw-A-d0", "co2")
    store = svc.store

    def room_after(seq: int) -> str | None:
        publisher.publish(topic(site, "gw-A", "telemetry"), payload(site, "gw-A", seq, 1))
        wait_until(
            lambda: store.latest([key]).get(key) is not None and store.latest([key])[key].ts == T0 + seq * S,
            10,
            f"seq {seq}",
        )
        return store.latest([key])[key].tags.get("room_number")

    assert room_after(0) is None
    BindingTable(bindings=[binding(site, "gw-A-d0", "A-201")]).save(path)
    time.sleep(0.1)
    assert room_after(1) == "A-201"
    path.write_text("{not json")  # a broken export keeps the previous table
    time.sleep(0.1)
    assert room_after(2) == "A-201"
    assert svc.bindings.errors_total == 1
    BindingTable(bindings=[binding(site, "gw-A-d0", "A-305", "physics_lab")]).save(path)
    svc.bindings.request_reload()  # what SIGHUP does
    assert room_after(3) == "A-305"
    assert store.latest([key])[key].tags["room_type"] == "physics_lab"
    assert json.loads(path.read_text())["bindings"][0]["device"] == "gw-A-d0"
