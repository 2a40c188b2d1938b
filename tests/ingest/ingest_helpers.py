"""Helpers for ingest tests: agent-like publishing, ingest configs, ingest subprocesses.

A uniquely named module (not conftest) so imports never resolve to another folder's conftest.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campus_twin.servers import Mosquitto, free_port
from contract.telemetry import CANONICAL_UNITS, Quality, Reading, encode_batch, make_batch
from tests.support.metrics import scrape
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "campus-twin"
S = 1_000_000_000
T0 = 1_763_884_800 * S
QUANTITIES = ("co2", "temperature", "humidity")


def readings(site: str, agent: str, seq: int, n: int, devices: int = 5) -> list[Reading]:
    """`n` distinct readings for batch `seq`: values derive from (seq, i) so tests can check them."""
    out = []
    for i in range(n):
        q = QUANTITIES[i % len(QUANTITIES)]
        dev = f"{agent}-d{i % devices}"
        out.append(
            Reading(
                site=site,
                agent=agent,
                device=dev,
                point=q,
                quantity=q,
                value=float(seq * 1000 + i) / 4,
                unit=CANONICAL_UNITS[q],
                ts=T0 + (seq * n + i) * S,
                quality=Quality.GOOD,
            )
        )
    return out


def payload(site: str, agent: str, seq: int, n: int) -> bytes:
    return encode_batch(make_batch(site, agent, seq, T0 + seq * S, readings(site, agent, seq, n)))


def write_config(path: Path, broker: Mosquitto, store: dict[str, Any], **extra: Any) -> Path:
    """An ingest config YAML (JSON is valid YAML) with a free metrics port."""
    import json

    doc = {
        "broker": {"host": broker.host, "port": broker.port, "client_id": extra.pop("client_id", "ingest-t")},
        "share_group": extra.pop("share_group", "ingest"),
        "store": store,
        "quarantine": {"path": str(path.parent / "quarantine.sqlite")},
        "metrics": {"listen": f"127.0.0.1:{extra.pop('metrics_port', free_port())}"},
        "batch": extra.pop("batch", {"max_points": 2000, "max_delay_s": 0.2}),
        **extra,
    }
    path.write_text(json.dumps(doc, indent=1))
    return path


@dataclass
class IngestProcess:
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0
    logs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        import json

        self.metrics_port = int(json.loads(self.config.read_text())["metrics"]["listen"].rsplit(":", 1)[1])
        out = self.log.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [str(CLI), "ingest", "run", str(self.config)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
        out.close()
        wait_until(self._metrics_up, 30, f"ingest metrics port ({self.log})")

    def _metrics_up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"ingest exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            self.metrics()
            return True
        except OSError:
            return False

    def metrics(self) -> dict[str, float]:
        return scrape(f"http://127.0.0.1:{self.metrics_port}/metrics")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"ingest did not stop on SIGTERM:\n{self.log.read_text()[-3000:]}") from None
