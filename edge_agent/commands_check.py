"""Text for `agent check` and `agent plan`: what the agent will do, before it does it."""

from __future__ import annotations

from typing import Any

from device_profiles.mqtt_format import formats_for
from device_profiles.schema import profile_warnings
from edge_agent.config import AgentConfig


def check_report(cfg: AgentConfig, profiles: dict[str, Any]) -> tuple[str, bool]:
    """Validate what YAML validation cannot (profile names exist) and summarise the config."""
    ok = True
    lines = [f"config OK: site {cfg.site}, agent {cfg.agent}"]
    lines.append(f"upstream: {cfg.upstream.broker.describe()} (batch {cfg.upstream.batch_size}, QoS 1)")
    b = cfg.buffer
    lines.append(f"buffer: {b.path} (max {b.max_bytes} bytes, {b.max_age_s:.0f}s, {b.overflow})")
    if cfg.mqtt:
        lines.append(f"sensor broker: {cfg.mqtt.broker.describe()}")
        for s in cfg.mqtt.subscriptions:
            lines.append(f"  subscribe {s.topic_filter} (format {s.format}, QoS {s.qos})")
            lines.extend(f"    {line}" for line in format_summary(s.format))
    missing = [d for d in cfg.modbus if d.profile not in profiles]
    for d in missing:
        ok = False
        lines.append(f"ERROR: modbus device {d.id}: unknown profile {d.profile!r}")
    good = [d for d in cfg.modbus if d.profile in profiles]
    for name in sorted({d.profile for d in good}):
        lines.extend(f"WARNING: {w}" for w in profile_warnings(profiles[name]))
    if good:
        from edge_agent.modbus.commands import format_plan, plan_report

        lines.append(f"modbus: {len(cfg.modbus)} device(s)")
        lines.append(format_plan(plan_report(good, profiles)))
    return "\n".join(lines), ok


def format_summary(fmt: str) -> list[str]:
    """What a built-in format decodes (device_profiles/mqtt/), so a technician can see which
    keys are known; others are counted per device in the health report (`mqtt_decoding`)."""
    out = []
    for spec in formats_for(fmt):
        keys = ", ".join(k for p in spec.points for k in p.keys)
        out.append(f"{spec.title}: keys {keys}; other keys are listed as unknown in the health report")
    return out
