"""An MQTT sensor that stops sending goes DOWN after its expected interval × the silence factor,
with the reason in words, and UP on its next message: the same transition lines and `/metrics`
gauges as a Modbus device (edge_agent/device_health.py), against a real Mosquitto."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus_twin.servers import Mosquitto
from edge_agent.config import load_agent_config
from edge_agent.metrics import agent_registry
from tests.edge_agent.agent_helpers import write_config
from tests.edge_agent.test_agent_delivery import start_agent, stop_agent
from tests.support.waiting import async_wait_until

SOUTH = """mqtt:
  broker: {{host: 127.0.0.1, port: {port}, reconnect_min_s: 0.1, reconnect_max_s: 0.5}}
  subscriptions:
    - format: custom
      topic: vendor/+/data
      device: "{{1}}"
      expected_interval_s: 0.3
      silence_factor: 2
      points:
        - {{path: co2, point: co2, quantity: co2, unit: ppm}}
"""


def test_default_silence_comes_from_the_format(tmp_path: Path) -> None:
    p = write_config(tmp_path / "a.yaml", 1883, south_port=1884)
    subs = {s.format: s for s in load_agent_config(p).mqtt.subscriptions}  # type: ignore[union-attr]
    assert subs["tasmota"].silent_after_s == 900  # TelePeriod 300 s × 3
    assert subs["zigbee2mqtt"].expected_every_s == 3600


async def test_silent_sensor_goes_down_and_comes_back_up(
    tmp_path: Path, make_mosquitto: Callable[..., Mosquitto], caplog: pytest.LogCaptureFixture
) -> None:
    up, south = make_mosquitto(), make_mosquitto()
    cfg = write_config(tmp_path / "a.yaml", up.port, extra=SOUTH.format(port=south.port))
    caplog.set_level(logging.INFO, logger="edge_agent")
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sensor-A-305")
    pub.connect("127.0.0.1", south.port)
    pub.loop_start()
    agent, stop, task = await start_agent(cfg)
    registry = agent_registry(agent.snapshot)

    def gauge() -> float | None:
        return registry.get_sample_value("campus_agent_device_up", {"device": "A-305", "protocol": "mqtt"})

    def lines(word: str) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"device A-305 {word}")]

    try:
        await async_wait_until(lambda: "subscribed to" in caplog.text, 10, "subscribed")
        pub.publish("vendor/A-305/data", b'{"co2": 650}', qos=1).wait_for_publish(5)
        await async_wait_until(lambda: gauge() == 1.0, 10, "device up")
        await async_wait_until(lambda: gauge() == 0.0, 10, "device down after its silence")
        [down] = lines("DOWN")
        assert "silent for" in down and "expected every 0.3 s" in down, down
        health = next(d for d in agent.device_health() if d.device == "A-305")
        assert health.state == "down" and health.last_reason and health.last_reason.startswith("silent for")
        pub.publish("vendor/A-305/data", b'{"co2": 660}', qos=1).wait_for_publish(5)
        await async_wait_until(lambda: gauge() == 1.0, 10, "device up on its next message")
        # one line per transition, in order (the sensor may fall silent again afterwards)
        transitions = lines("")
        assert transitions[0] == down and transitions[1].startswith("device A-305 UP after"), transitions
    finally:
        pub.loop_stop()
        pub.disconnect()
        await stop_agent(stop, task)
