"""MQTT southbound decoding speed: sensor messages/s through the format-driven decoder and the
normaliser (catalogue units, rounding, ranges), against `json.loads` of the same payloads in the
same run (the floor any decoder pays). Payloads come from the simulators' encoder."""

from __future__ import annotations

import argparse
import json
from zoneinfo import ZoneInfo

from bench.timing import print_figures, rate
from edge_agent.config import Subscription
from edge_agent.normalise import Normaliser
from edge_agent.sources.mqtt.formats import MqttDecoder
from simulators import mqtt_formats

TZ = ZoneInfo("Asia/Shanghai")
T_NS = 1_795_395_600_000_000_000


def _messages(n: int) -> list[tuple[Subscription, str, bytes]]:
    z2m, tas = Subscription(format="zigbee2mqtt"), Subscription(format="tasmota")
    out = []
    for i in range(n):
        values = {"temperature": 20 + i % 7 * 0.37, "humidity": 40 + i % 11, "co2": 500 + i % 900}
        if i % 2:
            m = mqtt_formats.zigbee2mqtt(f"A-{i % 50}-env", values, linkquality=100, battery=90)
            out.append((z2m, m.topic, m.payload))
        else:
            m = mqtt_formats.tasmota(f"A-{i % 50}-node", values, t_ns=T_NS - 10**9, tz=TZ)
            out.append((tas, m.topic, m.payload))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench mqtt")
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    msgs = _messages(args.messages)
    decoder, norm = MqttDecoder(TZ), Normaliser("bench", "gw")

    def decode_all() -> None:
        for sub, topic, payload in msgs:
            norm.normalise(decoder.decode(sub, topic, payload, T_NS).samples)

    def parse_all() -> None:
        for _, _, payload in msgs:
            json.loads(payload)

    decode = rate(decode_all, len(msgs))
    parse = rate(parse_all, len(msgs))
    result = {
        "messages": len(msgs),
        "decode_normalise_messages_per_s": round(decode),
        "json_loads_messages_per_s": round(parse),
        "ratio_decode_vs_json_loads": round(decode / parse, 3),
    }
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
