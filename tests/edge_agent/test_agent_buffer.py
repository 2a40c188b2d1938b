"""The disk queue: seq assigned and persisted before publishing, acks, overflow and expiry counted."""

from __future__ import annotations

import json
from pathlib import Path

from contract.telemetry import Quality, Reading, decode_batch
from edge_agent.buffer import DiskQueue

TS = 1_763_000_000_000_000_000


def readings(n: int, start: int = 0) -> list[Reading]:
    return [
        Reading(
            site="s1",
            agent="gw-A",
            device="A-201-air",
            point="co2",
            quantity="co2",
            value=float(start + i),
            unit="ppm",
            ts=TS + start + i,
        )
        for i in range(n)
    ]


def queue(path: Path, **kw: object) -> DiskQueue:
    args: dict[str, object] = {"max_bytes": 10_000_000, "max_age_s": 3600.0, "overflow": "drop_oldest"}
    args.update(kw)
    return DiskQueue(path, "s1", "gw-A", **args)  # type: ignore[arg-type]


def test_seal_ack_and_order(tmp_path: Path) -> None:
    q = queue(tmp_path / "q.sqlite")
    q.put(readings(120))
    b0, b1, b2 = q.seal(50), q.seal(50), q.seal(50)
    assert b0 and b1 and b2 and q.seal(50) is None
    assert [b0.seq, b1.seq, b2.seq] == [0, 1, 2]
    assert [b0.n, b1.n, b2.n] == [50, 50, 20]
    values = [r.value for b in (b0, b1, b2) for r in decode_batch(b.payload).readings]
    assert values == [float(i) for i in range(120)]
    assert q.stats().depth == 120
    assert q.ack(1) and not q.ack(1)
    assert [b.seq for b in q.unacked()] == [0, 2]
    assert q.stats().depth == 70


