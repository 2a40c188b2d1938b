"""One failing source never stops the others (issue 29, field report): an RS485 line whose port
refuses `parity: E` (termios errno 22 on a pty, as on a USB adapter without parity) puts its
device DOWN with that cause — one log line, retried with backoff — while a Modbus TCP line, MQTT
sensors and a data-logger file keep delivering to Mosquitto; SIGTERM still ends with exit 0, no
"Task exception was never retrieved". `agent check --connect` shows the port as one FAIL line,
no traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus_twin.servers import Mosquitto
from contract.telemetry import decode_status
from simulators.modbus_server import ModbusSimServer
from tests.edge_agent.agent_helpers import Collector, write_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "campus-twin"


@pytest.fixture
def raw_pty(tmp_path: Path) -> Iterator[Path]:
    """A serial line as socat makes it (`pty,raw`): its driver refuses 8E1 with EINVAL."""
    link = tmp_path / "ttyRS485"
    socat = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={link}", "pipe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: link.exists() or socat.poll() is not None, 10, "socat pty")
        assert socat.poll() is None, "socat ended"
        yield link
    finally:
        socat.terminate()
        socat.wait(10)


def config(tmp_path: Path, broker: int, sim: int, pty: Path) -> Path:
    logger = tmp_path / "b104.csv"
    logger.write_text("")
    extra = f"""modbus:
  - {{id: A-201-th, profile: renke-rs-ws-n01, unit_id: 1, poll_interval_s: 0.2, timeout_s: 0.3, retries: 0,
     transport: {{type: tcp, host: 127.0.0.1, port: {sim}}}}}
  - {{id: B-301-th, profile: renke-rs-ws-n01, unit_id: 1, poll_interval_s: 0.2, timeout_s: 0.3, retries: 0,
     transport: {{type: rtu, port: {pty}, baudrate: 9600, parity: E}}}}
lines:
  - {{id: B-104-logger, path: b104.csv, points: {{co2: {{quantity: co2, unit: ppm}}}}}}
"""
    return write_config(tmp_path / "agent.yaml", broker, extra=extra, south_port=broker)


def test_a_serial_port_refusing_its_settings_stops_nothing_else(
    tmp_path: Path,
    make_mosquitto: Callable[..., Mosquitto],
    sim_in_thread: ModbusSimServer,
    raw_pty: Path,
) -> None:
    broker = make_mosquitto()
    cfg = config(tmp_path, broker.port, sim_in_thread.port, raw_pty)
    log = tmp_path / "agent.log"
    col = Collector(broker.port)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sensor-pub")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    with log.open("ab") as out:
        proc = subprocess.Popen([str(CLI), "agent", "run", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
    try:

        def mqtt_arrives() -> bool:
            pub.publish("zigbee2mqtt/A-305-co2", b'{"co2": 612}', qos=1)
            return bool(col.values("A-305-co2"))

        wait_until(mqtt_arrives, 30, f"MQTT sensor delivered (log {log})", every=0.5)
        with (tmp_path / "b104.csv").open("a") as f:
            f.write("2025-12-06T13:45:00,co2,812\n")
        wait_until(lambda: col.values("B-104-logger") == [812.0], 15, "the logger line delivered")
        wait_until(lambda: len(col.values("A-201-th", "temperature")) >= 3, 15, "the TCP line delivers")

        def rtu_health() -> dict[str, object]:
            for payload in reversed(col.health):
                st = decode_status(payload)
                if st.health is not None and "B-301-th" in st.health.devices:
                    return st.health.devices["B-301-th"]
            return {}

        wait_until(lambda: rtu_health().get("state") == "down", 15, "B-301-th DOWN in the health message")
        polled = len(col.values("A-201-th", "temperature"))
        time.sleep(3)  # the RTU line keeps failing (backoff) for a while: the others go on meanwhile
        assert len(col.values("A-201-th", "temperature")) > polled + 5, "the TCP line kept polling"
        health = rtu_health()
        assert (
            health["last_reason"]
            == f"serial port {raw_pty} refused the settings 9600 8E1: EINVAL (Invalid argument)"
        )
        assert "parity" in str(health["hint"])
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        pub.loop_stop()
        col.close()
    text = log.read_text()
    assert "Task exception was never retrieved" not in text and "Traceback" not in text, text
    said = [line for line in text.splitlines() if "refused the settings" in line]
    assert len(said) == 1 and "device B-301-th DOWN" in said[0], said  # once, not once per retry

    check = subprocess.run(
        [str(CLI), "agent", "check", str(cfg), "--connect", "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 3, check.stdout + check.stderr
    assert "Traceback" not in check.stdout + check.stderr
    fail = [line for line in check.stdout.splitlines() if line.startswith("FAIL") and "B-301-th" in line]
    assert len(fail) == 1 and "refused the settings 9600 8E1: EINVAL (Invalid argument)" in fail[0], (
        check.stdout
    )
    assert any(line.startswith("OK") and "A-201-th" in line for line in check.stdout.splitlines())
    json.dumps(health)  # the health entry is plain JSON
