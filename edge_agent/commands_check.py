"""`agent check [--connect]` and `agent probe`: what the agent will do, and whether it can.

Exit codes (also in edge_agent/README.md), the same for every agent command:
0 all fine (warnings allowed) · 1 reachable, but some points bad · 2 config or profile error ·
3 something the config needs is unreachable (a broker, or a device that did not answer).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.clock import Clock, WallClock
from device_profiles.mqtt_format import formats_for
from device_profiles.schema import DeviceProfile, profile_warnings
from edge_agent.config import AgentConfig, BrokerConfig
from edge_agent.profiles import ProfileSet
from edge_agent.samples import Sample

EXIT_OK, EXIT_BAD_POINTS, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3


def check_report(cfg: AgentConfig, profiles: ProfileSet | Mapping[str, DeviceProfile]) -> tuple[str, bool]:
    """Validate what YAML validation cannot (profile names exist) and summarise the config;
    `ok` is False when the config cannot run (exit code 2)."""
    if not isinstance(profiles, ProfileSet):
        profiles = ProfileSet([], dict(profiles))
    errors = profiles.missing((d.id, d.profile) for d in cfg.modbus)
    lines = [f"site {cfg.site}, agent {cfg.agent}"]
    lines.append(f"upstream: {cfg.upstream.broker.describe()} (batch {cfg.upstream.batch_size}, QoS 1)")
    b = cfg.buffer
    lines.append(f"buffer: {b.path} (max {b.max_bytes} bytes, {b.max_age_s:.0f}s, {b.overflow})")
    lines.extend(buffer_warnings(b.path))
    lines.append("profiles from: " + ", ".join(str(d) for d in profiles.dirs))
    if cfg.mqtt:
        lines.append(f"sensor broker: {cfg.mqtt.broker.describe()}")
        for s in cfg.mqtt.subscriptions:
            lines.append(f"  subscribe {s.topic_filter} (format {s.format}, QoS {s.qos})")
            lines.extend(f"    {line}" for line in format_summary(s.format))
    good = [d for d in cfg.modbus if d.profile in profiles.profiles]
    for name in sorted({d.profile for d in good}):
        lines.extend(f"WARNING: {w}" for w in profile_warnings(profiles.profiles[name]))
    if good:
        from edge_agent.sources.modbus.commands import format_plan, plan_report

        lines.append(f"modbus: {len(cfg.modbus)} device(s)")
        lines.append(format_plan(plan_report(good, profiles.profiles)))
    for problem in profiles.problems:
        lines.append(f"WARNING: profile file not loaded: {problem}")
    for e in errors:
        lines.append(f"ERROR: {e}")
    lines.append("config OK" if not errors else f"config has {len(errors)} error(s)")
    return "\n".join(lines), not errors


def buffer_warnings(path: Path) -> list[str]:
    """What `agent run` would meet in the buffer file: a full disk, a corrupt file (both handled
    at run time, see edge_agent/buffer_faults.py, but a technician should know)."""
    import sqlite3

    from edge_agent import buffer_faults
    from edge_agent.buffer_faults import FULL_BELOW_BYTES, free_space, is_corrupt

    out = []
    try:
        free: int | None = buffer_faults._usage(path)[0]
    except OSError:
        free = None  # the folder does not exist yet: `agent run` creates it
    if free is not None and free < FULL_BELOW_BYTES:
        out.append(
            f"WARNING: buffer disk full ({free_space(path)}): readings that cannot be stored are "
            'dropped and counted (campus_agent_dropped_readings_total{reason="disk_full"})'
        )
    if not path.exists():
        return out
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            (check,) = db.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            db.close()
        problem = None if check == "ok" else str(check)
    except sqlite3.DatabaseError as exc:
        problem = str(exc) if is_corrupt(exc) else None
        if problem is None:
            out.append(f"WARNING: buffer {path} could not be checked: {exc}")
    if problem is not None:
        out.append(
            f"WARNING: buffer {path} is corrupt ({problem}): `agent run` moves it aside and starts a "
            "fresh one; `campus-twin agent buffer recover CONFIG FILE` then salvages what it still holds"
        )
    return out


@dataclass
class Row:
    target: str
    ok: bool
    detail: str
    bad_points: bool = False


async def broker_row(role: str, broker: BrokerConfig, client_id: str, timeout_s: float) -> Row:
    """Connect once with a client id of its own (never the running agent's: that would kick it)."""
    import aiomqtt

    from contract.secrets import SecretError
    from edge_agent.mqtt_connect import describe_mqtt_error
    from ops.mqtt_client import build_async_client as make_client

    target = f"{role} broker {broker.describe()}"
    t0 = time.monotonic()
    try:
        client = make_client(broker, f"{client_id}-check", clean_session=True, timeout=timeout_s)
        async with asyncio.timeout(timeout_s + 1):
            async with client:
                pass
    except (aiomqtt.MqttError, SecretError, OSError) as exc:
        return Row(
            target, False, describe_mqtt_error(exc) if isinstance(exc, aiomqtt.MqttError) else str(exc)
        )
    except TimeoutError:
        return Row(target, False, f"no CONNACK within {timeout_s + 1:g}s")
    return Row(target, True, f"connected in {1000 * (time.monotonic() - t0):.0f} ms")


async def modbus_rows(cfg: AgentConfig, profiles: ProfileSet, clock: Clock | None = None) -> list[Row]:
    """Poll every enabled device once (buses concurrently, each line in turn)."""
    from edge_agent.sources.modbus.poller import ModbusPoller

    devices = [d for d in cfg.modbus if d.enabled and d.profile in profiles.profiles]
    if not devices:
        return []
    poller = ModbusPoller(devices, profiles.profiles, _discard, clock or WallClock())
    try:
        await poller.poll_once()
    finally:
        poller.close()
    rows = []
    for d in devices:
        h = poller.health()[d.id]
        where = f"modbus {d.id} (unit {d.unit_id} on {d.link_key()})"
        good = h.points_last - h.bad_points_last
        if not h.up:
            detail = f"no answer: {h.last_reason}" + (f"; {h.last_hint}" if h.last_hint else "")
            rows.append(Row(where, False, detail))
        elif h.bad_points_last:
            detail = f"{good}/{h.points_last} points good; {h.last_reason}" + (
                f"; {h.last_hint}" if h.last_hint else ""
            )
            rows.append(Row(where, True, detail, bad_points=True))
        else:
            rows.append(Row(where, True, f"{good}/{h.points_last} points good"))
    return rows


async def connect_report(cfg: AgentConfig, profiles: ProfileSet, timeout_s: float = 5.0) -> tuple[str, int]:
    """`check --connect`: both brokers and every device, as a table, with the exit code."""
    jobs: list[Any] = [broker_row("upstream", cfg.upstream.broker, cfg.client_id("up"), timeout_s)]
    if cfg.mqtt and cfg.mqtt.subscriptions:
        jobs.append(broker_row("sensor", cfg.mqtt.broker, cfg.client_id("south"), timeout_s))
    results = await asyncio.gather(*jobs, modbus_rows(cfg, profiles))
    rows: list[Row] = [*results[:-1], *results[-1]]
    return format_rows(rows), exit_code(rows)


def format_rows(rows: Sequence[Row]) -> str:
    width = max((len(r.target) for r in rows), default=10)
    out = []
    for r in rows:
        mark = "OK  " if r.ok and not r.bad_points else ("BAD " if r.ok else "FAIL")
        out.append(f"{mark} {r.target:<{width}}  {r.detail}")
    return "\n".join(out)


def exit_code(rows: Sequence[Row]) -> int:
    if any(not r.ok for r in rows):
        return EXIT_UNREACHABLE
    if any(r.bad_points for r in rows):
        return EXIT_BAD_POINTS
    return EXIT_OK


def probe_exit_code(result: dict[str, dict[str, Any]], answered: bool) -> int:
    """0 every point usable, 1 some points bad, 3 the device did not answer at all."""
    if not answered:
        return EXIT_UNREACHABLE
    return EXIT_BAD_POINTS if any(v.get("quality") == "bad" for v in result.values()) else EXIT_OK


async def _discard(samples: Sequence[Sample]) -> None:
    return None


def format_summary(fmt: str) -> list[str]:
    """What a built-in format decodes (device_profiles/mqtt/), so a technician can see which
    keys are known; others are counted per device in the health report (`mqtt_decoding`)."""
    out = []
    for spec in formats_for(fmt):
        keys = ", ".join(k for p in spec.points for k in p.keys)
        out.append(f"{spec.title}: keys {keys}; other keys are listed as unknown in the health report")
    return out
