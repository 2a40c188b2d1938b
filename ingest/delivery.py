"""Ingest's side of the end-to-end acknowledgement (topics: contract/delivery.py).

After a store write succeeded, the batch seqs it carried go into a small shared ledger; per
agent the ledger advances `durable` = the highest seq with every seq up to it stored (or
reported gone by the agent), and we publish it retained so the agent frees its retained copies.
A gap above `durable` that does not close within `resend_after_s` is asked for (`resend`);
the agent republishes it or answers `gone` with the readings lost, which the ledger records.

Why a ledger table and not per-process memory: with a shared subscription the batches of one
agent are spread over every member of the group, so no process sees a contiguous sequence.
The ledger is one SQLite table in `delivery.ledger` (WAL, each change one write transaction of
`contract.sqlite_tx`): every member inserts what *it* stored and whichever member advances
`durable` publishes it. That is plain shared state with a lock, not a consensus protocol: the
members never need to agree on anything beyond what the table says, and a stale `durable` published late only delays freeing on the agent
(it is monotonic there). SQLite means the members of one share group run on one host (one
big district server runs several ingest processes); across hosts, partition by `site`
(docs/deployment.md).

A first contact (no ledger row) with a young agent (first seq seen < FRESH_AGENT_SEQS) starts
at seq 0, so batches the broker lost before ingest ever heard of the agent are asked for too;
with an agent that has a long history it starts at the first seq seen, so a fresh ingest never
asks for years of batches.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from contract.delivery import Durable, Gone, Resend, control_topic, encode_control
from contract.sqlite_tx import immediate

log = logging.getLogger(__name__)

MAX_RESEND_RANGE = 10_000  # seqs per request; a longer gap is asked for in pieces
FRESH_AGENT_SEQS = MAX_RESEND_RANGE  # first contact below this seq: track the agent from seq 0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivery_agent(
    site TEXT NOT NULL, agent TEXT NOT NULL,
    durable INTEGER NOT NULL,            -- every seq <= durable is stored or reported gone
    highest INTEGER NOT NULL,
    PRIMARY KEY (site, agent)
);
CREATE TABLE IF NOT EXISTS delivery_seen(  -- stored seqs above durable (a gap below them)
    site TEXT NOT NULL, agent TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (site, agent, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS delivery_gone(  -- the agents' answers: ranges no longer retained
    site TEXT NOT NULL, agent TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    readings INTEGER NOT NULL, reported_ns INTEGER NOT NULL,
    PRIMARY KEY (site, agent, first, last)
);
"""

AgentKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Gap:
    site: str
    agent: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class DeliveryState:
    site: str
    agent: str
    durable: int
    highest: int
    missing: int  # seqs between durable and highest not stored yet
    lost_readings: int  # reported gone by the agent (counted there as dropped `retention_gone`)
    gone_ranges: int


class Ledger:
    """The shared per-agent durable state (see the module docstring). Thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def _tx(self, fn: Callable[[], dict[AgentKey, int]]) -> dict[AgentKey, int]:
        with self._lock, immediate(self._db):
            return fn()

    def stored(self, seqs: Iterable[tuple[str, str, int]]) -> dict[AgentKey, int]:
        """These batches are in the store; returns {agent: new durable} for agents that advanced."""
        by_agent: dict[AgentKey, list[int]] = {}
        for site, agent, seq in seqs:
            by_agent.setdefault((site, agent), []).append(seq)
        if not by_agent:
            return {}

        def run() -> dict[AgentKey, int]:
            out = {}
            for key, got in by_agent.items():
                row = self._db.execute(
                    "SELECT durable, highest FROM delivery_agent WHERE site = ? AND agent = ?", key
                ).fetchone()
                if row is None:  # first contact: from 0 for a young agent, else from what we got
                    durable = -1 if min(got) < FRESH_AGENT_SEQS else min(got) - 1
                    highest = max(got)
                    self._db.execute(
                        "INSERT INTO delivery_agent VALUES (?, ?, ?, ?)", (*key, durable, highest)
                    )
                else:
                    durable, highest = int(row[0]), max(int(row[1]), max(got))
                self._db.executemany(
                    "INSERT OR IGNORE INTO delivery_seen VALUES (?, ?, ?)",
                    [(*key, s) for s in got if s > durable],
                )
                new = self._advance(key, durable, highest)
                if new > durable:
                    out[key] = new
            return out

        return self._tx(run)

    def gone(self, site: str, agent: str, msg: Gone) -> dict[AgentKey, int]:
        """The agent no longer has seqs first..last: record (idempotent per range) and move on."""
        key = (site, agent)

        def run() -> dict[AgentKey, int]:
            self._db.execute(
                "INSERT OR IGNORE INTO delivery_gone VALUES (?, ?, ?, ?, ?, ?)",
                (*key, msg.first, msg.last, msg.readings, time.time_ns()),
            )
            row = self._db.execute(
                "SELECT durable, highest FROM delivery_agent WHERE site = ? AND agent = ?", key
            ).fetchone()
            if row is None:
                return {}
            durable, highest = int(row[0]), int(row[1])
            self._db.executemany(
                "INSERT OR IGNORE INTO delivery_seen VALUES (?, ?, ?)",
                [(*key, s) for s in range(max(msg.first, durable + 1), min(msg.last, highest) + 1)],
            )
            new = self._advance(key, durable, highest)
            return {key: new} if new > durable else {}

        return self._tx(run)

    def _advance(self, key: AgentKey, durable: int, highest: int) -> int:
        """Walk the contiguous run above `durable` (inside a transaction)."""
        seen = self._db.execute(
            "SELECT seq FROM delivery_seen WHERE site = ? AND agent = ? AND seq > ? ORDER BY seq",
            (*key, durable),
        )
        new = durable
        for (s,) in seen:
            if s != new + 1:
                break
            new = s
        if new > durable:
            self._db.execute(
                "DELETE FROM delivery_seen WHERE site = ? AND agent = ? AND seq <= ?", (*key, new)
            )
        self._db.execute(
            "UPDATE delivery_agent SET durable = ?, highest = ? WHERE site = ? AND agent = ?",
            (new, max(highest, new), *key),
        )
        return new

    def gaps(self) -> list[Gap]:
        """Per agent, the lowest run of missing seqs above durable (the one holding it back)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.site, a.agent, a.durable, "
                " (SELECT MIN(seq) FROM delivery_seen s WHERE s.site = a.site AND s.agent = a.agent"
                "  AND s.seq > a.durable) FROM delivery_agent a WHERE a.highest > a.durable"
            ).fetchall()
        return [
            Gap(site, agent, durable + 1, min(nxt - 1, durable + MAX_RESEND_RANGE))
            for site, agent, durable, nxt in rows
            if nxt is not None and nxt > durable + 1
        ]

    def durable(self) -> dict[AgentKey, int]:
        with self._lock:
            return {
                (s, a): int(d)
                for s, a, d in self._db.execute("SELECT site, agent, durable FROM delivery_agent")
            }

    def close(self) -> None:
        with self._lock:
            self._db.close()


