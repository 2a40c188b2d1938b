"""Commissioning a line with `agent discover` (issue 32): two RS485 lines on pseudo-terminals
that only hear a master at their own baud rate, real pymodbus RTU slaves behind them.

Line A, 9600 baud: 8 slaves of 5 models — 2 classroom air monitors, 2 CHINT DTSU666, an
Eastron SDM630, a Renke CO2 transmitter and 2 fan-coil controllers of a vendor the library
does not know (one of them answers FC 43/14). Line B, 2400 baud: an Eastron SDM120 and a
Renke illuminance transmitter. Discovery must find every unit at its line's rate, name the
known ones right and nothing wrongly, explain the unknown ones, stay within the bound it
printed, never write; its proposed config must pass `check --connect` and poll exactly.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto
from device_profiles.loader import load_library, load_profile
from simulators.modbus_server import ModbusSimServer, SimDevice
from simulators.serial_line import PtyLine
from tests.edge_agent.agent_helpers import write_config

REPO = Path(__file__).resolve().parents[2]
UNKNOWN = Path(__file__).parent / "discover_data" / "fan-coil-controller.yaml"
LINE_A = {
    3: "classroom-air-monitor",
    17: "classroom-air-monitor",
    5: "chint-dtsu666",
    6: "chint-dtsu666",
    9: "eastron-sdm630",
    12: "renke-rs-co2-n01",
    20: None,
    21: None,
}
LINE_B = {1: "eastron-sdm120", 2: "renke-rs-gz-n01"}


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from campus_twin.cli import main; sys.exit(main())"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    return out


@dataclass
class Lines:
    a: Path
    b: Path
    servers: list[ModbusSimServer]
    lines: list[PtyLine]


@pytest.fixture
def two_lines(tmp_path: Path) -> Iterator[Lines]:
    lib = load_library()
    fcu = load_profile(UNKNOWN)

    def slaves(units: dict[int, str | None], baud: int) -> list[SimDevice]:
        out = []
        for unit, name in units.items():
            if name is not None:
                out.append(SimDevice(unit, lib[name], baudrate=baud))
            else:  # the vendor's newer firmware implements FC 43/14, the older one does not
                ident = {0: "Example HVAC", 1: "FCU-485", 2: "V2.1"} if unit == 21 else None
                out.append(SimDevice(unit, fcu, device_id=ident))
        return out

    loop = asyncio.new_event_loop()
    servers = [
        ModbusSimServer(slaves(LINE_A, 9600), framer="rtu"),
        ModbusSimServer(slaves(LINE_B, 2400), framer="rtu"),
    ]
    lines: list[PtyLine] = []
    ready = threading.Event()

    async def start() -> None:
        for server, (name, baud) in zip(servers, (("ttyA", 9600), ("ttyB", 2400)), strict=True):
            await server.start()
            line = PtyLine(tmp_path / name, "127.0.0.1", server.port, baud)
            await line.start()
            lines.append(line)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(10)
    yield Lines(tmp_path / "ttyA", tmp_path / "ttyB", servers, lines)

    async def stop() -> None:
        for line in lines:
            await line.stop()
        for server in servers:
            await server.stop()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)
    loop.close()


def _bound(stderr_or_stdout: str, found: int) -> float:
    m = re.search(r"scan ≤ ([\d.]+) s .* then ≤ ([\d.]+) s per answering unit", stderr_or_stdout)
    assert m, stderr_or_stdout
    return float(m.group(1)) + 0.1 + found * (float(m.group(2)) + 0.05)  # the printed figures are rounded


def _discover(line: Path, tmp_path: Path, cfg: Path) -> tuple[dict[str, object], float, str]:
    started = time.monotonic()
    out = cli(
        "agent", "discover", line, "--units", "1-24", "--bauds", "9600,2400", "--parities", "N,E",
        "--timeout", "0.1", "--json", "--write", cfg,
    )  # fmt: skip
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), took, out.stderr


@pytest.mark.integration
def test_discover_names_known_models_explains_unknown_and_proposes_a_config_that_polls(
    tmp_path: Path, two_lines: Lines, mosquitto: Mosquitto
) -> None:
    cfg = write_config(tmp_path / "agent.yaml", mosquitto.port)
    report, took, said = _discover(two_lines.a, tmp_path, cfg)
    units = {u["unit_id"]: u for u in report["units"]}  # type: ignore[union-attr]
    assert sorted(units) == sorted(LINE_A), "every slave found, nothing else"
    for unit, truth in LINE_A.items():
        u = units[unit]
        assert u["setting"] == "9600 8N1", u
        if truth is None:
            assert u["status"] == "unknown" and u["profile"] is None, u
        else:
            assert (u["status"], u["profile"]) == ("identified", truth), u
    # the unknown ones are explained: what they answered, FC 43/14 where implemented
    assert "FC 43/14 read device identification: exception 1" in units[20]["answered"]
    assert any("vendor: Example HVAC" in line for line in units[21]["answered"])
    assert any("FC 3 exception 2" in line for line in units[20]["answered"])
    # within the bound printed before the scan started (stderr, before any unit was probed)
    assert said.index("估计 estimate") < said.index("unit 3 answers")
    assert took <= _bound(said, len(units)), (took, said)
    # line B at its own rate; the same scan settings, the other rate
    report_b, took_b, said_b = _discover(two_lines.b, tmp_path, cfg)
    units_b = {u["unit_id"]: u for u in report_b["units"]}  # type: ignore[union-attr]
    assert {k: (v["status"], v["profile"], v["setting"]) for k, v in units_b.items()} == {
        1: ("identified", "eastron-sdm120", "2400 8N1"),
        2: ("identified", "renke-rs-gz-n01", "2400 8N1"),
    }
    assert took_b <= _bound(said_b, 2)
    assert [s.writes for s in two_lines.servers] == [0, 0], "discovery never writes"
    assert two_lines.lines[0].lost > 0 and two_lines.lines[1].lost > 0, (
        "the other rate was tried and not heard"
    )

    # the proposed config, as written, passes check --connect …
    out = cli("agent", "check", cfg, "--connect", "--timeout", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    ids = re.findall(r"OK   modbus (\S+)", out.stdout)
    assert len(ids) == 8, out.stdout
    # … and polls exactly: each device reads back what its slave holds
    servers = {two_lines.a: two_lines.servers[0], two_lines.b: two_lines.servers[1]}
    from ruamel.yaml import YAML

    for dev in YAML(typ="safe").load(cfg.read_text(encoding="utf-8"))["modbus"]:
        sim = servers[Path(dev["transport"]["port"])].devices[dev["unit_id"]]
        out = cli("agent", "probe", cfg, "--device", dev["id"], "--json")
        assert out.returncode == 0, out.stdout + out.stderr
        got = json.loads(out.stdout)
        for name, want in sim.values.items():
            assert got[name]["value"] == pytest.approx(want, rel=1e-6), (dev["id"], name, got[name], want)


@pytest.mark.integration
def test_a_port_that_is_not_there_is_exit_3_with_the_os_cause(tmp_path: Path) -> None:
    out = cli("agent", "discover", tmp_path / "ttyUSB9", "--units", "1-2", "--timeout", "0.1")
    assert out.returncode == 3, out.stdout + out.stderr
    assert f"error: cannot open {tmp_path / 'ttyUSB9'} at 9600 8N1: ENOENT" in out.stderr


@pytest.mark.integration
def test_a_tcp_gateway_absent_units_answer_exception_11_and_are_not_found() -> None:
    """A Modbus TCP gateway answers "gateway target failed to respond" (0x0B) for a unit id with
    nothing behind it: that is absence, not a device (simulators/modbus_static.py does this)."""
    from bench.modbus_sims import StaticSims

    with StaticSims("chint-dtsu666", units=3, processes=1) as sims:
        out = cli(
            "agent", "discover", f"tcp://127.0.0.1:{sims.ports[0]}", "--units", "1-6", "--timeout", "0.2", "--json"
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    units = {u["unit_id"]: u for u in json.loads(out.stdout)["units"]}
    assert sorted(units) == [1, 2, 3]
    assert {(u["status"], u["profile"], u["transport"]["type"]) for u in units.values()} == {
        ("identified", "chint-dtsu666", "tcp")
    }
