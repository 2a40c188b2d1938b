"""Broker errors in the agent's logs name their cause: the paho reason code's name and number,
the OS errno name, and what paho's bare "Unspecified error" (a socket that closed) means."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from campus_twin.servers import Mosquitto
from edge_agent.mqtt_connect import CONNECTION_LOST, describe_mqtt_error
from tests.edge_agent.agent_helpers import write_config
from tests.edge_agent.test_agent_delivery import start_agent, stop_agent
from tests.support.waiting import async_wait_until


def _lost() -> aiomqtt.MqttError:
    """What aiomqtt raises from the message iterator when the broker goes away."""
    inner = aiomqtt.MqttCodeError(
        ReasonCode(PacketTypes.DISCONNECT, identifier=128), "Unexpected disconnection"
    )
    try:
        raise aiomqtt.MqttError("Disconnected during message iteration") from inner
    except aiomqtt.MqttError as exc:
        return exc


def test_connection_lost_is_explained_with_the_reason_code() -> None:
    text = describe_mqtt_error(_lost())
    assert text == f"Disconnected during message iteration: Unspecified error [code 128]; {CONNECTION_LOST}"


def test_os_error_wins_and_is_named() -> None:
    try:
        raise aiomqtt.MqttError("connect failed") from ConnectionRefusedError(111, "Connection refused")
    except aiomqtt.MqttError as exc:
        assert describe_mqtt_error(exc) == "ECONNREFUSED (Connection refused)"


def test_connack_refusal_keeps_its_name() -> None:
    exc = aiomqtt.MqttCodeError(ReasonCode(PacketTypes.CONNACK, identifier=135), "Connection refused")
    assert describe_mqtt_error(exc) == "Not authorized [code 135]"


async def test_sensor_broker_loss_is_logged_with_its_cause(
    tmp_path: Path, make_mosquitto: Callable[..., Mosquitto], caplog: pytest.LogCaptureFixture
) -> None:
    up, south = make_mosquitto(), make_mosquitto()
    cfg = write_config(tmp_path / "a.yaml", up.port, south_port=south.port)
    caplog.set_level(logging.INFO, logger="edge_agent")
    agent, stop, task = await start_agent(cfg)
    try:
        await async_wait_until(lambda: "subscribed to" in caplog.text, 10, "sensor broker connected")
        south.stop()
        await async_wait_until(
            lambda: "sensor broker" in caplog.text and " lost: " in caplog.text, 10, "loss"
        )
        line = next(r.getMessage() for r in caplog.records if " lost: " in r.getMessage())
        assert "retry in" in line
        assert not line.split(" lost: ")[1].startswith("Unspecified error;"), line
        assert "code " in line or "(" in line, f"no reason code or errno name: {line}"
        assert agent.links()[1].last_reason is not None
    finally:
        await stop_agent(stop, task)
