"""The real servers the suite relies on answer as expected (1 point through InfluxDB, 1 message
through Mosquitto). If these fail, every integration test below is meaningless."""

from __future__ import annotations

import json
import queue
import urllib.parse
import urllib.request

import paho.mqtt.client as mqtt

from campus_twin.servers import InfluxDB, Mosquitto


def _post(url: str, data: bytes = b"") -> int:
    req = urllib.request.Request(url, data=data, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(resp.status)


def test_influxdb_write_then_query(influxdb: InfluxDB) -> None:
    q = urllib.parse.quote
    assert _post(f"{influxdb.url}/query?q={q('CREATE DATABASE smoke')}") == 200
    line = b"env,room=A-201 co2=812.5 1700000000000000000"
    assert _post(f"{influxdb.url}/write?db=smoke&precision=ns", line) == 204
    sql = 'SELECT "co2" FROM "env" WHERE "room" = \'A-201\''
    with urllib.request.urlopen(f"{influxdb.url}/query?db=smoke&epoch=ns&q={q(sql)}", timeout=10) as resp:
        doc = json.load(resp)
    series = doc["results"][0]["series"][0]
    assert series["values"] == [[1700000000000000000, 812.5]]


def test_mosquitto_publish_subscribe(mosquitto: Mosquitto) -> None:
    got: queue.Queue[bytes] = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="smoke-sub")
    sub.on_message = lambda c, u, m: got.put(m.payload)
    sub.connect(mosquitto.host, mosquitto.port)
    sub.subscribe("smoke/#", qos=1)
    sub.loop_start()
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="smoke-pub")
        pub.connect(mosquitto.host, mosquitto.port)
        pub.loop_start()
        # retry until the subscription is in place (subscribe is asynchronous)
        for _ in range(50):
            pub.publish("smoke/x", b"hello", qos=1).wait_for_publish(5)
            try:
                assert got.get(timeout=0.2) == b"hello"
                break
            except queue.Empty:
                continue
        else:
            raise AssertionError("no message came back through mosquitto")
        pub.loop_stop()
        pub.disconnect()
    finally:
        sub.loop_stop()
        sub.disconnect()


def test_server_restart_keeps_port(make_influxdb: object) -> None:
    server = make_influxdb()  # type: ignore[operator]
    port = server.port
    server.stop()
    assert not server.running
    server.start()
    assert server.running and server.port == port
