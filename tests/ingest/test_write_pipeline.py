"""Several store writes in flight, acks in arrival order: a batch whose write finishes first is
acked only after every earlier batch's write succeeded (the broker redelivers the rest)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto
from contract.telemetry import topic
from ingest.config import BatchConfig, BrokerConfig
from ingest.consumer import Consumer
from ingest.enrich import BindingWatcher
from ingest.metrics import IngestMetrics, ingest_registry
from ingest.pipeline import Decoded, Incoming
from ops.metrics import exposition
from ops.quarantine import Quarantine
from store.base import RoomTagMap, RowGroup
from store.sqlite import SQLiteStore
from tests.ingest.ingest_helpers import payload
from tests.support.mqtt import Publisher
from tests.support.waiting import wait_until


class HeldFirstWrite(SQLiteStore):
    """Holds the write of agent gw-0's batch until `release` is set."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.release = threading.Event()
        self.written: list[str] = []

    def write_rows(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> None:
        agent = groups[0][1]
        if agent == "gw-0":
            assert self.release.wait(30)
        super().write_rows(groups, tags)
        self.written.append(agent)


def batch(mid: int, agent: str) -> tuple[list[Incoming], Decoded]:
    msg = Incoming(topic("s1", agent, "telemetry"), payload("s1", agent, mid, 10), mid, 1, 0)
    decoded = Decoded()
    decoded.add(msg, lambda *_k: {})
    return [msg], decoded


def test_out_of_order_writes_ack_in_arrival_order(tmp_path: Path) -> None:
    store = HeldFirstWrite(tmp_path / "ts.db")
    consumer = Consumer(
        BrokerConfig(client_id="pipeline-test"),
        None,
        store,
        Quarantine(tmp_path / "q.db", autoflush=False),
        BindingWatcher(None),
        IngestMetrics(),
        batch=BatchConfig(writers=3),
    )
    acks: list[int] = []
    consumer.client.ack = lambda mid, qos: acks.append(mid)  # type: ignore[method-assign]
    for w in consumer._writers:
        w.start()
    try:
        for seq, agent in enumerate(("gw-0", "gw-1", "gw-2")):
            consumer._ready.put((seq, *batch(seq + 1, agent)))
        wait_until(
            lambda: store.written == ["gw-1", "gw-2"] or store.written == ["gw-2", "gw-1"], 30, "later writes"
        )
        assert acks == []  # written, but the first batch is not: nothing may be acked yet
        store.release.set()
        wait_until(lambda: len(acks) == 3, 30, "acks")
        assert acks == [1, 2, 3] and store.count() == 30
        assert consumer.metrics.points_written_total == 30
    finally:
        store.release.set()
        for _ in consumer._writers:
            consumer._ready.put(None)
        for w in consumer._writers:
            w.join(10)
        store.close()


class HeldWrites(SQLiteStore):
    """Holds every write until `release` is set."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.release = threading.Event()

    def write_rows(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> None:
        assert self.release.wait(30)
        super().write_rows(groups, tags)


@pytest.mark.integration
def test_pending_messages_show_a_broker_window_smaller_than_the_batches(tmp_path: Path) -> None:
    """Mosquitto's default window (20 un-acked QoS 1 messages per client) is below what ingest's
    batches need ((writers + 1) × max_messages): while writes are held, the pending gauge stops
    at exactly the broker's window; once written, every message is acked and it returns to 0."""
    broker = Mosquitto(tmp_path / "mosquitto", max_inflight=20)
    broker.start()
    store = HeldWrites(tmp_path / "ts.db")
    consumer = Consumer(
        BrokerConfig(host=broker.host, port=broker.port, client_id="window-test"),
        "g-window",
        store,
        Quarantine(tmp_path / "q.db"),
        BindingWatcher(None),
        IngestMetrics(),
        batch=BatchConfig(max_messages=100, max_points=100_000, max_delay_s=0.1, writers=2),
    )
    publisher = Publisher(broker, "window-agent")
    try:
        consumer.start()
        assert consumer.wait_ready(15)
        for seq in range(50):
            publisher.publish(topic("s1", "gw-0", "telemetry"), payload("s1", "gw-0", seq, 10))
        wait_until(lambda: consumer.metrics.pending_messages == 20, 30, "the broker's 20 un-acked messages")
        text = exposition(ingest_registry(consumer.metrics)).decode()
        assert "campus_ingest_pending_messages 20.0" in text
        store.release.set()
        wait_until(lambda: store.count() == 500, 30, "all 50 messages written")
        wait_until(lambda: consumer.metrics.pending_messages == 0, 30, "every message acked")
    finally:
        store.release.set()
        publisher.close()
        consumer.stop()
        store.close()
        broker.stop()
