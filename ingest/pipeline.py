"""From received MQTT messages to store points, rejects and agent status (pure, no I/O).

Kept apart from the consumer so validation and enrichment can be tested without a broker,
and so the consumer's only jobs are gathering, writing and acking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from contract.telemetry import Batch, Status, TelemetryError, decode_batch, decode_status, parse_topic
from ingest.stores.base import StoredPoint

TagsFor = Callable[[str, str, str], dict[str, str]]  # (site, device, point) -> room tags


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
    """Everything a gathered set of messages turned into."""

    points: list[StoredPoint] = field(default_factory=list)
    batches: list[tuple[Batch, int]] = field(default_factory=list)  # with received_ns
    statuses: list[Status] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)

    def add(self, msg: Incoming, tags_for: TagsFor) -> int:
        """Decode one message into this set; returns how many points it added."""
        try:
            parts = parse_topic(msg.topic)
        except TelemetryError as exc:
            self.rejects.append(Rejected(msg.topic, str(exc), "topic", msg.payload))
            return 0
        try:
            if parts.kind == "telemetry":
                batch = decode_batch(msg.payload, msg.topic)
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
        self.batches.append((batch, msg.received_ns))
        points = to_points(batch, tags_for)
        self.points.extend(points)
        return len(points)


def to_points(batch: Batch, tags_for: TagsFor) -> list[StoredPoint]:
    """Contract readings as store points, with room tags; device and point stay in the key."""
    cache: dict[tuple[str, str], dict[str, str]] = {}
    out = []
    for r in batch.readings:
        ck = (r.device, r.point)
        tags = cache.get(ck)
        if tags is None:
            tags = cache[ck] = tags_for(r.site, r.device, r.point)
        out.append(
            StoredPoint(
                key=r.series_key,
                ts=r.ts,
                value=r.value,
                quantity=r.quantity,
                unit=r.unit,
                quality=r.quality.value,
                reason=r.reason,
                agent=r.agent,
                tags=tags,
            )
        )
    return out
