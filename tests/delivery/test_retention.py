"""The agent's retained-after-PUBACK window (edge_agent/retention.py) on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from contract.telemetry import Quality, Reading
from edge_agent.buffer import DiskQueue
from edge_agent.retention import RETENTION_DROP, Retention, RetentionConfig

S = 1_000_000_000


class Wall:
    def __init__(self) -> None:
        self.ns = 1_800_000_000 * S

    def __call__(self) -> int:
        return self.ns


def reading(i: int) -> Reading:
    return Reading(
        site="s1", agent="gw-A", device="d1", point="co2", quantity="co2", value=400.0 + i, unit="ppm",
        ts=1_800_000_000 * S + i, quality=Quality.GOOD,
    )  # fmt: skip


def sent_batches(tmp_path: Path, n: int, cfg: RetentionConfig, per: int = 10) -> tuple[DiskQueue, Retention]:
    wall = Wall()
    q = DiskQueue(tmp_path / "q.sqlite", "s1", "gw-A", max_bytes=10_000_000, max_age_s=86400, wall_ns=wall)
    r = Retention(q, cfg, wall_ns=wall)
    for i in range(n):
        q.put([reading(i * per + k) for k in range(per)])
        b = q.seal(per)
        assert b is not None
        assert r.keep(b.seq)  # PUBACK
    return q, r


def test_puback_keeps_a_copy_until_ingest_confirms(tmp_path: Path) -> None:
    q, r = sent_batches(tmp_path, 5, RetentionConfig())
    assert q.stats().sealed_batches == 0 and r.stats.batches == 5
    assert r.confirm(2) == 3
    ans = r.resend(0, 4)
    assert [b.seq for b in ans.batches] == [3, 4]
    assert ans.gone == [(0, 2, 0)]  # confirmed: gone, but nothing lost
    assert q.stats().dropped[RETENTION_DROP] == 0


def test_window_survives_a_restart(tmp_path: Path) -> None:
    q, r = sent_batches(tmp_path, 3, RetentionConfig())
    r.confirm(0)
    q.close()
    q2 = DiskQueue(tmp_path / "q.sqlite", "s1", "gw-A", max_bytes=10_000_000, max_age_s=86400)
    r2 = Retention(q2, RetentionConfig())
    assert (r2.stats.batches, r2.stats.confirmed_seq) == (2, 0)
    assert [b.seq for b in r2.resend(1, 2).batches] == [1, 2]


def test_eviction_is_counted_only_when_ingest_asks(tmp_path: Path) -> None:
    q, r = sent_batches(tmp_path, 6, RetentionConfig(max_bytes=1))  # keeps nothing
    assert r.stats.batches == 0 and q.given_up_batches == 6
    r.confirm(1)  # 0 and 1 were stored after all: no loss
    ans = r.resend(2, 3)
    assert ans.batches == [] and ans.gone == [(2, 3, 20)]
    assert q.stats().dropped[RETENTION_DROP] == 20
    assert r.resend(2, 3).gone == [(2, 3, 0)]  # asked again: counted once


def test_age_bound_and_queue_budget(tmp_path: Path) -> None:
    wall = Wall()
    q = DiskQueue(tmp_path / "q.sqlite", "s1", "gw-A", max_bytes=64 * 1024, max_age_s=86400, wall_ns=wall)
    r = Retention(q, RetentionConfig(max_age_s=10), wall_ns=wall)
    q.put([reading(k) for k in range(10)])
    b = q.seal(10)
    assert b is not None and r.keep(b.seq)
    wall.ns += 11 * S
    assert r.trim() == 1
    # the queue fills its budget: the window yields its room first
    q.put([reading(k) for k in range(10)])
    b = q.seal(10)
    assert b is not None and r.keep(b.seq) and r.stats.batches == 1
    q.put([reading(100 + k) for k in range(1200)])
    assert q.stats().bytes + r.stats.bytes > q.max_bytes
    r.trim()
    assert r.stats.batches == 0


def test_resend_skips_batches_still_queued(tmp_path: Path) -> None:
    q, r = sent_batches(tmp_path, 2, RetentionConfig())
    q.put([reading(1000)])
    assert q.seal(10) is not None  # seq 2: sealed, not yet PUBACKed
    ans = r.resend(0, 2)
    assert [b.seq for b in ans.batches] == [0, 1] and ans.gone == []


def test_a_batch_the_queue_gave_up_is_gone_with_its_readings_and_its_reason(tmp_path: Path) -> None:
    """The queue removed a sealed, not yet PUBACKed batch for room (overflow): ingest's `resend`
    for it is answered `gone` with its readings, counted as `overflow_oldest` — not as a
    retention loss, and only now that ingest says it never arrived."""
    wall = Wall()
    q = DiskQueue(tmp_path / "q.sqlite", "s1", "gw-A", max_bytes=64 * 1024, max_age_s=86400, wall_ns=wall)
    r = Retention(q, RetentionConfig(), wall_ns=wall)
    q.put([reading(k) for k in range(10)])
    assert q.seal(10) is not None  # seq 0, in flight
    res = q.put([reading(100 + k) for k in range(2000)])  # more than the room left: seq 0 goes
    assert res.drops.given_up == {"overflow_oldest": 10}
    assert q.stats().dropped["overflow_oldest"] == res.drops.dropped.get("overflow_oldest", 0)
    before = q.stats().dropped["overflow_oldest"]
    ans = r.resend(0, 0)
    assert ans.batches == [] and ans.gone == [(0, 0, 10)]
    st = q.stats()
    assert st.dropped["overflow_oldest"] == before + 10 and st.dropped[RETENTION_DROP] == 0
    assert r.resend(0, 0).gone == [(0, 0, 0)]  # counted once
