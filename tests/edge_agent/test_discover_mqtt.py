"""`agent discover mqtt://…` on a real Mosquitto: Zigbee2MQTT's retained device list and Home
Assistant discovery configs become proposed subscriptions with catalogue quantities, which the
agent's `check --connect` accepts as written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from campus_twin.servers import Mosquitto
from edge_agent.discover.mqtt import home_assistant_devices, proposed_subscriptions, zigbee2mqtt_devices
from edge_agent.discover.report import subscriptions_yaml
from edge_agent.sources.mqtt.config import Subscription
from tests.edge_agent.agent_helpers import write_config
from tests.edge_agent.test_discover import cli
from tests.support.mqtt import Publisher

BRIDGE = Path(__file__).parents[1] / "cases" / "mqtt" / "z2m-bridge-devices-voc-ppb" / "bridge-devices.json"
HA = {
    # an ESPHome-style classroom box announcing two sensors on one JSON state topic
    "homeassistant/sensor/c101-env/temperature/config": {
        "name": "C101 temperature", "device_class": "temperature", "unit_of_measurement": "°C",
        "state_topic": "esp/c101-env/state", "value_template": "{{ value_json.temperature }}",
        "device": {"name": "c101-env", "model": "ESP32 env box"},
    },
    "homeassistant/sensor/c101-env/co2/config": {
        "name": "C101 CO2", "device_class": "carbon_dioxide", "unit_of_measurement": "ppm",
        "state_topic": "esp/c101-env/state", "value_template": "{{ value_json['co2'] }}",
        "device": {"name": "c101-env", "model": "ESP32 env box"},
    },
    "homeassistant/sensor/c101-env/rssi/config": {
        "name": "C101 RSSI", "device_class": "signal_strength", "unit_of_measurement": "dBm",
        "state_topic": "esp/c101-env/state", "value_template": "{{ value_json.rssi }}",
        "device": {"name": "c101-env", "model": "ESP32 env box"},
    },
    # HA's binary "occupancy" is a yes/no: the catalogue's presence, never a head count
    "homeassistant/binary_sensor/c102-pir/occupancy/config": {
        "name": "C102 PIR", "device_class": "occupancy", "state_topic": "esp/c102-pir/state",
        "value_template": "{{ value_json.occupancy }}", "device": {"name": "c102-pir"},
    },
}  # fmt: skip


def test_announcements_map_to_catalogue_quantities() -> None:
    z2m = {d.name: d for d in zigbee2mqtt_devices(BRIDGE.read_bytes())}
    assert sorted(z2m) == ["C-308 air", "C-308-lux"], "the coordinator has no definition"
    air = {p.key: (p.quantity, p.unit) for p in z2m["C-308 air"].points}
    assert air == {
        "co2": ("co2", "ppm"),
        "formaldehyd": ("hcho", "mg/m³"),
        "humidity": ("humidity", "%"),
        "temperature": ("temperature", "°C"),
        "voc": ("tvoc", "ppb"),
    }, "linkquality is ignored by the format, voc keeps the device's own unit"
    ha = {d.name: d for d in home_assistant_devices({t: json.dumps(v).encode() for t, v in HA.items()})}
    env = {p.key: p.quantity for p in ha["c101-env"].points}
    assert env == {"temperature": "temperature", "co2": "co2", "rssi": None}
    assert [p.quantity for p in ha["c102-pir"].points] == ["presence"]
    subs = proposed_subscriptions([*z2m.values(), *ha.values()])
    assert subs[0] == {"format": "zigbee2mqtt"}
    env_sub = next(s for s in subs if s.get("topic") == "esp/c101-env/state")
    assert env_sub["format"] == "custom" and env_sub["device"] == "{1}", (
        "the topic level that names the device"
    )
    assert sorted(p["point"] for p in env_sub["points"]) == ["co2", "temperature"], "rssi is not proposed"
    # what --print shows is the agent's own config shape
    printed = YAML(typ="safe").load(subscriptions_yaml(subs))["mqtt"]["subscriptions"]
    assert [Subscription.model_validate(s).model_dump(exclude_defaults=True) for s in printed] == [
        Subscription.model_validate(s).model_dump(exclude_defaults=True) for s in subs
    ]


@pytest.mark.integration
def test_discover_mqtt_proposes_subscriptions_check_accepts(
    tmp_path: Path, make_mosquitto: Callable[..., Mosquitto]
) -> None:
    broker = make_mosquitto()
    pub = Publisher(broker, "z2m-and-ha")
    try:
        pub.publish("zigbee2mqtt/bridge/devices", BRIDGE.read_bytes(), retain=True)
        for topic, doc in HA.items():
            pub.publish(topic, json.dumps(doc).encode(), retain=True)
    finally:
        pub.close()
    cfg = write_config(tmp_path / "agent.yaml", broker.port)
    out = cli(
        "agent", "discover", f"mqtt://127.0.0.1:{broker.port}", "--listen", "1", "--json", "--write", cfg
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert sorted(d["name"] for d in doc["devices"]) == ["C-308 air", "C-308-lux", "c101-env", "c102-pir"]
    assert [s["format"] for s in doc["subscriptions"]] == ["zigbee2mqtt", "custom", "custom"]
    out = cli("agent", "check", cfg, "--connect", "--timeout", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK   sensor broker" in out.stdout
    # a second run adds nothing; a closed broker is exit 3 with the cause
    assert (
        "wrote 0 subscription(s)"
        in cli(
            "agent", "discover", f"mqtt://127.0.0.1:{broker.port}", "--listen", "0.5", "--write", cfg
        ).stdout
    )
    broker.stop()
    out = cli("agent", "discover", f"mqtt://127.0.0.1:{broker.port}", "--listen", "0.5")
    assert out.returncode == 3 and "error: broker mqtt://127.0.0.1" in out.stderr, out.stderr
