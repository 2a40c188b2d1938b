"""Telemetry codec speed: encode+decode(validated) readings/s, vs bare json.dumps/loads of the
same payload (the ceiling any JSON codec could reach) and vs a keyed-object encoding."""

from __future__ import annotations

import argparse
import json
import time

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


def _rate(fn: object, n_items: int, min_s: float = 0.5) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_s:
        fn()  # type: ignore[operator]
        count += 1
    return n_items * count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench contract")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    batch = make_batch("sz-01", "gw-A", 1, TS, _readings(args.batch))
    payload = encode_batch(batch)
    doc = json.loads(payload)
    keyed = json.dumps([r.model_dump(mode="json") for r in batch.readings]).encode()
    encode = _rate(lambda: encode_batch(batch), args.batch)
    decode = _rate(lambda: decode_batch(payload), args.batch)
    raw = _rate(lambda: json.loads(json.dumps(doc)), args.batch)
    result = {
        "batch": args.batch,
        "bytes_per_reading": round(len(payload) / args.batch, 1),
        "keyed_bytes_per_reading": round(len(keyed) / args.batch, 1),
        "encode_readings_per_s": round(encode),
        "decode_validated_readings_per_s": round(decode),
        "raw_json_roundtrip_readings_per_s": round(raw),
        "ratio_decode_vs_raw": round(decode / raw, 3),
    }
    for k, v in result.items():
        print(f"{k:36s} {v}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
