"""The third source (edge_agent/sources/lines/): an ASCII data logger writing `timestamp,point,value`
lines to a file, a FIFO or a serial port. Added without touching the agent core: its folder and
one line in the registry. Lines become samples, bad lines are quarantined with the column and
reason, a serial port that refuses its settings (a pty and parity E: termios EINVAL) is the
input's DOWN reason, logged once while it is retried, and the other inputs keep delivering."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contract.clock import WallClock
from contract.device_names import device_id
from contract.telemetry import Quality
from contract.yamlio import ConfigError
from edge_agent.commands_check import check_report
from edge_agent.config import load_agent_config
from edge_agent.samples import Sample
from edge_agent.sources import PLUGINS, SourceContext, build_sources
from edge_agent.sources.lines.config import LineInput
from edge_agent.sources.lines.decode import LineError, decode_line
from edge_agent.sources.lines.source import LinesSource

TZ = ZoneInfo("Asia/Shanghai")
NOW = 1_765_000_000_000_000_000  # 2025-12-06T05:46:40Z
POINTS = {"co2": {"quantity": "co2", "unit": "ppm"}, "temp": {"quantity": "temperature", "unit": "°C"}}


def logger(**kw: object) -> LineInput:
    return LineInput.model_validate({"id": "B-104-logger", "path": "-", "points": POINTS, **kw})


class Collected:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.quarantined: list[tuple[str, str, str, bytes]] = []
        self.arrived = asyncio.Event()

    async def sink(self, samples: Sequence[Sample]) -> None:
        self.samples += samples
        self.arrived.set()

    async def quarantine(self, source: str, topic: str, reason: str, payload: bytes) -> None:
        self.quarantined.append((source, topic, reason, payload))
        self.arrived.set()

    def context(self) -> SourceContext:
        return SourceContext("s", "gw", "Asia/Shanghai", WallClock(), self.sink, self.quarantine)


async def until(pred: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_a_line_is_one_reading_in_the_loggers_unit_and_local_time() -> None:
    s = decode_line(logger(), "2025-12-06 13:45:00,co2,812\r\n", NOW, TZ)
    assert s is not None
    assert (s.device, s.point, s.quantity, s.value, s.unit) == ("B-104-logger", "co2", "co2", 812.0, "ppm")
    assert s.ts == 1_765_000_000_000_000_000 - 100 * 1_000_000_000  # 13:45:00 +08:00 = 05:45:00Z
    assert s.quality is Quality.GOOD and s.reason is None


def test_a_column_map_with_a_device_column_and_epoch_times() -> None:
    inp = logger(
        columns={"device": 0, "point": 1, "value": 2, "timestamp": 3},
        delimiter=";",
        timestamp_format="epoch_ms",
    )
    s = decode_line(inp, "教室 201;temp;22.64;1765000000000", NOW, TZ)
    assert s is not None and s.device == device_id("教室 201") != "教室 201"  # the contract's id rule
    assert s.value == 22.64 and s.ts == NOW and s.point == "temp"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2025-12-06 13:45:00,co2", "2 column(s), expected at least 3"),
        ("2025-12-06 13:45:00,pm25,12", "column 2: unknown point 'pm25' (known: co2, temp)"),
        ("2025-12-06 13:45:00,co2,ERR", "column 3: value 'ERR' is not a number"),
        ("2025-12-06 13:45:00,co2,nan", "column 3: value is NaN"),
        ("06/12/2025 13:45,co2,812", "column 1: bad timestamp '06/12/2025 13:45' (expected iso8601)"),
    ],
)
def test_a_bad_line_says_which_column_and_why(line: str, reason: str) -> None:
    with pytest.raises(LineError) as info:
        decode_line(logger(), line, NOW, TZ)
    assert str(info.value) == reason


def test_blank_lines_and_the_header_give_nothing_and_a_clock_not_set_is_uncertain() -> None:
    assert decode_line(logger(), "", NOW, TZ) is None
    assert decode_line(logger(), "timestamp,point,value", NOW, TZ) is None
    s = decode_line(logger(), "2000-01-01T00:00:00,co2,800", NOW, TZ)
    assert s is not None and s.quality is Quality.UNCERTAIN and s.ts == NOW
    assert s.reason is not None and s.reason.startswith("device clock not set")


def test_the_source_is_registered_and_its_section_is_part_of_the_agent_config(tmp_path: Path) -> None:
    assert PLUGINS[-1] == "edge_agent.sources.lines.plugin"
    (tmp_path / "agent.yaml").write_text(
        "site: s\nagent: gw\nlines:\n  - id: B-104-logger\n    path: logs/b104.csv\n"
        "    points: {co2: {quantity: co2, unit: ppm}}\n",
        encoding="utf-8",
    )
    cfg = load_agent_config(tmp_path / "agent.yaml")
    inputs = cfg.lines  # type: ignore[attr-defined]
    assert [i.path for i in inputs] == [str(tmp_path / "logs/b104.csv")]  # relative to the config
    sources = build_sources(cfg, Collected().context())
    assert [s.name for s in sources] == ["lines"]
    report, ok = check_report(cfg, {})
    assert ok and f"lines: B-104-logger ← {tmp_path / 'logs/b104.csv'} (points co2)" in report.splitlines()
    (tmp_path / "agent.yaml").write_text(
        "site: s\nagent: gw\nlines:\n  - id: x\n    path: a.csv\n    baud: 9600\n"
        "    points: {co2: {quantity: co2, unit: ppm}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_agent_config(tmp_path / "agent.yaml")
    assert str(info.value).endswith("agent.yaml:6:5: field lines[0].baud: unknown field (check spelling)")


async def test_a_file_and_a_fifo_deliver_and_bad_lines_are_quarantined(tmp_path: Path) -> None:
    data = tmp_path / "b104.csv"
    data.write_text("timestamp,point,value\n2025-12-06T13:45:00,co2,812\n2025-12-06T13:45:00,co2,ERR\n")
    fifo = tmp_path / "logger.fifo"
    os.mkfifo(fifo)
    got = Collected()
    src = LinesSource(
        [
            logger(id="B-104", path=str(data), from_beginning=True),
            logger(id="B-105", path=str(fifo)),
        ],
        got.context(),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(src.run(stop))
    try:
        await until(lambda: got.samples and got.quarantined, 5, "the file's lines")
        with data.open("a") as f:  # the logger appends: followed like tail -f
            f.write("2025-12-06T13:46:00,temp,22.5\n")
        for value in (700, 701):  # two writers one after the other: the FIFO is reopened
            fd = await asyncio.to_thread(os.open, fifo, os.O_WRONLY)
            os.write(fd, f"2025-12-06T13:46:00,co2,{value}\n".encode())
            os.close(fd)
            await until(lambda v=value: any(s.value == v for s in got.samples), 5, f"FIFO value {value}")
        await until(lambda: any(s.value == 22.5 for s in got.samples), 5, "the appended line")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        src.close()
    assert sorted((s.device, s.point, s.value) for s in got.samples) == [
        ("B-104", "co2", 812.0),
        ("B-104", "temp", 22.5),
        ("B-105", "co2", 700.0),
        ("B-105", "co2", 701.0),
    ]
    assert got.quarantined == [
        ("lines", f"B-104:{data}", "column 3: value 'ERR' is not a number", b"2025-12-06T13:45:00,co2,ERR")
    ]
    assert {h.device: h.state for h in src.health()} == {"B-104": "up", "B-105": "up"}


async def test_a_serial_port_refusing_parity_e_is_down_with_the_cause_logged_once_while_others_deliver(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import serial

    master, slave = os.openpty()
    port = os.ttyname(slave)
    serial.Serial(port, 9600, parity="N").close()  # left at 8N1: the pty driver then refuses 8E1 (EINVAL)
    data = tmp_path / "b104.csv"
    data.write_text("2025-12-06T13:45:00,co2,812\n")
    got = Collected()
    serial_input = logger(id="B-201", path=port, serial={"baudrate": 9600, "parity": "E"}, reopen_max_s=0.05)
    src = LinesSource([serial_input, logger(id="B-104", path=str(data), from_beginning=True)], got.context())
    stop = asyncio.Event()
    try:
        with caplog.at_level(logging.INFO, logger="edge_agent.sources.lines"):
            task = asyncio.create_task(src.run(stop))
            health = {h.device: h for h in src.health()}
            await until(lambda: health["B-201"].polls_failed >= 5, 10, "five failed opens of the port")
            await until(lambda: got.samples, 5, "the file input's reading")
            stop.set()
            await asyncio.wait_for(task, 5)
    finally:
        src.close()
        os.close(master)
        os.close(slave)
    h = health["B-201"]
    assert h.state == "down"
    assert h.last_reason == f"serial port {port} refused the settings 9600 8E1: EINVAL (Invalid argument)"
    assert [s.value for s in got.samples] == [812.0] and health["B-104"].state == "up"
    said = [r.getMessage() for r in caplog.records if "refused the settings" in r.getMessage()]
    assert len(said) == 2, said  # the input's line and the device's DOWN transition, not one per retry
