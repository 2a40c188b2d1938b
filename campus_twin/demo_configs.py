"""Pure builders of the demo's config files from the simulator manifest.

The demo writes ordinary config files (the same ones campus IT would write by hand) so what
runs in the demo is exactly the production code path, just pointed at loopback services.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

POLL_INTERVAL_S = 5.0


def agent_configs(
    manifest: dict[str, Any],
    broker: tuple[str, int],
    workdir: Path,
    metrics_ports: dict[str, int],
) -> dict[str, dict[str, Any]]:
    """One agent config per gateway (building), keyed by agent id."""
    by_agent: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for device_id, d in sorted(manifest["devices"].items()):
        by_agent[d["agent"]].append((device_id, d))
    clock = manifest.get("clock") or {"speed": 1.0}
    out: dict[str, dict[str, Any]] = {}
    for agent, devices in sorted(by_agent.items()):
        modbus = [
            {
                "id": device_id,
                "profile": d["profile"],
                "transport": {"type": "tcp", "host": d["host"], "port": d["port"]},
                "unit_id": d["unit_id"],
                "poll_interval_s": POLL_INTERVAL_S,
                "timeout_s": 1.0,
            }
            for device_id, d in devices
            if d["protocol"] == "modbus"
        ]
        subscriptions = [
            {"format": d["format"], "topic": d["topic"]} for _, d in devices if d["protocol"] == "mqtt"
        ]
        cfg: dict[str, Any] = {
            "site": manifest["site"],
            "agent": agent,
            "modbus": modbus,
            "upstream": {
                "broker": {"host": broker[0], "port": broker[1]},
                "batch_size": 500,
                "batch_interval_s": 1.0,
            },
            "buffer": {"path": str(workdir / "agents" / agent / "buffer.sqlite")},
            "health_interval_s": 10.0,
            "metrics": {"listen": f"127.0.0.1:{metrics_ports[agent]}"},
            "timezone": manifest.get("timezone", "Asia/Shanghai"),
            "clock": {k: clock[k] for k in ("speed", "origin_ns", "offset_ns") if k in clock},
        }
        if subscriptions:
            cfg["mqtt"] = {"broker": {"host": broker[0], "port": broker[1]}, "subscriptions": subscriptions}
        out[agent] = cfg
    return out


def ingest_config(
    broker: tuple[str, int], workdir: Path, metrics_port: int, clock: dict[str, Any] | None = None
) -> dict[str, Any]:
    # amqtt (the demo broker) has no shared subscriptions: a single ingest, plain subscription.
    # The agents' simulated clock too: ingest judges each batch's `sent` against its own clock.
    return {
        "clock": {k: v for k, v in (clock or {}).items() if k in ("speed", "origin_ns", "offset_ns")},
        "broker": {
            "host": broker[0],
            "port": broker[1],
            "client_id": "campus-twin-demo-ingest",
            "protocol": "3.1.1",
        },
        "share_group": None,
        "store": {"type": "sqlite", "path": str(workdir / "store.sqlite")},
        "bindings": str(workdir / "bindings.json"),
        "quarantine": {"path": str(workdir / "ingest-quarantine.sqlite")},
        "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
    }


def twin_config(site: str, name: str, ifc_files: list[Path], workdir: Path) -> dict[str, Any]:
    return {
        "campuses": [{"id": site, "name": name, "ifc": [str(p) for p in ifc_files]}],
        "cache_dir": str(workdir / "twin-cache"),
    }


def api_config(
    workdir: Path, host: str, port: int, broker: tuple[str, int], timezone: str, clock: dict[str, Any]
) -> dict[str, Any]:
    return {
        "clock": {k: clock[k] for k in ("speed", "origin_ns", "offset_ns") if k in clock},
        "twin_config": str(workdir / "twin.yaml"),
        "store": {"type": "sqlite", "path": str(workdir / "store.sqlite")},
        "tokens": {"file": str(workdir / "tokens.yaml"), "env": None},
        "timezone": timezone,
        "agent_health": {"type": "mqtt", "host": broker[0], "port": broker[1]},
        "bindings_export": str(workdir / "bindings.json"),
        "sessions_file": str(workdir / "api-sessions.sqlite"),
        "listen": f"{host}:{port}",
    }
