"""The real agent process against a real Mosquitto: Zigbee2MQTT devices grouped with '/' and
named with spaces are subscribed (zigbee2mqtt/#), their units come from the retained
bridge/devices, and the health report lists skips, unknown keys and friendly names."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus_twin.servers import Mosquitto
from tests.edge_agent.agent_helpers import Collector, write_config
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "campus-twin"
CASE = REPO / "tests" / "cases" / "mqtt" / "z2m-bridge-devices-voc-ppb"


def test_grouped_names_and_discovered_units_end_to_end(
    tmp_path: Path, make_mosquitto: Callable[..., Mosquitto]
) -> None:
    broker = make_mosquitto()
    devices = json.loads((CASE / "bridge-devices.json").read_text(encoding="utf-8"))
    devices[1]["friendly_name"] = "bldA/C-308 air"  # grouped by building, with a space
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="z2m-bridge")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    # Zigbee2MQTT keeps its device list retained: the agent learns it when it subscribes
    pub.publish(
        "zigbee2mqtt/bridge/devices", json.dumps(devices).encode(), qos=1, retain=True
    ).wait_for_publish(5)
    cfg = write_config(tmp_path / "agent.yaml", broker.port, south_port=broker.port)
    log = tmp_path / "agent.log"
    col = Collector(broker.port)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(CLI), "agent", "run", str(cfg)], stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path
        )
    dev = "bldA.C-308:20air"
    try:

        def delivered() -> bool:
            pub.publish("zigbee2mqtt/bldA/C-308 air", b'{"voc":120,"temperature":21.5,"mystery":1}', qos=1)
            return bool(col.values(dev, "voc"))

        wait_until(delivered, 30, f"a reading of {dev} (log {log})", every=0.5)
        assert col.values(dev, "voc")[0] == 0.54  # 120 ppb as bridge/devices says, not 120 µg/m³
        assert col.values(dev, "temperature")[0] == 21.5

        def health() -> dict[str, object]:
            if not col.health:
                return {}
            doc = json.loads(col.health[-1])
            return dict(doc.get("health", {}).get("mqtt_decoding", {}))

        wait_until(lambda: health().get("names") == {dev: "bldA/C-308 air"}, 10, "names in the health report")
        h = health()
        assert h["unknown_keys"] == {dev: ["mystery"]}
        assert h["skipped_messages"] == {"Zigbee2MQTT device list": 1}
    finally:
        proc.terminate()
        proc.wait(30)
        pub.loop_stop()
        col.close()
