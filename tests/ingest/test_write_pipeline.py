"""Several store writes in flight, acks in arrival order: a batch whose write finishes first is
acked only after every earlier batch's write succeeded (the broker redelivers the rest)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from contract.telemetry import topic
from ingest.config import BatchConfig, BrokerConfig
from ingest.consumer import Consumer
from ingest.enrich import BindingWatcher
from ingest.metrics import IngestMetrics
from ingest.pipeline import Decoded, Incoming
from ops.quarantine import Quarantine
from store.base import RoomTagMap, RowGroup
from store.sqlite import SQLiteStore
from tests.ingest.ingest_helpers import payload
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
