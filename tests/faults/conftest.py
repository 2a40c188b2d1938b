"""Fixtures for the fault suite: a fresh pipeline per fault, and the fault table.

Each test adds one row; at the end of the session the table is printed and written to
`test-artifacts/fault-table.md` (docs/performance.md quotes a run of it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campus_twin.servers import InfluxDB, Mosquitto
from tests.faults.fault_pipeline import LazyMosquitto, Pipeline

REPO = Path(__file__).resolve().parents[2]
ROWS: list[dict[str, object]] = []
COLUMNS = (
    ("fault", "fault"),
    ("sent", "points sent"),
    ("stored", "points stored"),
    ("lost", "lost"),
    ("duplicates", "duplicate batches collapsed"),
    ("dropped", "dropped by policy"),
    ("bad", "bad-quality points"),
    ("recovery_s", "recovery time (s)"),
)


@pytest.fixture(scope="session")
def outage_s(long_tests: bool) -> float:
    return 30.0 if long_tests else 10.0


@pytest.fixture(scope="session")
def long_outage_s(long_tests: bool) -> float:
    """The broker and InfluxDB outages: 5 minutes with CAMPUS_TWIN_LONG=1 (docs/performance.md)."""
    return 300.0 if long_tests else 10.0


@pytest.fixture
def fault_row() -> Callable[..., None]:
    def add(**row: object) -> None:
        ROWS.append(row)

    return add


@pytest.fixture
def make_pipeline(
    tmp_path: Path,
    make_mosquitto: Callable[..., Mosquitto],
    make_influxdb: Callable[[], InfluxDB],
) -> Iterator[Callable[..., Pipeline]]:
    """Started pipelines (~1k points/s by default; CAMPUS_TWIN_FAULT_DEVICES / _INTERVAL_S tune it)."""
    made: list[Pipeline] = []
    brokers: list[Mosquitto] = []

    def make(
        buffer: str = "{path: buf/queue.sqlite}",
        share_group: str | None = None,
        n_ingest: int = 1,
        lazy_broker: bool = False,
        agent_extra: str = "",
    ) -> Pipeline:
        if lazy_broker:  # in-memory queue until a clean shutdown (see LazyMosquitto)
            broker: Mosquitto = LazyMosquitto(tmp_path / "mosquitto-lazy")
            broker.start()
            brokers.append(broker)
        else:
            broker = make_mosquitto()
        p = Pipeline(
            tmp_path,
            broker,
            make_influxdb(),
            units=int(os.environ.get("CAMPUS_TWIN_FAULT_DEVICES", "56")),
            interval=float(os.environ.get("CAMPUS_TWIN_FAULT_INTERVAL_S", "0.5")),
            buffer=buffer,
            share_group=share_group,
            n_ingest=n_ingest,
            agent_extra=agent_extra,
        )
        made.append(p)
        p.start()
        return p

    yield make
    for p in made:
        p.close()
    for b in brokers:
        b.stop()


def render_table() -> str:
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in ROWS:
        cells = []
        for key, _ in COLUMNS:
            v = row.get(key, "")
            cells.append(f"{v:.1f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    table = render_table()
    note = ROWS[0].get("note", "")
    out = REPO / "test-artifacts" / "fault-table.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"# Fault table\n\n{note}\n\n{table}", encoding="utf-8")
    terminalreporter.write_sep("=", "fault table")
    terminalreporter.write_line(str(note))
    terminalreporter.write(table)
    terminalreporter.write_line(f"(written to {out})")
