"""At agent start the broker replays retained states: a Zigbee2MQTT sensor dead for 3 h
(`last_seen` in its payload) is neither stored as a good reading nor shown UP, and a retained
state of unknown age is kept uncertain without counting as proof of life."""

from __future__ import annotations

import json
import time
from pathlib import Path

from contract.telemetry import decode_batch
from edge_agent.config import load_agent_config
from edge_agent.runtime import Agent
from tests.edge_agent.agent_helpers import write_config

H = 3600 * 1_000_000_000


async def test_retained_states_at_agent_start(tmp_path: Path) -> None:
    agent = Agent(load_agent_config(write_config(tmp_path / "a.yaml", 1, south_port=1)))
    await agent.open()
    try:
        sub = agent.cfg.mqtt.subscriptions[0] if agent.cfg.mqtt else None
        assert sub is not None and sub.format == "zigbee2mqtt"
        now = time.time_ns()
        dead = {"temperature": 23.1, "humidity": 47, "last_seen": (now - 3 * H) // 1_000_000}
        await agent.handle_mqtt(sub, "zigbee2mqtt/A-206-env", json.dumps(dead).encode(), now, True)
        assert agent.counters.mqtt_devices == {}, "a sensor dead for 3 h is not UP"
        assert agent.counters.readings_in_total == 0, "its stale state is not a reading"

        await agent.handle_mqtt(sub, "zigbee2mqtt/A-208-env", b'{"temperature": 23.1}', now, True)
        assert "A-208-env" not in agent.counters.mqtt_devices
        await agent.handle_mqtt(sub, "zigbee2mqtt/A-209-env", b'{"temperature": 22.5}', now, False)
        assert agent.counters.mqtt_devices["A-209-env"].up

        assert agent.queue is not None
        batch = agent.queue.seal(100)
        assert batch is not None
        got = {(r.device, r.quality.value) for r in decode_batch(batch.payload).readings}
        assert got == {("A-208-env", "uncertain"), ("A-209-env", "good")}
    finally:
        await agent.close()
