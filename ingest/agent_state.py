"""What ingest knows about each agent, in a small SQLite file the API can read.

Two sources: the agent's own retained status/health topics (online/offline, queue depth,
drops) and what ingest observed itself (last telemetry batch, its seq, gaps/duplicates).
SQLite because several ingest processes on one host may share it and the API reads it
from another process; every write is an upsert that never moves a timestamp backwards.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.telemetry import Status

SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_state (
    site TEXT NOT NULL,
    agent TEXT NOT NULL,
    state TEXT,
    status_ts INTEGER,
    version TEXT,
    health_ts INTEGER,
    queue_depth INTEGER,
    oldest_unsent_age_s REAL,
    dropped_total INTEGER,
    quarantined_total INTEGER,
    health_json TEXT,
    last_telemetry_ns INTEGER,
    last_seq INTEGER,
    open_gaps INTEGER,
    duplicates_total INTEGER,
    PRIMARY KEY (site, agent)
);
"""


@dataclass(frozen=True, slots=True)
class AgentState:
    site: str
    agent: str
    state: str | None  # online / offline from the status topic; None if never seen
    status_ts: int | None
    version: str | None
    health_ts: int | None
    queue_depth: int | None
    oldest_unsent_age_s: float | None
    dropped_total: int | None
    quarantined_total: int | None
    health: dict[str, Any] | None  # the full HealthReport as sent (devices, …)
    last_telemetry_ns: int | None  # wall-clock receive time of the newest telemetry batch
    last_seq: int | None
    open_gaps: int | None
    duplicates_total: int | None


class AgentStateDB:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def _ensure(self, site: str, agent: str) -> None:
        self._conn.execute("INSERT OR IGNORE INTO agent_state (site, agent) VALUES (?, ?)", (site, agent))

    def observe_status(self, st: Status) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._ensure(st.site, st.agent)
                if st.state == "health" and st.health is not None:
                    h = st.health
                    self._conn.execute(
                        "UPDATE agent_state SET health_ts = ?, queue_depth = ?, oldest_unsent_age_s = ?,"
                        " dropped_total = ?, quarantined_total = ?, health_json = ?"
                        " WHERE site = ? AND agent = ? AND coalesce(health_ts, 0) <= ?",
                        (
                            st.ts,
                            h.queue_depth,
                            h.oldest_unsent_age_s,
                            h.dropped_total,
                            h.quarantined_total,
                            h.model_dump_json(),
                            st.site,
                            st.agent,
                            st.ts,
                        ),
                    )
                elif st.state != "health":
                    self._conn.execute(
                        "UPDATE agent_state SET state = ?, status_ts = ?, version = coalesce(?, version)"
                        " WHERE site = ? AND agent = ? AND coalesce(status_ts, 0) <= ?",
                        (st.state, st.ts, st.version, st.site, st.agent, st.ts),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def observe_telemetry(
        self, site: str, agent: str, received_ns: int, seq: int, open_gaps: int, duplicates: int
    ) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._ensure(site, agent)
                self._conn.execute(
                    "UPDATE agent_state SET last_telemetry_ns = max(coalesce(last_telemetry_ns, 0), ?),"
                    " last_seq = max(coalesce(last_seq, -1), ?), open_gaps = ?, duplicates_total = ?"
                    " WHERE site = ? AND agent = ?",
                    (received_ns, seq, open_gaps, duplicates, site, agent),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def read_agent_states(path: str | Path) -> list[AgentState]:
    """Every agent ingest has heard of (read-only; safe while ingest is writing)."""
    p = Path(path)
    if not p.exists():
        return []
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        rows = conn.execute(
            "SELECT site, agent, state, status_ts, version, health_ts, queue_depth, oldest_unsent_age_s,"
            " dropped_total, quarantined_total, health_json, last_telemetry_ns, last_seq, open_gaps,"
            " duplicates_total FROM agent_state ORDER BY site, agent"
        ).fetchall()
    finally:
        conn.close()
    names = [f for f in AgentState.__dataclass_fields__ if f != "health"]
    out = []
    for r in rows:
        values = dict(zip(names, (*r[:10], *r[11:]), strict=True))
        out.append(AgentState(**values, health=json.loads(r[10]) if r[10] else None))
    return out
