"""A real Mosquitto with the ACL and users of `campus-twin broker acl`: a gateway whose credentials
publish on another gateway's topic (the forged CO₂ = 4999 ppm uplink of issue 36) is refused by
the broker and nothing of it is stored by ingest; its own uplink is stored."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus_twin.broker_acl import add_passwords, agent_user, render_acl
from campus_twin.servers import Mosquitto
from contract.secrets import SecretRef
from contract.telemetry import topic
from ingest.config import BatchConfig, BrokerConfig, IngestConfig
from ingest.service import IngestService
from ops.metrics import MetricsListen
from ops.quarantine import QuarantineConfig
from store.config import SqliteStoreConfig
from store.sqlite import SQLiteStore
from tests.ingest.ingest_helpers import payload
from tests.support.waiting import wait_until

SITE = "sz-demo-school"
AGENTS = [(SITE, "gw-A"), (SITE, "gw-B")]


def _client(broker: Mosquitto, user: str, secrets_dir: Path) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5
    )
    c.username_pw_set(user, (secrets_dir / user).read_text(encoding="utf-8").strip())
    accepted = threading.Event()
    c.on_connect = lambda _c, _u, _f, rc, _p: accepted.set() if not rc.is_failure else None
    c.connect(broker.host, broker.port)
    c.loop_start()
    assert accepted.wait(10), f"{user}: connection refused (password file)"
    return c


def _forge(broker: Mosquitto, user: str, secrets_dir: Path, name: str, data: bytes) -> str:
    """Publish QoS 1 with `user`'s credentials; how the broker answered (refused or not)."""
    c = _client(broker, user, secrets_dir)
    answer: list[str] = []
    c.on_publish = lambda _c, _u, _mid, rc, _p: answer.append(str(rc))
    c.on_disconnect = lambda _c, _u, _f, rc, _p: answer.append(f"disconnected: {rc}")
    c.publish(name, data, qos=1)
    wait_until(lambda: bool(answer), 10, f"the broker's answer to {user}")
    c.disconnect()
    c.loop_stop()
    return answer[0]


def _publish(c: mqtt.Client, name: str, data: bytes) -> None:
    info = c.publish(name, data, qos=1)
    info.wait_for_publish(timeout=10)


def test_agent_cannot_publish_as_another_and_nothing_is_stored(
    make_mosquitto: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    acl = tmp_path / "acl"
    acl.write_text(render_acl(AGENTS, "campus-ingest", "campus-api"), encoding="utf-8")
    passwd, secrets_dir = tmp_path / "passwd", tmp_path / "secrets"
    users = ["campus-ingest", "campus-api", *(agent_user(s, a) for s, a in AGENTS)]
    assert add_passwords(passwd, users, secrets_dir) == users
    assert add_passwords(passwd, users, secrets_dir) == []  # a re-run keeps every identity
    assert all(ln.split(":", 1)[1].startswith("$7$") for ln in passwd.read_text().splitlines())  # hashed
    broker = make_mosquitto(passwd_file=passwd, acl_file=acl)

    svc = IngestService(
        IngestConfig(
            broker=BrokerConfig(
                host=broker.host,
                port=broker.port,
                client_id="ingest-acl",
                username="campus-ingest",
                password=SecretRef(file=secrets_dir / "campus-ingest"),
            ),
            share_group="ingest",
            site=SITE,
            store=SqliteStoreConfig(path=tmp_path / "ts.db"),
            quarantine=QuarantineConfig(path=tmp_path / "quarantine.sqlite"),
            metrics=MetricsListen(listen="127.0.0.1:0"),
            batch=BatchConfig(max_points=500, max_delay_s=0.1),
        )
    )
    svc.start()
    try:
        assert svc.consumer.wait_ready(10)
        store = svc.store
        assert isinstance(store, SQLiteStore)
        # gw-B's credentials, gw-A's topic and payload: the forgery the issue stored
        forged = _forge(
            broker,
            agent_user(SITE, "gw-B"),
            secrets_dir,
            topic(SITE, "gw-A", "telemetry"),
            payload(SITE, "gw-A", 1, 5),
        )
        assert forged == "Not authorized"  # MQTT 5 PUBACK reason 0x87
        # the API's read-only identity cannot publish either
        by_api = _forge(
            broker, "campus-api", secrets_dir, topic(SITE, "gw-A", "telemetry"), payload(SITE, "gw-A", 2, 5)
        )
        assert by_api == "Not authorized"
        # then gw-B's own uplink, on its own topic: stored, so the forgery had every chance to land
        gw_b = _client(broker, agent_user(SITE, "gw-B"), secrets_dir)
        _publish(gw_b, topic(SITE, "gw-B", "telemetry"), payload(SITE, "gw-B", 1, 5))
        wait_until(lambda: store.count() == 5, 20, "gw-B's own 5 readings stored")
        assert {k.device.split("-d")[0] for k in store.latest()} == {"gw-B"}
        assert svc.quarantine.counts() == {}  # refused at the broker, never reached ingest
        gw_b.disconnect()
        gw_b.loop_stop()
    finally:
        svc.stop()


@pytest.mark.parametrize("bad", ["site-only", "a/b/c", "s:x/gw"])
def test_agent_ids_are_checked(bad: str) -> None:
    from campus_twin.broker_acl import parse_agent

    with pytest.raises(ValueError, match="SITE/AGENT"):
        parse_agent(bad)
