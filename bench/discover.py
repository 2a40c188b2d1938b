"""Discovery time per unit id and per line setting (`campus-twin bench discover`).

An RS485 line on a pseudo-terminal at 9600 baud (simulators.serial_line) with 8 slaves of the
discovery test (5 models, 2 unknown) behind it, the simulators on their own thread. Scans
unit ids 1..N at the line's own setting and at a wrong baud rate (every id silent), and the
same slaves as RTU over TCP (no baud rate to scan). Figures: seconds per silent unit id (the
baseline is the probe timeout itself), per answering unit id, identification per answering
unit (FC 43/14, FC 17 and every fingerprint read), and per line setting for all 247 ids.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from device_profiles.loader import load_library, load_profile
from edge_agent.discover.fingerprint import reads_for_all
from edge_agent.discover.lines import Line, Setting
from edge_agent.discover.scan import _Link, identify, probe
from simulators.modbus_server import ModbusSimServer, SimDevice
from simulators.serial_line import PtyLine

_UNKNOWN = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "edge_agent"
    / "discover_data"
    / "fan-coil-controller.yaml"
)
_SLAVES = {3: "classroom-air-monitor", 17: "classroom-air-monitor", 5: "chint-dtsu666", 6: "chint-dtsu666",
           9: "eastron-sdm630", 12: "renke-rs-co2-n01", 20: None, 21: None}  # fmt: skip


def _serve(link: Path) -> tuple[asyncio.AbstractEventLoop, ModbusSimServer, PtyLine, threading.Thread]:
    lib = load_library()
    fcu = load_profile(_UNKNOWN)
    devices = [SimDevice(u, lib[n], baudrate=9600) if n else SimDevice(u, fcu) for u, n in _SLAVES.items()]
    loop = asyncio.new_event_loop()
    server = ModbusSimServer(devices, framer="rtu")
    holder: list[PtyLine] = []
    ready = threading.Event()

    async def start() -> None:
        await server.start()
        line = PtyLine(link, "127.0.0.1", server.port, 9600)
        await line.start()
        holder.append(line)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    if not ready.wait(10):
        raise RuntimeError("simulators did not start")
    return loop, server, holder[0], t


async def _measure(line: Line, setting: Setting, units: Sequence[int], timeout: float) -> dict[str, Any]:
    reads = reads_for_all(p for p in load_library().values() if p.identify)
    link = _Link(line, setting, timeout)
    t0 = time.perf_counter()
    await link.connect()
    connect_s = time.perf_counter() - t0
    silent: list[float] = []
    answering: list[float] = []
    hits = []
    for u in units:
        t = time.perf_counter()
        ok = await probe(link, u)
        (answering if ok else silent).append(time.perf_counter() - t)
        if ok:
            hits.append(u)
    ident: list[float] = []
    for u in hits:
        t = time.perf_counter()
        await identify(link, u, setting, reads)
        ident.append(time.perf_counter() - t)
    link.close()

    def mean(xs: list[float]) -> float | None:
        return round(sum(xs) / len(xs), 4) if xs else None

    per_silent = mean(silent) or timeout
    per_answer = mean(answering) or 0.0
    return {
        "line": str(line),
        "setting": str(setting),
        "connect_s": round(connect_s, 4),
        "silent_per_unit_s": mean(silent),
        "answering_per_unit_s": mean(answering),
        "identify_per_unit_s": mean(ident),
        "fingerprint_reads": len(reads) + 2,
        "found": hits,
        "setting_247_ids_s": round(connect_s + (247 - len(hits)) * per_silent + len(hits) * per_answer, 1),
        "ratio_silent_to_timeout": round(per_silent / timeout, 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench discover", description=__doc__)
    ap.add_argument("--timeout", type=float, default=0.2, help="probe/read timeout (s)")
    ap.add_argument("--units", type=int, default=30, help="unit ids 1..N to probe per setting")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import logging

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp) / "ttyBENCH"
        loop, server, pty, thread = _serve(link)
        try:
            units = list(range(1, args.units + 1))
            rows = [
                asyncio.run(_measure(Line("rtu", port=str(link)), Setting(9600, "N"), units, args.timeout)),
                asyncio.run(_measure(Line("rtu", port=str(link)), Setting(4800, "N"), units, args.timeout)),
                asyncio.run(
                    _measure(
                        Line("rtu-over-tcp", host="127.0.0.1", tcp_port=server.port),
                        Setting(),
                        units,
                        args.timeout,
                    )
                ),
            ]
        finally:

            async def stop() -> None:
                await pty.stop()
                await server.stop()

            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
    print(
        f"discovery, timeout {args.timeout:g} s, unit ids 1..{args.units}, 8 slaves (writes seen: {server.writes})"
    )
    for r in rows:
        print(
            f"  {r['line']:>24s} {r['setting']:>9s}: silent id {r['silent_per_unit_s']} s "
            f"(×{r['ratio_silent_to_timeout']} of the timeout), answering id {r['answering_per_unit_s']} s, "
            f"identify {r['identify_per_unit_s']} s/unit ({r['fingerprint_reads']} requests), found {len(r['found'])}; "
            f"247 ids at this setting ≈ {r['setting_247_ids_s']} s"
        )
    if args.json:
        print(json.dumps({"timeout_s": args.timeout, "rows": rows}))
    return 0
