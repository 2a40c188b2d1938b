"""From received MQTT messages to store points, rejects and agent status (pure, no I/O).

Kept apart from the consumer so validation and enrichment can be tested without a broker,
and so the consumer's only jobs are gathering, writing and acking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter

from contract.clock import Clock, WallClock
from contract.telemetry import (
    AgentClockCheck,
    AgentClockMemory,
    GoodRows,
    Row,
    RowBatch,
    Status,
    TelemetryError,
    check_agent_clock,
    decode_rows,
    decode_status,
    parse_topic,
)
from contract.timestamps import DEFAULT_MAX_SKEW_S
from ingest.enrich import RoomTagTable
from store.base import Store

_device, _point = itemgetter(0), itemgetter(1)
TagsFor = Callable[[str, str, str], dict[str, str]]  # (site, device, point) -> room tags


def write_decoded(store: Store, decoded: Decoded) -> None:
    """Durably write what `decoded` holds through the store's row path."""
    if decoded.n_points:
        store.write_rows(decoded.row_groups(), decoded.tags)


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_ns: int


@dataclass(frozen=True, slots=True)
class Rejected:
    topic: str
    reason: str
    klass: str  # short reason class for metrics: topic / contract / origin
    payload: bytes


@dataclass
class Decoded:
    """Everything a gathered set of messages turned into.

    Telemetry stays as validated rows (`RowBatch`) plus one room-tag dict per series: every
    store writes rows (`Store.write_rows`), so no object is built per point (a `StoredPoint`
    per point was a third of ingest's CPU).
    """

    batches: list[tuple[RowBatch, int]] = field(default_factory=list)  # with received_ns
    statuses: list[Status] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)
    # room tags per (site, device, point): the binding watcher's `RoomTagTable` (the consumer's
    # choice: looked up by the store on first use), or a plain dict filled from `tags_for` here
    tags: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    n_points: int = 0
    max_skew_s: float = DEFAULT_MAX_SKEW_S  # the device-clock rule's allowance (ingest config)
    clock: Clock = field(default_factory=WallClock)  # ingest's OWN clock: each batch's `sent` is judged by it
    clock_checks: list[tuple[str, str, AgentClockCheck]] = field(default_factory=list)  # (site, agent, found)
    # per agent: what ingest remembers of its clock (the consumer keeps one dict)
    clock_memory: dict[tuple[str, str], AgentClockMemory] = field(default_factory=dict)

    def add(self, msg: Incoming, tags_for: TagsFor) -> int:
        """Decode one message into this set; returns how many points it added."""
        try:
            parts = parse_topic(msg.topic)
        except TelemetryError as exc:
            self.rejects.append(Rejected(msg.topic, str(exc), "topic", msg.payload))
            return 0
        try:
            if parts.kind == "telemetry":
                batch = decode_rows(msg.payload, msg.topic, self.max_skew_s)
                origin = (batch.site, batch.agent)
            else:
                status = decode_status(msg.payload, msg.topic)
                origin = (status.site, status.agent)
        except TelemetryError as exc:
            self.rejects.append(Rejected(msg.topic, str(exc), "contract", msg.payload))
            return 0
        if origin != (parts.site, parts.agent):
            reason = f"topic {msg.topic!r}: payload is from {origin[0]}/{origin[1]}, topic names {parts.site}/{parts.agent}"
            self.rejects.append(Rejected(msg.topic, reason, "origin", msg.payload))
            return 0
        if parts.kind != "telemetry":
            self.statuses.append(status)
            return 0
        origin = (batch.site, batch.agent)
        memory = self.clock_memory.get(origin)
        if memory is None:
            memory = self.clock_memory[origin] = AgentClockMemory()
        batch, check = check_agent_clock(batch, self.clock.now_ns(), self.max_skew_s, memory)
        if check is not None:
            self.clock_checks.append((batch.site, batch.agent, check))
        self.batches.append((batch, msg.received_ns))
        site, tags, rows = batch.site, self.tags, batch.rows
        if not isinstance(tags, RoomTagTable):  # a table fills itself when the store asks
            # series keys at C speed (a batch repeats each series; tags are looked up once per series)
            for k in set(zip(repeat(site), map(_device, rows), map(_point, rows))).difference(tags):
                tags[k] = tags_for(*k)
        self.n_points += len(batch.rows)
        return len(batch.rows)

    def row_groups(self) -> list[tuple[str, str, list[Row] | GoodRows]]:
        """(site, agent, rows) per telemetry batch, in arrival order."""
        return [(b.site, b.agent, b.rows) for b, _ in self.batches]
