"""The one paho client builder (ops/mqtt_client.py): flags per protocol/session, credentials, TLS."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest

from contract.broker import BrokerSettings
from contract.secrets import SecretError
from ops.mqtt_client import ClientOptions, build_client


def test_v311_persistent_session_and_manual_ack() -> None:
    c = build_client(BrokerSettings(), ClientOptions(client_id="ingest-1", persistent=True, manual_ack=True))
    assert c.protocol == mqtt.MQTTv311 and c._client_id == b"ingest-1"
    assert c._clean_session is False and c._manual_ack is True


def test_v5_and_default_clean_session() -> None:
    assert build_client(BrokerSettings(), ClientOptions(protocol="5")).protocol == mqtt.MQTTv5
    plain = build_client(BrokerSettings())
    assert plain._clean_session is True and plain._manual_ack is False and plain._client_id == b""


def test_credentials_from_a_secret_ref(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CT_TEST_MQTT_PW", "s3cret")
    broker = BrokerSettings.model_validate({"username": "ingest", "password": {"env": "CT_TEST_MQTT_PW"}})
    c = build_client(broker)
    assert c._username == b"ingest" and c._password == b"s3cret"
    monkeypatch.delenv("CT_TEST_MQTT_PW")
    with pytest.raises(SecretError, match="CT_TEST_MQTT_PW"):
        build_client(broker)


def test_a_persistent_session_needs_a_client_id() -> None:
    with pytest.raises(ValueError, match="fixed client_id"):
        ClientOptions(persistent=True)
