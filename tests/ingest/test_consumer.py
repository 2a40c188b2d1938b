"""Ingest in-process against a real Mosquitto: validation, quarantine, enrichment, sequence
metrics, agent state, manual acks (SQLite store; InfluxDB in test_ingest_faults.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto
from contract.bindings import Binding, BindingTable, RoomTags
from contract.telemetry import HealthReport, SeriesKey, Status, encode_status, topic
from ingest.config import BatchConfig, BrokerConfig, IngestConfig
from ingest.service import IngestService
from ops.metrics import MetricsListen, exposition
from ops.quarantine import Quarantine, QuarantineConfig
from store.config import SqliteStoreConfig
from store.sqlite import SQLiteStore
from tests.ingest.ingest_helpers import T0, S, payload, readings
from tests.support.metrics import key, parse_metrics
from tests.support.mqtt import Publisher
from tests.support.waiting import wait_until


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
            quarantine=QuarantineConfig(path=tmp_path / "quarantine.sqlite"),
            metrics=MetricsListen(listen="127.0.0.1:0"),
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
    wait_until(lambda: svc.quarantine.counts().get("payload") == 3, 10, "3 rejects")
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
    rejects = Quarantine(tmp_path / "quarantine.sqlite", readonly=True).records()
    reasons = {r.reason for r in rejects}
    assert {r.topic for r in rejects} == {bad_topic, topic(site, "gw-C", "telemetry")}
    assert any("not valid JSON" in x for x in reasons)
    assert any("field 'r[0]': Value error, unit '%' is not the canonical 'ppm'" in x for x in reasons)
    assert any("payload is from" in x for x in reasons)
    m = parse_metrics(exposition(svc.registry).decode())
    assert m['campus_ingest_rejected_messages_total{reason="contract"}'] == 2
    assert m['campus_ingest_rejected_messages_total{reason="origin"}'] == 1
    assert m["campus_ingest_points_written_total"] == 600


def test_sequence_gaps_duplicates_and_status_messages(
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

    def metrics() -> dict[str, float]:
        return parse_metrics(exposition(svc.registry).decode())

    agent = key("", site=site, agent="gw-A")  # the label part of a sample key
    wait_until(
        lambda: metrics().get('campus_ingest_messages_total{kind="status"}') == 2, 10, "status handled"
    )
    wait_until(
        lambda: metrics().get('campus_ingest_messages_total{kind="health"}') == 1, 10, "health handled"
    )
    wait_until(lambda: metrics().get('campus_ingest_messages_total{kind="telemetry"}') == 4, 10, "4 batches")
    m = metrics()
    assert m["campus_ingest_seq_gaps_total"] == 1 and m["campus_ingest_seq_duplicates_total"] == 1
    assert m[f"campus_ingest_seq_open_gaps{agent}"] == 1 and m[f"campus_ingest_seq_highest{agent}"] == 3
    assert m[f"campus_ingest_agent_duplicate_batches_total{agent}"] == 1
    publisher.publish(t, payload(site, "gw-A", 2, 2))  # the late batch closes the gap
    wait_until(lambda: metrics().get(f"campus_ingest_seq_open_gaps{agent}") == 0, 10, "gap closed")
    # status/health are the API's business (retained topics, api/agent_health.py): ingest only
    # counts them and stores no agent state of its own
    assert svc.store.count() == 8  # type: ignore[attr-defined]


def test_binding_table_reload_on_change_and_sighup(
    service: Callable[..., IngestService], publisher: Publisher, tmp_path: Path
) -> None:
    site = site_id()
    path = tmp_path / "bindings.json"
    svc = service(site, bindings=path, bindings_check_s=0.05)  # file appears later
    key = SeriesKey(site, "gw-A-d0", "co2")
    store = svc.store

    sent = [-1]

    def room_now() -> str | None:
        """Publish the next batch, wait until it is stored, return the room it was tagged with."""
        seq = sent[0] = sent[0] + 1
        publisher.publish(topic(site, "gw-A", "telemetry"), payload(site, "gw-A", seq, 1))
        wait_until(
            lambda: store.latest([key]).get(key) is not None and store.latest([key])[key].ts == T0 + seq * S,
            10,
            f"seq {seq}",
        )
        return store.latest([key])[key].tags.get("room_number")

    def broken_table_seen() -> bool:
        assert room_now() == "A-201"  # a broken export keeps the previous table
        return svc.bindings.errors_total >= 1

    assert room_now() is None
    BindingTable(bindings=[binding(site, "gw-A-d0", "A-201")]).save(path)
    # the watcher looks at the file's mtime at most every 0.05 s, on the next batch
    wait_until(lambda: room_now() == "A-201", 10, "the new table applied")
    path.write_text("{not json")
    wait_until(broken_table_seen, 10, "the broken table rejected")
    assert svc.bindings.errors_total == 1
    BindingTable(bindings=[binding(site, "gw-A-d0", "A-305", "physics_lab")]).save(path)
    svc.bindings.request_reload()  # what SIGHUP does: applied on the very next batch
    assert room_now() == "A-305"
    assert store.latest([key])[key].tags["room_type"] == "physics_lab"
    assert json.loads(path.read_text())["bindings"][0]["device"] == "gw-A-d0"
