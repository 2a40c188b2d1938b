"""The Modbus load side of the agent benchmarks (one helper for `agent` and `agent-throughput`).

`StaticSims` starts N processes of `simulators.modbus_static` (static register images, pipelined
answers), each its own port, so the simulator does not share a core's GIL with the bench or the
agent. `capacity` measures what those processes serve in the same run to a pipelined raw client
(in its own process per port), so a reader sees whether the agent or the simulator is the limit:
the figure is a lower bound of the simulator (the client is Python too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent


class StaticSims:
    """`processes` static Modbus TCP simulators serving unit ids 1..units of one profile."""

    def __init__(self, profile: str | Path, units: int, processes: int = 2) -> None:
        self.ports: list[int] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        cmd = [sys.executable, "-m", "simulators.modbus_static", "--profile", str(profile)]
        try:
            for _ in range(processes):
                proc = subprocess.Popen(
                    [*cmd, "--units", str(units)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO
                )
                self._procs.append(proc)
                assert proc.stdout is not None
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError("static Modbus simulator exited before listening")
                self.ports.append(int(json.loads(line)["port"]))
        except BaseException:
            self.close()
            raise

    def port_for(self, i: int) -> int:
        """The port device i uses: devices are spread round-robin over the processes."""
        return self.ports[i % len(self.ports)]

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def close(self) -> None:
        for p in self._procs:
            if p.poll() is None and p.stdin is not None:
                p.stdin.close()
        for p in self._procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        self._procs = []

    def __enter__(self) -> StaticSims:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def capacity(
    ports: list[int], units: int, address: int, count: int, points: int, seconds: float = 3.0
) -> dict[str, float]:
    """Requests/s the simulators answer to pipelined clients reading `count` holding registers at
    `address` (one client process per port, all at once), and the readings/s that is with
    `points` points per request: the most this load side offers the agent in this run."""
    cmd = [sys.executable, "-m", "bench.modbus_sims", "--units", str(units), "--count", str(count)]
    cmd += ["--address", str(address)]
    procs = [
        subprocess.Popen(
            [*cmd, "--port", str(p), "--seconds", str(seconds)], stdout=subprocess.PIPE, cwd=REPO
        )
        for p in ports
    ]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 30)
        total += float(json.loads(out.decode().strip().splitlines()[-1])["requests_per_s"])
    return {"requests_per_s": round(total), "readings_per_s": round(total * points)}


async def _hammer(
    port: int, units: int, address: int, count: int, seconds: float, conns: int = 4, depth: int = 16
) -> float:
    done = 0

    async def one(c: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        frames = [
            struct.pack(">HHHBBHH", t, 0, 6, (c * depth + t) % units + 1, 3, address, count)
            for t in range(depth)
        ]
        answer = 9 + 2 * count
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            writer.write(b"".join(frames))
            await reader.readexactly(answer * depth)
            done += depth
        writer.close()

    t0 = time.monotonic()
    await asyncio.gather(*(one(c) for c in range(conns)))
    return done / (time.monotonic() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.modbus_sims", description="pipelined FC3 client")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--address", type=int, default=0, help="first holding register")
    ap.add_argument("--count", type=int, default=20, help="registers per request")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    rate = asyncio.run(_hammer(args.port, args.units, args.address, args.count, args.seconds))
    print(json.dumps({"requests_per_s": round(rate, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