def test_unacked_survive_reopen_with_same_seq(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = queue(path)
    q.put(readings(10))
    sealed = q.seal(4)
    assert sealed is not None
    q.close()  # as after a crash: nothing acknowledged
    q = queue(path)
    again = q.unacked()
    assert [(b.seq, b.payload) for b in again] == [(sealed.seq, sealed.payload)]
    assert q.stats().pending_readings == 6
    nxt = q.seal(100)
    assert nxt is not None and nxt.seq == sealed.seq + 1
    q.ack(0)
    q.ack(1)
    q.close()
    q = queue(path)
    assert q.stats().next_seq == 2, "seq continues across restarts even when the queue is empty"


def test_payload_for_send_updates_sent_only(tmp_path: Path) -> None:
    q = queue(tmp_path / "q.sqlite")
    q.put(readings(3))
    b = q.seal(10)
    assert b is not None
    doc = json.loads(b.payload_for_send(b.sent_ns + 5))
    assert doc["sent"] == b.sent_ns + 5
    assert doc["seq"] == b.seq and len(doc["r"]) == 3


def test_drop_oldest_counts_and_keeps_newest(tmp_path: Path) -> None:
    row_bytes = len(json.dumps(["A-201-air", "co2", "co2", 0.0, "ppm", TS, "g"]))
    q = queue(tmp_path / "q.sqlite", max_bytes=100 * row_bytes + 50)
    q.put(readings(100))
    res = q.put(readings(30, start=100))
    assert res.accepted == 30
    assert res.drops.dropped["overflow_oldest"] > 0
    st = q.stats()
    assert st.dropped["overflow_oldest"] == res.drops.dropped["overflow_oldest"]
    assert st.bytes <= q.max_bytes
    b = q.seal(1000)
    assert b is not None
    values = [r.value for r in decode_batch(b.payload).readings]
    assert values[-1] == 129.0 and values == sorted(values)
    assert len(values) + st.dropped_total == 130, "every reading is either kept or counted as dropped"


def test_refuse_newest_counts(tmp_path: Path) -> None:
    row_bytes = len(json.dumps(["A-201-air", "co2", "co2", 0.0, "ppm", TS, "g"]))
    path = tmp_path / "q.sqlite"
    q = queue(path, max_bytes=50 * row_bytes, overflow="refuse_newest")
    q.put(readings(40))
    res = q.put(readings(40, start=40))
    assert res.accepted + res.drops.dropped["overflow_refused"] == 40
    assert res.drops.dropped["overflow_refused"] > 0
    b = q.seal(1000)
    assert b is not None
    values = [r.value for r in decode_batch(b.payload).readings]
    assert values == [float(i) for i in range(40 + res.accepted)], "the oldest are kept"
    q.close()
    assert (
        queue(path, overflow="refuse_newest").stats().dropped["overflow_refused"]
        == res.drops.dropped["overflow_refused"]
    )


def test_expire_by_age_counts(tmp_path: Path) -> None:
    now = [1_000_000_000_000]
    q = DiskQueue(
        tmp_path / "q.sqlite", "s1", "gw-A", 10_000_000, 60.0, "drop_oldest", wall_ns=lambda: now[0]
    )
    q.put(readings(5))
    q.seal(2)
    now[0] += 30 * 10**9
    q.put(readings(3, start=5))
    now[0] += 40 * 10**9  # the first 5 are 70 s old, the last 3 are 40 s old
    drops = q.expire()
    # the 3 pending are lost; the sealed 2 went to the broker, so they are given up, not counted
    assert drops.dropped == {"expired": 3} and drops.given_up == {"expired": 2}
    st = q.stats()
    assert st.dropped["expired"] == 3 and st.depth == 3 and st.sealed_batches == 0
    assert st.given_up_batches == 1
    assert q.next_seq == 1
    q._db.execute("BEGIN")
    assert q.settle_given_up(0, 0) == {0: 2}  # ingest asked for seq 0: now they are lost
    q._db.execute("COMMIT")
    assert q.stats().dropped["expired"] == 5 and q.given_up_batches == 0


def test_a_sent_batch_the_buffer_gives_up_is_counted_only_when_ingest_asks(tmp_path: Path) -> None:
    """A real trial: the broker came back, the backlog went out as sealed batches, and new polls
    overflowed the buffer before the PUBACKs arrived. The batches removed then had reached ingest,
    yet were counted as dropped: the counter claimed losses that never happened."""
    row_bytes = len(json.dumps(["A-201-air", "co2", "co2", 0.0, "ppm", TS, "g"]))
    path = tmp_path / "q.sqlite"
    q = queue(path, max_bytes=40 * row_bytes)
    q.put(readings(30))
    sent = [q.seal(10), q.seal(10), q.seal(10)]  # handed to the uplink, no PUBACK yet
    assert all(sent) and q.pending_readings == 0
    res = q.put(readings(25, start=30))  # needs the room of two sealed batches
    assert res.accepted == 25 and res.drops.dropped == {}
    assert res.drops.given_up == {"overflow_oldest": 20} and q.stats().dropped_total == 0
    assert q.stats().bytes <= q.max_bytes
    assert q.given_up_batches == 2
    assert [b.seq for b in q.unacked()] == [2]
    q.close()
    q = queue(path, max_bytes=40 * row_bytes)  # tombstones survive a restart
    assert q.given_up_batches == 2
    q._db.execute("BEGIN")
    assert q.forget_given_up(0) == 1  # ingest confirmed seq 0: it was stored after all
    assert q.settle_given_up(0, 5) == {1: 10}  # ingest asked for seq 1: lost
    q._db.execute("COMMIT")
    assert q.stats().dropped["overflow_oldest"] == 10 and q.stats().dropped_total == 10
    assert q.given_up_batches == 0


def test_a_buffer_file_from_before_tombstones_had_reasons_opens(tmp_path: Path) -> None:
    """Agents upgraded in place keep their buffer file (never recreated): its tombstones were
    all the retention window's."""
    import sqlite3

    path = tmp_path / "q.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE evicted(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    db.execute("INSERT INTO evicted VALUES (7, 12)")
    db.commit()
    db.close()
    q = queue(path)
    assert q.given_up_batches == 1
    q._db.execute("BEGIN")
    assert q.settle_given_up(0, 10) == {7: 12}
    q._db.execute("COMMIT")
    assert q.stats().dropped["retention_gone"] == 12


def test_sealed_payload_is_the_contract_encoding_of_the_stored_rows(tmp_path: Path) -> None:
    """One wire row: seal splices the stored rows; the bytes equal encode_batch of the readings."""
    from contract.telemetry import encode_batch, make_batch

    q = queue(tmp_path / "q.sqlite")
    rs = readings(7)
    rs[3] = rs[3].model_copy(
        update={"value": None, "quality": Quality.BAD, "reason": 'timeout, «中文» "quoted"'}
    )
    q.put(rs)
    b = q.seal(100)
    assert b is not None
    assert b.payload == encode_batch(make_batch(rs[0].site, rs[0].agent, b.seq, b.sent_ns, rs))
    assert decode_batch(b.payload).readings == tuple(rs)
    q.close()
