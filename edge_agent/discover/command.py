"""`campus-twin agent discover LINE`: scan a line, recognise the models, propose the config."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 2, 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "line",
        metavar="LINE",
        help="/dev/ttyUSB0, rtu-over-tcp://HOST:PORT, tcp://HOST:PORT, or mqtt://HOST:PORT (sensor broker)",
    )
    p.add_argument(
        "--units", default="1-247", help="unit ids to probe, e.g. 1-247 or 1-20,100 (default 1-247)"
    )
    p.add_argument(
        "--bauds",
        default=None,
        help="serial: baud rates to try, commonest first (default 9600,4800,19200,2400,38400,115200)",
    )
    p.add_argument("--parities", default=None, help="serial: parities to try (default N,E)")
    p.add_argument("--timeout", type=float, default=0.3, help="seconds per probe and per read (default 0.3)")
    p.add_argument(
        "--profiles",
        action="append",
        default=[],
        metavar="DIR",
        help="extra device-profile folder (repeatable)",
    )
    p.add_argument(
        "--print", dest="print_config", action="store_true", help="print the proposed modbus: section"
    )
    p.add_argument(
        "--write", metavar="CONFIG", type=Path, help="add the proposed devices to this agent config"
    )
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--listen", type=float, default=3.0, help="mqtt: seconds to gather retained announcements")


def run(args: argparse.Namespace) -> int:
    if args.line.startswith("mqtt://"):
        return run_mqtt(args)
    from device_profiles.loader import LIBRARY_DIR
    from edge_agent.discover.fingerprint import reads_for_all, verdict
    from edge_agent.discover.lines import (
        DEFAULT_BAUDS,
        DEFAULT_PARITIES,
        estimate,
        parse_bauds,
        parse_line,
        parse_parities,
        parse_units,
        settings_for,
    )
    from edge_agent.discover.report import UnitReport, devices_yaml, unit_text, write_config
    from edge_agent.discover.scan import scan
    from edge_agent.profiles import load_profiles

    line = parse_line(args.line)
    units = parse_units(args.units)
    bauds = parse_bauds(args.bauds) if args.bauds else list(DEFAULT_BAUDS)
    parities = parse_parities(args.parities or ",".join(DEFAULT_PARITIES))
    if not 0.02 <= args.timeout <= 10:
        raise ValueError(f"--timeout {args.timeout}: use 0.02–10 s")
    profiles = load_profiles([LIBRARY_DIR, *(Path(d) for d in args.profiles)])
    for problem in profiles.problems:
        print(f"warning: {problem}", file=sys.stderr)
    matchable = {n: p for n, p in profiles.profiles.items() if p.identify is not None}
    reads = reads_for_all(matchable.values())
    settings = settings_for(line, bauds, parities)
    est = estimate(len(settings), len(units), args.timeout, len(reads))
    say = (lambda s: print(s, file=sys.stderr)) if args.json else print
    say(
        f"发现 discover {line}: {len(settings)} setting(s), unit ids {args.units}, "
        f"{len(matchable)} profiles with a fingerprint ({len(profiles.profiles) - len(matchable)} without)"
    )
    say(est.text())
    started = time.monotonic()
    try:
        result = asyncio.run(
            scan(line, settings, units, args.timeout, reads, lambda s: print(f"  {s}", file=sys.stderr))
        )
    except (ConnectionError, OSError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    elapsed = time.monotonic() - started
    reports = [
        UnitReport(line, f.setting, f.observation.unit_id, verdict(profiles.profiles, f.observation))
        for f in sorted(result.found, key=lambda f: f.observation.unit_id)
    ]
    bound = est.total_s(len(reports))
    if args.json:
        print(
            json.dumps(
                _json(reports, elapsed, bound, result.per_setting_s, result.probes),
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for r in reports:
            print("\n".join(unit_text(r)))
        counts = {
            s: sum(r.verdict.status == s for r in reports) for s in ("identified", "ambiguous", "unknown")
        }
        print(
            f"found {len(reports)} unit(s): {counts['identified']} identified, {counts['ambiguous']} ambiguous, "
            f"{counts['unknown']} unknown; took {elapsed:.1f} s (bound {bound:.1f} s)"
        )
    if args.print_config:
        print(devices_yaml(reports, args.timeout), end="")
    if args.write:
        added = write_config(args.write, reports, args.timeout)
        say(f"wrote {added} device(s) to {args.write}; next: campus-twin agent check {args.write} --connect")
    return EXIT_OK


def _json(
    reports: list[Any], elapsed: float, bound: float, per_setting: dict[str, float], probes: int
) -> dict[str, Any]:
    return {
        "elapsed_s": round(elapsed, 3),
        "bound_s": round(bound, 3),
        "probes": probes,
        "per_setting_s": {k: round(v, 3) for k, v in per_setting.items()},
        "units": [
            {
                "unit_id": r.unit_id,
                "setting": str(r.setting),
                "transport": r.setting.transport(r.line),
                "status": r.verdict.status,
                "profile": r.verdict.profile,
                "candidates": [
                    {
                        "profile": c.profile,
                        "score": c.score,
                        "confidence": c.confidence,
                        "ruled_out": c.contradicted,
                        "evidence": [e.text for e in c.evidence if e.weight != 0],
                    }
                    for c in r.verdict.candidates
                ],
                "tell_apart": r.verdict.tell_apart,
                "answered": r.verdict.answered,
            }
            for r in reports
        ],
    }


def run_mqtt(args: argparse.Namespace) -> int:
    """Zigbee2MQTT and Home Assistant announcements on a sensor broker → proposed subscriptions."""
    from urllib.parse import urlsplit

    from edge_agent.discover.mqtt import (
        collect,
        home_assistant_devices,
        proposed_subscriptions,
        zigbee2mqtt_devices,
    )
    from edge_agent.discover.report import subscriptions_yaml, write_mqtt_config

    url = urlsplit(args.line)
    if not url.hostname:
        raise ValueError(f"LINE {args.line!r}: no host")
    port = url.port or 1883
    if not 0.2 <= args.listen <= 600:
        raise ValueError(f"--listen {args.listen}: use 0.2–600 s")
    say = (lambda s: print(s, file=sys.stderr)) if args.json else print
    say(
        f"发现 discover mqtt://{url.hostname}:{port}: retained zigbee2mqtt/bridge/devices and homeassistant/…/config"
    )
    say(f"估计 estimate: ≤ {args.listen + 5:.0f} s (connect ≤ 5 s, listen {args.listen:g} s)")
    try:
        got = collect(url.hostname, port, args.listen)
    except (ConnectionError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    devices = []
    if "zigbee2mqtt/bridge/devices" in got:
        devices += zigbee2mqtt_devices(got["zigbee2mqtt/bridge/devices"])
    devices += home_assistant_devices({t: p for t, p in got.items() if t.startswith("homeassistant/")})
    subs = proposed_subscriptions(devices)
    if args.json:
        doc = {
            "devices": [
                {"source": d.source, "name": d.name, "model": d.model, "topics": d.topics,
                 "points": [{"key": p.key, "quantity": p.quantity, "unit": p.unit} for p in d.points]}
                for d in devices
            ],
            "subscriptions": subs,
        }  # fmt: skip
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for d in devices:
            print(f"{d.source:14s} {d.name} ({d.model or 'model ?'})")
            for p in d.points:
                what = f"{p.quantity} {p.label}" if p.quantity else "not a catalogue quantity: not proposed"
                print(f"      {p.key:24s} {p.unit or '-':8s} → {what}")
        print(f"found {len(devices)} device(s); proposed {len(subs)} subscription(s)")
    if args.print_config:
        print(subscriptions_yaml(subs), end="")
    if args.write:
        added = write_mqtt_config(args.write, url.hostname, port, subs)
        say(
            f"wrote {added} subscription(s) to {args.write}; next: campus-twin agent check {args.write} --connect"
        )
    return EXIT_OK
