"""The row path to InfluxDB (`LineEncoder.encode_rows`, `Decoded.row_groups`) writes exactly the
lines of the reference encoding (`encode_point` of each reading as a `StoredPoint`), and
rejects exactly the readings the reference cannot encode."""

from __future__ import annotations

from contract.telemetry import (
    CANONICAL_UNITS,
    Quality,
    Reading,
    Row,
    SeriesKey,
    as_rows,
    encode_batch,
    make_batch,
    topic,
)
from ingest.pipeline import Decoded, Incoming
from store.base import StoredPoint
from store.lineprotocol import LineEncoder, LineProtocolError, encode_point

T0 = 1_763_884_800_000_000_000


def message(seq: int, agent: str = "gw-A") -> Incoming:
    rows = []
    for i, (q, value, quality, reason) in enumerate(
        [
            ("co2", 812.0, Quality.GOOD, None),
            ("temperature", -0.0, Quality.GOOD, ""),
            ("humidity", None, Quality.BAD, 'timeout "x" \\ y\nz'),
            ("noise", 1e-300, Quality.UNCERTAIN, "drift"),
        ]
    ):
        for dev in ("A-201-air", "A-202-air", "odd-dev"):
            rows.append(
                Reading(
                    site="s1",
                    agent=agent,
                    device=dev,
                    point=q,
                    quantity=q,
                    value=value,
                    unit=CANONICAL_UNITS[q],
                    ts=T0 + seq * 100 + i,
                    quality=quality,
                    reason=reason,
                )
            )
    payload = encode_batch(make_batch("s1", agent, seq, T0, rows))
    return Incoming(topic("s1", agent, "telemetry"), payload, seq, 1, 0)


def tags_for(site: str, device: str, point: str) -> dict[str, str]:
    if device == "odd-dev":
        return {"room": "bad\\tag"}  # InfluxDB 1.x cannot store it: must be rejected, not altered
    if device == "A-202-air":
        return {}
    return {"campus": "c", "building": "A", "room_number": "A-201", "room_type": "", "site": "spoof"}


def test_row_lines_equal_point_lines_and_rejects() -> None:
    decoded = Decoded()
    for seq, agent in ((1, "gw-A"), (2, "gw-B"), (3, "gw-A")):
        assert decoded.add(message(seq, agent), tags_for) == 12
    assert decoded.n_points == 36 and not decoded.rejects

    row_rejects: list[tuple[str, str]] = []
    enc = LineEncoder()
    row_lines = [
        line
        for site, agent, rows in decoded.row_groups()
        for line in enc.encode_rows(site, agent, rows, decoded.tags, lambda *a: row_rejects.append(a))
    ]
    point_lines: list[str] = []
    point_rejects: list[str] = []
    for site, agent, rows in decoded.row_groups():
        for device, point, quantity, value, unit, ts, quality, reason in as_rows(rows):
            key = SeriesKey(site, device, point)
            p = StoredPoint(
                key,
                ts,
                value,
                quantity,
                unit,
                quality.value,
                reason,
                agent,
                decoded.tags[(site, device, point)],
            )
            try:
                point_lines.append(encode_point(p))
            except LineProtocolError:
                point_rejects.append(repr(p))

    assert row_lines == point_lines
    assert [text for text, _ in row_rejects] == point_rejects
    assert len(row_rejects) == 12 and len(row_lines) == 24
    assert any(",quality=bad," in line and "value=" not in line for line in row_lines)


def good_rows(seq: int) -> list[Row]:
    return [
        (dev, q, q, 400.0 + i / 3, CANONICAL_UNITS[q], T0 + seq * 100 + i, Quality.GOOD, None)
        for i, (dev, q) in enumerate(
            (d, q) for d in ("A-201-air", "A-202-air") for q in ("co2", "temperature", "humidity")
        )
    ]


def reference(
    site: str, agent: str, rows: list[Row], tags: dict[tuple[str, str, str], dict[str, str]]
) -> list[str]:
    return [
        encode_point(
            StoredPoint(SeriesKey(site, d, p), ts, v, q, u, quality.value, reason, agent, tags[(site, d, p)])
        )
        for d, p, q, v, u, ts, quality, reason in rows
    ]


def test_plain_batches_use_cached_prefixes_per_tag_snapshot() -> None:
    """All-good batches take the prefix cache; a new tag mapping (a binding-table reload) is a
    new snapshot, so changed room tags reach the very next batch; an unencodable room tag in a
    plain batch is still rejected by name, not written."""
    enc = LineEncoder()
    tags = {
        ("s1", d, q): {"room_number": "A-201"} for d in ("A-201-air", "A-202-air") for q in CANONICAL_UNITS
    }
    for seq in (1, 2):
        assert enc.encode_rows("s1", "gw-A", good_rows(seq), tags, _no_reject) == reference(
            "s1", "gw-A", good_rows(seq), tags
        )
    moved = {k: {"room_number": "B-101"} for k in tags}
    lines = enc.encode_rows("s1", "gw-A", good_rows(3), moved, _no_reject)
    assert lines == reference("s1", "gw-A", good_rows(3), moved) and all("B-101" in x for x in lines)
    odd = {k: ({"room": "bad\\tag"} if k[1] == "A-202-air" else v) for k, v in moved.items()}
    rejects: list[tuple[str, str]] = []
    lines = enc.encode_rows("s1", "gw-A", good_rows(4), odd, lambda *a: rejects.append(a))
    assert len(lines) == 3 and len(rejects) == 3 and all("A-201-air" in x for x in lines)


def _no_reject(text: str, reason: str) -> None:
    raise AssertionError(f"rejected: {reason}: {text}")