def read_delivery(path: str | Path) -> list[DeliveryState]:
    """Per agent: durable seq, open gap, readings reported lost (read-only)."""
    p = Path(path)
    if not p.exists():
        return []
    db = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        has = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'delivery_agent'").fetchone()
        if not has:
            return []
        rows = db.execute(
            "SELECT a.site, a.agent, a.durable, a.highest,"
            " a.highest - a.durable - (SELECT COUNT(*) FROM delivery_seen s"
            "   WHERE s.site = a.site AND s.agent = a.agent),"
            " (SELECT COALESCE(SUM(readings), 0) FROM delivery_gone g WHERE g.site = a.site AND g.agent = a.agent),"
            " (SELECT COUNT(*) FROM delivery_gone g WHERE g.site = a.site AND g.agent = a.agent)"
            " FROM delivery_agent a ORDER BY a.site, a.agent"
        ).fetchall()
    finally:
        db.close()
    return [DeliveryState(*(r[:2]), *(int(x) for x in r[2:])) for r in rows]


Publish = Callable[[str, bytes, bool], None]  # topic, payload, retain (QoS 1)


class Confirmer:
    """Publishes `durable` when it advances and `resend` for gaps older than `resend_after_s`."""

    def __init__(self, ledger: Ledger, publish: Publish, resend_after_s: float = 5.0) -> None:
        self.ledger, self.publish, self.resend_after_s = ledger, publish, resend_after_s
        self._first_seen: dict[tuple[str, str, int], float] = {}
        self._asked: dict[tuple[str, str, int], float] = {}
        self.resend_requests_total = 0
        self.resend_requests: dict[AgentKey, int] = {}  # per agent, sent by this process
        self.gone_readings_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ingest-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def stored(self, seqs: Iterable[tuple[str, str, int]]) -> None:
        """After a store write (and before its acks): advance and confirm."""
        self._confirm(self.ledger.stored(seqs))

    def on_gone(self, site: str, agent: str, msg: Gone) -> None:
        log.warning(
            "agent %s/%s no longer has seq %d..%d: %d readings lost (the agent counted them as dropped)",
            site,
            agent,
            msg.first,
            msg.last,
            msg.readings,
        )
        self.gone_readings_total += msg.readings
        self._confirm(self.ledger.gone(site, agent, msg))

    def _confirm(self, advanced: dict[AgentKey, int]) -> None:
        for (site, agent), seq in advanced.items():
            self.publish(control_topic(site, agent, "durable"), encode_control(Durable(seq=seq)), True)

    def states(self) -> list[DeliveryState]:
        """Per agent, the share group's delivery state from the ledger (read at scrape time)."""
        return read_delivery(self.ledger.path)

    def republish(self) -> None:
        """Every agent's durable again (after a (re)connect: the broker may have lost retained)."""
        self._confirm(self.ledger.durable())

    def check_gaps(self, now: float | None = None) -> list[Gap]:
        """Ask for gaps that stayed open `resend_after_s` (again every `resend_after_s`)."""
        now = time.monotonic() if now is None else now
        asked = []
        open_now = set()
        for g in self.ledger.gaps():
            k = (g.site, g.agent, g.first)
            open_now.add(k)
            first = self._first_seen.setdefault(k, now)
            if now - first < self.resend_after_s or now - self._asked.get(k, -1e9) < self.resend_after_s:
                continue
            self._asked[k] = now
            self.resend_requests_total += 1
            self.resend_requests[(g.site, g.agent)] = self.resend_requests.get((g.site, g.agent), 0) + 1
            msg = Resend.model_validate({"from": g.first, "to": g.last})
            self.publish(control_topic(g.site, g.agent, "resend"), encode_control(msg), False)
            log.warning(
                "agent %s/%s: seq %d..%d missing for %.0fs, asked to resend",
                g.site,
                g.agent,
                g.first,
                g.last,
                now - first,
            )
            asked.append(g)
        for k in set(self._first_seen) - open_now:
            self._first_seen.pop(k, None)
            self._asked.pop(k, None)
        return asked

    def _loop(self) -> None:
        while not self._stop.wait(min(1.0, self.resend_after_s / 4)):
            try:
                self.check_gaps()
            except Exception as exc:  # advisory: never stop ingest for it
                log.warning("gap check failed: %s", exc)
