"""The whole pipeline for fault tests: Modbus simulator → agent → Mosquitto → ingest → InfluxDB.

The source of truth for "points sent" is the simulator, not the agent: every answer the
Modbus server puts on the wire is recorded with the wall-clock time it left
(`RecordingSimServer.answers`). The agent polls each TCP device strictly one request at a
time and stamps the readings of an answer when it arrives, so between two consecutive answers
of a device exactly one good timestamp of that device must exist in InfluxDB, carrying all
of the profile's points. That lets us count, per answer, whether its points arrived, without
trusting any counter of the component under test. Bad-quality readings (a silent slave: the
agent stores value-less `bad` points stamped when the timeout fired) are counted separately.

A uniquely named module (not conftest) so imports never resolve to another folder's helper.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from campus_twin.servers import InfluxDB, Mosquitto, free_port
from device_profiles.loader import load_library
from ingest.delivery import read_delivery
from simulators.modbus_faults import Fault
from simulators.modbus_server import ModbusSimServer, SimDevice
from tests.support.metrics import scrape
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "campus-twin"
PROFILE = "classroom-air-monitor"  # 9 points in one block read: one answer = one timestamp
SITE, AGENT, DB = "fault-site", "gw-F", "campus"
S = 1_000_000_000


def device_id(unit: int) -> str:
    return f"F-{100 + unit}-air"


class RecordingSimServer(ModbusSimServer):
    """The simulator, noting the send time of every normal (non-exception) answer per unit id."""

    def __init__(self, devices: list[SimDevice]) -> None:
        super().__init__(devices)
        self.answers: dict[int, list[int]] = defaultdict(list)

    def _trace_packet(self, sending: bool, packet: bytes) -> bytes:
        out = super()._trace_packet(sending, packet)
        if sending and len(out) > 7 and out[7] < 0x80 and out[6] not in self.faults:
            self.answers[out[6]].append(time.time_ns())
        return out


class SimThread:
    """The Modbus simulator on its own asyncio loop in a thread of the test process."""

    def __init__(self, n_devices: int) -> None:
        profile = load_library()[PROFILE]
        self.points = len([p for p in profile.points])
        self.server = RecordingSimServer([SimDevice(u, profile) for u in range(1, n_devices + 1)])
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="modbus-sim", daemon=True)
        self.thread.start()
        self._call(self.server.start())

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)  # type: ignore[arg-type]

    def set_fault(self, units: list[int], fault: Fault | None) -> None:
        async def apply() -> None:
            for u in units:
                self.server.set_fault(u, fault)

        self._call(apply())

    def answers(self) -> dict[int, list[int]]:
        async def snap() -> dict[int, list[int]]:
            return {u: list(ts) for u, ts in self.server.answers.items()}

        return asyncio.run_coroutine_threadsafe(snap(), self.loop).result(timeout=10)

    def close(self) -> None:
        self._call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Proc:
    """A `campus-twin … run CONFIG` child with a Prometheus /metrics port."""

    argv: list[str]
    log: Path
    metrics_port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_until(self._up, 30, f"{self.argv[1]} /metrics ({self.log})", every=0.2)

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.argv[1]} exited {self.proc.returncode}:\n{self.tail()}")
        try:
            self.metrics()
            return True
        except OSError:
            return False

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def metrics(self) -> dict[str, float]:
        return scrape(f"http://127.0.0.1:{self.metrics_port}/metrics")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"{self.argv[1]} ignored SIGTERM:\n{self.tail()}") from None


class LazyMosquitto(Mosquitto):
    """Mosquitto that writes its persistence file only on a clean shutdown (autosave every hour):
    what it holds for an offline subscriber lives in memory, as with a long production
    autosave_interval, so a SIGKILL loses all of it."""

    def _cmd(self) -> list[str]:
        cmd = super()._cmd()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(conf.read_text().replace("autosave_interval 1\n", "autosave_interval 3600\n"))
        return cmd


def wipe_broker_disk(broker: Mosquitto) -> None:
    """The (stopped) broker's disk is lost: its persistence file with every session, queued and
    retained message."""
    assert not broker.running
    files = list(broker.workdir.glob("mosquitto.db*"))
    assert files, f"no persistence file in {broker.workdir}"
    for f in files:
        f.unlink()


def agent_config(
    path: Path,
    broker: Mosquitto,
    sim_port: int,
    units: int,
    interval: float,
    metrics_port: int,
    buffer: str,
    extra: str = "",
) -> Path:
    devices = "".join(
        f"  - {{id: {device_id(u)}, profile: {PROFILE}, unit_id: {u}, poll_interval_s: {interval},"
        f" timeout_s: 0.5, retries: 0, transport: {{type: tcp, host: 127.0.0.1, port: {sim_port}}}}}\n"
        for u in range(1, units + 1)
    )
    path.write_text(
        f"""site: {SITE}
