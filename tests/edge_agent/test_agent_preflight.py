"""Pre-flight commands a technician (and the systemd unit) can script: `agent check [--connect]`
and `agent probe` against a real pymodbus simulator and real Mosquitto, with documented exit
codes (0 fine, 1 some points bad, 2 config/profile error, 3 unreachable), and never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto, free_port
from simulators.modbus_faults import Fault
from simulators.modbus_server import ModbusSimServer
from tests.edge_agent.agent_helpers import write_config

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "campus-twin"


def agent(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [str(CLI), "agent", *map(str, args)], capture_output=True, text=True, timeout=90, env=env
    )
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    return out


def devices_yaml(port: int) -> str:
    return f"""modbus:
  - {{id: A-201-th, profile: renke-rs-ws-n01, transport: {{type: tcp, host: 127.0.0.1, port: {port}}}, unit_id: 1, timeout_s: 0.3, retries: 0}}
  - {{id: A-201-em, profile: chint-ddsu666, transport: {{type: tcp, host: 127.0.0.1, port: {port}}}, unit_id: 2, timeout_s: 0.3, retries: 0}}
"""


def config(tmp_path: Path, up_port: int, sim_port: int, south_port: int | None = None) -> Path:
    return write_config(tmp_path / "agent.yaml", up_port, extra=devices_yaml(sim_port), south_port=south_port)


def test_check_connect_reachable_then_unreachable(
    tmp_path: Path, mosquitto: Mosquitto, sim_in_thread: ModbusSimServer
) -> None:
    cfg = config(tmp_path, mosquitto.port, sim_in_thread.port, south_port=mosquitto.port)
    out = agent("check", cfg, "--connect")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK   upstream broker" in out.stdout and "OK   sensor broker" in out.stdout
    assert "OK   modbus A-201-th" in out.stdout and "2/2 points good" in out.stdout
    # a broker on a closed port, a silent device: exit 3 and each named with its cause
    closed = free_port()
    cfg = config(tmp_path, closed, sim_in_thread.port, south_port=mosquitto.port)
    sim_in_thread.set_fault(1, Fault("timeout"))
    try:
        out = agent("check", cfg, "--connect", "--timeout", "2")
    finally:
        sim_in_thread.set_fault(1, None)
    assert out.returncode == 3, out.stdout + out.stderr
    assert f"FAIL upstream broker mqtt://127.0.0.1:{closed}" in out.stdout and "ECONNREFUSED" in out.stdout
    assert "OK   sensor broker" in out.stdout
    assert "FAIL modbus A-201-th" in out.stdout and "timeout after 0.3s (no response)" in out.stdout
    assert "OK   modbus A-201-em" in out.stdout
    # without --connect nothing is contacted: the config itself is fine
    assert agent("check", cfg).returncode == 0


def test_probe_exit_codes(tmp_path: Path, mosquitto: Mosquitto, sim_in_thread: ModbusSimServer) -> None:
    cfg = config(tmp_path, mosquitto.port, sim_in_thread.port)
    out = agent("probe", cfg, "--device", "A-201-th", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["temperature"]["quality"] == "good"
    sim_in_thread.set_values(2, {"voltage": float("nan")})  # answers, one point unusable
    try:
        out = agent("probe", cfg, "--device", "A-201-em")
    finally:
        sim_in_thread.set_values(2, {"voltage": 229.5})
    assert out.returncode == 1, out.stdout + out.stderr
    assert "not a finite number" in out.stdout
    refused = write_config(tmp_path / "refused.yaml", mosquitto.port, extra=devices_yaml(free_port()))
    out = agent("probe", refused, "--device", "A-201-th")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "ECONNREFUSED" in out.stdout and "hint: nothing listens on that port" in out.stderr
    out = agent("probe", cfg, "--device", "no-such-device")
    assert out.returncode == 2 and "known: A-201-em, A-201-th" in out.stderr


@pytest.mark.integration
def test_unknown_profile_lists_search_path_and_known_names(tmp_path: Path) -> None:
    mine = tmp_path / "my-profiles"
    mine.mkdir()
    cfg = write_config(
        tmp_path / "agent.yaml", 1883, extra=devices_yaml(1502).replace("chint-ddsu666", "vendor-x1")
    )
    for cmd in (["check", cfg], ["plan", cfg], ["probe", cfg, "--device", "A-201-em"]):
        out = agent(*cmd, "--profiles", mine)
        assert out.returncode == 2, (cmd, out.stdout, out.stderr)
        text = out.stdout + out.stderr
        assert "device 'A-201-em': unknown profile 'vendor-x1'" in text
        assert f"searched: {REPO / 'device_profiles' / 'library'}, {mine}" in text
        assert "known: chint-ddsu666" in text and "renke-rs-ws-n01" in text


@pytest.mark.integration
def test_broken_unused_profile_is_a_warning_and_used_one_an_error(tmp_path: Path) -> None:
    mine = tmp_path / "my-profiles"
    mine.mkdir()
    (mine / "half-written.yaml").write_text("name: vendor-x1\npoints: [\n", encoding="utf-8")
    cfg = write_config(tmp_path / "agent.yaml", 1883, extra=devices_yaml(1502))
    out = agent("check", cfg, "--profiles", mine)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "WARNING: profile file not loaded:" in out.stdout and "half-written.yaml:3" in out.stdout
    uses = write_config(
        tmp_path / "uses.yaml", 1883, extra=devices_yaml(1502).replace("chint-ddsu666", "vendor-x1")
    )
    out = agent("check", uses, "--profiles", mine)
    assert out.returncode == 2
    assert "not loaded (broken):" in out.stdout and "half-written.yaml:3" in out.stdout


@pytest.mark.integration
def test_user_mistakes_exit_2_without_traceback(tmp_path: Path) -> None:
    out = agent("check", tmp_path / "missing.yaml")
    assert out.returncode == 2 and "missing.yaml" in out.stderr
    cfg = write_config(tmp_path / "agent.yaml", 1883, extra=devices_yaml(1502))
    cfg.write_text(cfg.read_text().replace("  path: buf/queue.sqlite", "  path: /proc/no/queue.sqlite"))
    out = agent("run", cfg)  # a buffer folder that cannot be created
    assert out.returncode == 2 and "error:" in out.stderr and "/proc/no" in out.stderr
