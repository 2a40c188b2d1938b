"""What `campus-twin agent plan` and `agent probe` print, as plain data (the CLI formats it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contract.clock import Clock, WallClock
from device_profiles.planner import plan_profile
from device_profiles.schema import DeviceProfile
from edge_agent.device_health import DeviceHealth
from edge_agent.samples import Sample
from edge_agent.sources.modbus.config import ModbusDevice
from edge_agent.sources.modbus.poller import ModbusPoller


def plan_report(
    devices: Sequence[ModbusDevice], profiles: Mapping[str, DeviceProfile]
) -> list[dict[str, Any]]:
    """Each device with its read requests `{table, start, count, points}` and the naive count
    (one request per point) for comparison. Raises ValueError for an unknown profile."""
    out = []
    for d in devices:
        profile = profiles.get(d.profile)
        if profile is None:
            raise ValueError(
                f"device {d.id!r}: unknown profile {d.profile!r} (known: {', '.join(sorted(profiles))})"
            )
        requests = plan_profile(profile, d.planner)
        out.append(
            {
                "device": d.id,
                "profile": d.profile,
                "bus": d.link_key(),
                "unit_id": d.unit_id,
                "enabled": d.enabled,
                "points": len(profile.points),
                "naive_requests": len(profile.points),
                "requests": [r.as_dict() for r in requests],
            }
        )
    return out


def format_plan(report: Sequence[Mapping[str, Any]]) -> str:
    """The human-readable form of `plan_report`."""
    lines = []
    for dev in report:
        lines.append(
            f"{dev['device']}  ({dev['profile']}, unit {dev['unit_id']} on {dev['bus']}): "
            f"{len(dev['requests'])} requests for {dev['points']} points"
        )
        for r in dev["requests"]:
            lines.append(
                f"  {r['table']:<16} start {r['start']:>5}  count {r['count']:>3}  {', '.join(r['points'])}"
            )
    return "\n".join(lines)


async def probe(
    device: ModbusDevice, profile: DeviceProfile, clock: Clock | None = None
) -> dict[str, dict[str, Any]]:
    """Read the device once: `{point: {value, unit, quality, reason?, ts}}`. String points
    (serial numbers, firmware) are left out: they are not telemetry."""
    result, _ = await probe_device(device, profile, clock)
    return result


async def probe_device(
    device: ModbusDevice, profile: DeviceProfile, clock: Clock | None = None
) -> tuple[dict[str, dict[str, Any]], DeviceHealth]:
    """`probe` and the device's health after the read (did it answer at all, why not)."""
    poller = ModbusPoller(
        [device.model_copy(update={"enabled": True})], {profile.name: profile}, _discard, clock or WallClock()
    )
    try:
        samples = await poller.poll_once()
    finally:
        poller.close()
    return _by_point(samples), poller.health()[device.id]


def _by_point(samples: Sequence[Sample]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in samples:
        entry: dict[str, Any] = {"value": s.value, "unit": s.unit, "quality": s.quality.value, "ts": s.ts}
        if s.reason:
            entry["reason"] = s.reason
        out[s.point] = entry
    return out


async def _discard(samples: Sequence[Sample]) -> None:
    return None
