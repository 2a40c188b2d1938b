"""The agent as a real process (`campus-twin agent run`): MQTT sensors in, SIGKILL mid-flight,
restart → nothing lost, resends detectable by seq; malformed payloads quarantined; SIGTERM
flushes and exits 0 with a retained `offline` status."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus_twin.servers import Mosquitto
from contract.sequence import SequenceTracker, SeqVerdict
from contract.telemetry import decode_status
from tests.edge_agent.agent_helpers import Collector, unique_readings, write_config
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "campus-twin"


def start(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(CLI), "agent", "run", str(cfg)], stdout=out, stderr=subprocess.STDOUT, cwd=cfg.parent
        )


def publisher(port: int) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sensor-pub")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def wait_agent_up(pub: mqtt.Client, col: Collector, log: Path) -> None:
    """The agent's persistent sensor subscription exists once a message makes it through."""

    def warm() -> bool:
        pub.publish("zigbee2mqtt/A-000-warm", b'{"co2":1}', qos=1)
        return bool(col.values("A-000-warm"))

    wait_until(warm, 30, f"agent up (log {log})", every=0.5)


def test_sigkill_mid_flight_then_restart_loses_nothing(
    tmp_path: Path, make_mosquitto: Callable[..., Mosquitto]
) -> None:
    broker = make_mosquitto()
    cfg = write_config(tmp_path / "agent.yaml", broker.port, south_port=broker.port)
    log = tmp_path / "agent.log"
    col = Collector(broker.port)
    pub = publisher(broker.port)
    proc = start(cfg, log)
    try:
        wait_agent_up(pub, col, log)
        n, killed_at = 300, 120
        for i in range(n):
            pub.publish(
                "zigbee2mqtt/A-201-co2", json.dumps({"co2": 400 + i}).encode(), qos=1
            ).wait_for_publish(5)
            if i == killed_at:
                wait_until(
                    lambda: len(col.values("A-201-co2")) > 20, 15, "some readings delivered before the kill"
                )
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            if i == killed_at + 60:  # sensors kept publishing while the agent was dead
                proc = start(cfg, log)
            time.sleep(0.005)
        wait_until(
            lambda: len({r[3] for r in unique_readings(col.batches) if r[0] == "A-201-co2"}) >= n,
            40,
            f"all {n} readings after restart (log {log})",
        )
        got = [r[3] for r in unique_readings(col.batches) if r[0] == "A-201-co2"]
        assert sorted(set(got)) == [400.0 + i for i in range(n)], "nothing lost"
        tracker = SequenceTracker()
        verdicts = [tracker.observe(b.site, b.agent, b.seq) for b in col.batches]
        assert SeqVerdict.GAP not in verdicts, "seq persisted across the kill: no gap"
        # SIGTERM: flush, exit 0, retained offline
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
        wait_until(lambda: decode_status(col.status[-1]).state == "offline", 10, "offline status")
        text = log.read_text()
        assert "upstream connected" in text and "SIGTERM received" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        pub.loop_stop()
        col.close()


def test_malformed_payloads_quarantined_with_reasons(
    tmp_path: Path, make_mosquitto: Callable[..., Mosquitto]
) -> None:
    broker = make_mosquitto()
    cfg = write_config(tmp_path / "agent.yaml", broker.port, south_port=broker.port)
    log = tmp_path / "agent.log"
    col = Collector(broker.port)
    pub = publisher(broker.port)
    proc = start(cfg, log)
    try:
        wait_agent_up(pub, col, log)
        bad = {
            "zigbee2mqtt/A-201-occ": b"{oops",
            "tele/A-202-lux/SENSOR": b'{"Time":"never","BH1750":{"Illuminance":3}}',
            "application/x/device/y/event/up": b'{"deviceInfo":{"deviceName":"B-1-env"}}',
            "zigbee2mqtt/A-203-th": b'{"temperature":"warm","humidity":40}',
        }
        for topic, payload in bad.items():
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        pub.publish("zigbee2mqtt/A-204-th", b'{"temperature":21.5}', qos=1).wait_for_publish(5)
        wait_until(lambda: bool(col.values("A-204-th")), 15, "a good message after the bad ones")
        assert col.values("A-203-th", "humidity") == [40.0], (
            "good fields of a partly bad payload still arrive"
        )

        def quarantine() -> dict[str, object]:
            out = subprocess.run(
                [str(CLI), "quarantine", "show", "--agent", str(cfg), "--json"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            return json.loads(out.stdout)

        wait_until(lambda: quarantine()["total"] == 4, 10, "4 quarantined records")
        records = {r["topic"]: r for r in quarantine()["records"]}  # type: ignore[union-attr]
        assert "not valid JSON" in records["zigbee2mqtt/A-201-occ"]["reason"]
        assert "field 'Time': bad timestamp" in records["tele/A-202-lux/SENSOR"]["reason"]
        assert "missing decoded field 'object'" in records["application/x/device/y/event/up"]["reason"]
        assert "field 'temperature': expected a number" in records["zigbee2mqtt/A-203-th"]["reason"]
        assert records["zigbee2mqtt/A-201-occ"]["payload"] == "{oops"
        assert proc.poll() is None, "bad payloads never crash the agent"
        text = subprocess.run(
            [str(CLI), "quarantine", "show", "--agent", str(cfg)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert "4 quarantined in total" in text and "reason:" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        pub.loop_stop()
        col.close()
