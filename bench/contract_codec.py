"""Telemetry codec speed: encode+decode(validated) readings/s, vs bare json.dumps/loads of the
same payload (the ceiling any JSON codec could reach) and vs a keyed-object encoding."""

from __future__ import annotations

import argparse
import json

from bench.timing import print_figures, rate
from contract.telemetry import Reading, decode_batch, encode_batch, make_batch

TS = 1_763_000_000_000_000_000


def _readings(n: int) -> list[Reading]:
    return [
        Reading(
            site="sz-01",
            agent="gw-A",
            device=f"A-{i % 50:03d}-air",
            point="co2",
            quantity="co2",
            value=400.0 + i % 900,
            unit="ppm",
            ts=TS + i,
        )
        for i in range(n)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench contract")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    batch = make_batch("sz-01", "gw-A", 1, TS, _readings(args.batch))
    payload = encode_batch(batch)
    doc = json.loads(payload)
    keyed = json.dumps([r.model_dump(mode="json") for r in batch.readings]).encode()
    encode = rate(lambda: encode_batch(batch), args.batch)
    decode = rate(lambda: decode_batch(payload), args.batch)
    raw = rate(lambda: json.loads(json.dumps(doc)), args.batch)
    result = {
        "batch": args.batch,
        "bytes_per_reading": round(len(payload) / args.batch, 1),
        "keyed_bytes_per_reading": round(len(keyed) / args.batch, 1),
        "encode_readings_per_s": round(encode),
        "decode_validated_readings_per_s": round(decode),
        "raw_json_roundtrip_readings_per_s": round(raw),
        "ratio_decode_vs_raw": round(decode / raw, 3),
    }
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