agent: {AGENT}
modbus:
{devices}upstream:
  broker: {{host: 127.0.0.1, port: {broker.port}, reconnect_min_s: 0.1, reconnect_max_s: 0.5}}
  batch_size: 500
  batch_interval_s: 0.2
  replay_rate: 100
  publish_timeout_s: 3
buffer: {buffer}
metrics: {{listen: "127.0.0.1:{metrics_port}"}}
health_interval_s: 2
{extra}""",
        encoding="utf-8",
    )
    return path


def ingest_config(
    path: Path,
    broker: Mosquitto,
    influx: InfluxDB,
    metrics_port: int,
    share_group: str | None,
    client_id: str,
) -> Path:
    doc = {
        "broker": {"host": broker.host, "port": broker.port, "client_id": client_id},
        "share_group": share_group,
        "site": SITE,
        "store": {
            "type": "influxdb",
            "url": influx.url,
            "database": DB,
            "create_database": True,
            "retry_for_s": 0.5,
            "timeout_s": 5,
        },
        "quarantine": {"path": str(path.parent / "quarantine.sqlite")},
        "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
        "batch": {"max_points": 5000, "max_delay_s": 0.2, "backoff_max_s": 0.5},
        "delivery": {"resend_after_s": 2.0, "ledger": str(path.parent / "delivery.db")},
    }
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


Stored = dict[str, dict[int, tuple[int, int]]]  # device → ts → (non-bad points, bad points)


def read_points(url: str) -> list[tuple[str, int, str, str]]:
    """Every stored point as (device, ts, quality, reason): for faults judged by what a point says."""
    q = 'SELECT "value", "reason" FROM /.*/ GROUP BY "device", "quality"'
    body = urllib.parse.urlencode({"q": q, "db": DB, "epoch": "ns"}).encode()
    with urllib.request.urlopen(f"{url}/query", data=body, timeout=20) as r:
        doc = json.loads(r.read())
    out: list[tuple[str, int, str, str]] = []
    for res in doc.get("results", []):
        for s in res.get("series", []):
            i = s["columns"].index("reason")
            out += [(s["tags"]["device"], v[0], s["tags"]["quality"], v[i] or "") for v in s["values"]]
    return out


def read_influx(url: str) -> Stored:
    """Every stored point, collapsed by InfluxDB on (measurement, tags, ts) — i.e. distinct."""
    q = 'SELECT "value", "reason" FROM /.*/ GROUP BY "device", "quality"'  # quality is a tag
    body = urllib.parse.urlencode({"q": q, "db": DB, "epoch": "ns"}).encode()
    with urllib.request.urlopen(f"{url}/query", data=body, timeout=20) as r:
        doc = json.loads(r.read())
    out: Stored = defaultdict(dict)
    for res in doc.get("results", []):
        if "error" in res and "database not found" not in res["error"]:
            raise AssertionError(f"InfluxDB query failed: {res['error']}")
        for s in res.get("series", []):
            dev, quality = s["tags"]["device"], s["tags"]["quality"]
            for ts, *_fields in s["values"]:
                good, bad = out[dev].get(ts, (0, 0))
                out[dev][ts] = (good, bad + 1) if quality == "bad" else (good + 1, bad)
    return out


@dataclass
class Account:
    """Sent vs stored for the answers the simulator sent up to `until_ns`."""

    answers: int = 0
    sent_points: int = 0
    stored_points: int = 0
    lost_points: int = 0
    lost_answers: list[tuple[int, int]] = field(default_factory=list)  # (unit, answer ns) with nothing
    extra_ts: int = 0  # good timestamps no answer explains (two for one answer, or none) — never allowed
    bad_points: int = 0  # value-less `bad` points stored (silent slave), at any ts


def account(answers: dict[int, list[int]], stored: Stored, points: int, until_ns: int) -> Account:
    acc = Account()
    for unit, sent in answers.items():
        by_ts = stored.get(device_id(unit), {})
        good = sorted(ts for ts, (g, _) in by_ts.items() if g)
        acc.bad_points += sum(b for _, b in by_ts.values())  # a timeout fires after its request
        matched = 0
        for i, s in enumerate(sent):
            if s > until_ns:
                break
            nxt = sent[i + 1] if i + 1 < len(sent) else s + 60 * S
            lo, hi = bisect.bisect_right(good, s), bisect.bisect_left(good, nxt)
            acc.answers += 1
            acc.sent_points += points
            if hi == lo:
                acc.lost_points += points
                acc.lost_answers.append((unit, s))
                continue
            matched += hi - lo
            acc.extra_ts += hi - lo - 1
            got = by_ts[good[lo]][0]
            acc.stored_points += min(got, points)
            acc.lost_points += max(0, points - got)
        first = sent[0] if sent else until_ns
        acc.extra_ts += sum(1 for ts in good if ts < first)
    return acc


@dataclass
class Pipeline:
    """All five parts, each restartable; see the module docstring for the accounting."""

    root: Path
    broker: Mosquitto
    influx: InfluxDB
    units: int
    interval: float
    buffer: str = "{path: buf/queue.sqlite}"
    share_group: str | None = None
    n_ingest: int = 1  # processes in the share group (they share one delivery ledger file)
    agent_extra: str = ""  # more agent config (YAML lines), e.g. a clock step to inject
    sim: SimThread = field(init=False)
    agent: Proc = field(init=False)
    ingest: Proc = field(init=False)
    ingests: list[Proc] = field(init=False)
    ingest_dups: float = 0.0  # duplicate batches counted by ingest processes that are gone

    def __post_init__(self) -> None:
        self.sim = SimThread(self.units)
        port = free_port()
        cfg = agent_config(
            self.root / "agent.yaml",
            self.broker,
            self.sim.server.port,
            self.units,
            self.interval,
            port,
            self.buffer,
            self.agent_extra,
        )
        self.agent = Proc([str(CLI), "agent", "run", str(cfg)], self.root / "agent.log", port)
        self.ingests = []
        for i in range(self.n_ingest):
            port = free_port()
            name = "ingest" if i == 0 else f"ingest{i}"
            icfg = ingest_config(
                self.root / f"{name}.yaml", self.broker, self.influx, port, self.share_group, f"{name}-faults"
            )
            self.ingests.append(Proc([str(CLI), "ingest", "run", str(icfg)], self.root / f"{name}.log", port))
        self.ingest = self.ingests[0]

    @property
    def points(self) -> int:
        return self.sim.points

    @property
    def rate(self) -> float:
        return self.units * self.points / self.interval

    def start(self) -> None:
        for p in self.ingests:
            p.start()
        self.agent.start()
        wait_until(
            lambda: self.stored_points() > 3 * self.units * self.points, 30, "points flowing", every=0.2
        )

    def stored_points(self) -> int:
        return sum(g for dev in read_influx(self.influx.url).values() for g, _ in dev.values())

    def account(self, until_ns: int) -> Account:
        return account(self.sim.answers(), read_influx(self.influx.url), self.points, until_ns)

    def agent_dropped(self) -> int:
        m = self.agent.metrics()
        return int(sum(v for k, v in m.items() if k.startswith("campus_agent_dropped_readings_total")))

    def ingest_duplicates(self) -> float:
        now = 0.0
        for p in self.ingests:
            with contextlib.suppress(OSError):
                now += p.metrics().get("campus_ingest_seq_duplicates_total", 0.0)
        return self.ingest_dups + now

    def kill_ingest(self, i: int = 0) -> None:
        self.ingest_dups += self.ingests[i].metrics().get("campus_ingest_seq_duplicates_total", 0.0)
        self.ingests[i].kill()

    def reported_lost(self) -> int:
        """Readings the agent answered `gone` for, as the delivery ledger recorded them."""
        return sum(s.lost_readings for s in read_delivery(self.root / "delivery.db"))

    def resend_requests(self) -> int:
        """Resend requests the ingest processes logged (proof the broker really lost something)."""
        return sum(p.log.read_text(errors="replace").count("asked to resend") for p in self.ingests)

    def agent_drops(self, reason: str) -> int:
        return int(self.agent.metrics().get(f'campus_agent_dropped_readings_total{{reason="{reason}"}}', 0))

    def wait_recovered(
        self, until_ns: int, done: Callable[[Account], bool], timeout: float
    ) -> tuple[Account, float]:
        """Poll InfluxDB until `done(account of answers up to until_ns)`; returns the last account
        and the seconds from `until_ns` to that moment (nan if it never came)."""
        deadline = time.monotonic() + timeout
        while True:
            acc = self.account(until_ns)
            if done(acc):
                return acc, (time.time_ns() - until_ns) / S
            if time.monotonic() > deadline:
                return acc, float("nan")
            time.sleep(0.5)

    def close(self) -> None:
        for p in (self.agent, *self.ingests):
            if p.proc is not None and p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(10)
        self.sim.close()
