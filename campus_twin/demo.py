"""`campus-twin demo`: a live twin of a generated campus, on one machine, in one command.

Generates the sample campus IFC from the campus spec, starts an embedded MQTT broker
(amqtt, in-process), the simulators, one edge agent per building, ingest into the embedded
SQLite store and the API + web UI — each as the same `campus-twin …` command campus IT would
run, with generated config files in the work dir. Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML

from campus_twin.broker import EmbeddedBroker
from campus_twin.demo_configs import agent_configs, api_config, ingest_config, twin_config
from campus_twin.servers import free_port
from campus_twin.supervisor import Supervisor
from contract.campus import CampusSpec
from contract.yamlio import load_model

log = logging.getLogger("campus_twin.demo")
REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO / "examples" / "campus" / "demo-campus.yaml"


@dataclass
class DemoOptions:
    spec: Path = DEFAULT_SPEC
    workdir: Path = Path("var/demo")
    host: str = "127.0.0.1"
    port: int = 8000
    mqtt_port: int = 0
    speed: float = 1.0
    start: str | None = None  # campus-local ISO time the simulated clock starts at
    duration_s: float | None = None


def _write_yaml(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    y = YAML()
    y.default_flow_style = False
    with path.open("w", encoding="utf-8") as f:
        y.dump(doc, f)
    return path


def default_start(timezone: str, now: dt.datetime | None = None) -> str:
    """Sped-up demos start at 07:30 of the current (or next) school day, so a class day plays."""
    local = (now or dt.datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone))
    day = local.date()
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return f"{day.isoformat()}T07:30:00"


def _wait_for(predicate: Any, what: str, timeout_s: float, sup: Supervisor) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        dead = sup.dead()
        if dead:
            c = dead[0]
            raise RuntimeError(
                f"{c.name} exited with {c.proc.returncode} while waiting for {what}:\n{sup.tail(c)}"
            )
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class _Stop:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def run_demo(opts: DemoOptions) -> int:
    spec = load_model(CampusSpec, opts.spec)
    work = opts.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    for stale in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "manifest.json"):
        (work / stale).unlink(missing_ok=True)
    exe = [sys.executable, "-m", "campus_twin.cli"]

    # 1. the BIM model and what it binds
    from twin.binding import binding_table
    from twin.config import load_twin
    from twin.generator import generate_campus

    files = [g.path for g in generate_campus(spec, work / "ifc")]
    twin_path = _write_yaml(work / "twin.yaml", twin_config(spec.site, spec.name, files, work))
    campuses = load_twin(twin_path)
    binding_table(campuses).save(work / "bindings.json")
    tokens = {"admin": secrets.token_urlsafe(24), "viewer": secrets.token_urlsafe(24)}
    _write_yaml(
        work / "tokens.yaml",
        {"tokens": [{"name": f"demo-{role}", "role": role, "token": tok} for role, tok in tokens.items()]},
    )
    (work / "tokens.yaml").chmod(0o600)

    # 2. broker, simulators, agents, ingest, API
    broker = EmbeddedBroker(port=opts.mqtt_port or free_port())
    broker.start()
    mqtt = (broker.host, broker.port)
    sup = Supervisor(work / "logs")
    stop = _Stop()
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        start = opts.start or (default_start(spec.timezone) if opts.speed != 1.0 else None)
        sim_argv = [*exe, "sim", "run", "--campus", str(opts.spec), "--broker", f"{mqtt[0]}:{mqtt[1]}"]
        sim_argv += ["--speed", str(opts.speed), "--manifest", str(work / "manifest.json")]
        sim_argv += ["--mqtt-interval-s", "5", "--tick-s", "1"]
        if start:
            sim_argv += ["--start", start]
        sup.start("sim", sim_argv)
        _wait_for(lambda: (work / "manifest.json").exists(), "the simulators' manifest", 60, sup)
        manifest = json.loads((work / "manifest.json").read_text(encoding="utf-8"))

        agents = agent_configs(manifest, mqtt, work, {a: free_port() for a in _agents(manifest)})
        for agent, cfg in agents.items():
            path = _write_yaml(work / "agents" / agent / "agent.yaml", cfg)
            sup.start(f"agent-{agent}", [*exe, "agent", "run", str(path)])
        ingest_path = _write_yaml(
            work / "ingest.yaml", ingest_config(mqtt, work, free_port(), manifest.get("clock"))
        )
        sup.start("ingest", [*exe, "ingest", "run", str(ingest_path)])
        api_path = _write_yaml(
            work / "api.yaml",
            api_config(work, opts.host, opts.port, mqtt, spec.timezone, manifest.get("clock") or {}),
        )
        sup.start("api", [*exe, "api", "serve", str(api_path)])
        base = f"http://{opts.host}:{opts.port}"
        _wait_for(lambda: _http_ok(f"{base}/api/v1/health"), f"the API at {base}", 120, sup)

        print(
            f"\ncampus-twin demo is running — 数字孪生校园演示已启动\n"
            f"  web UI / 网页:   {base}/\n"
            f"  admin token:    {tokens['admin']}\n"
            f"  viewer token:   {tokens['viewer']}\n"
            f"  campus:         {spec.name} ({len(manifest['devices'])} devices, {len(agents)} gateways)\n"
            f"  speed:          {opts.speed}x{'  from ' + start if start else ''}\n"
            f"  work dir:       {work} (logs in {work / 'logs'})\n"
            f"Press Ctrl-C to stop. 按 Ctrl-C 停止。\n",
            flush=True,
        )
        deadline = time.monotonic() + opts.duration_s if opts.duration_s else None
        while not stop.requested and (deadline is None or time.monotonic() < deadline):
            dead = sup.dead()
            if dead:
                c = dead[0]
                print(
                    f"{c.name} exited with {c.proc.returncode}; stopping the demo:\n{sup.tail(c)}",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("stopping… 正在停止…", flush=True)
        sup.stop_all()
        broker.stop()
        for s, h in old.items():
            signal.signal(s, h)


def _agents(manifest: dict[str, Any]) -> list[str]:
    return sorted({d["agent"] for d in manifest["devices"].values()})
