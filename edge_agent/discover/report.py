"""What discovery says (pure): the per-unit report and the proposed `modbus:` devices.

The proposal is exactly the agent config's `ModbusDevice` shape (profile, unit id, transport
with the line settings found), so `agent check --connect` accepts it as is; the room is a
placeholder comment, bound later (web app or binding file). Units that were not identified
are listed as comments, never as devices: a wrong profile would poll garbage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.discover.fingerprint import Verdict
from edge_agent.discover.lines import Line, Setting

ROOM_PLACEHOLDER = "room: ?  # 房间待绑定 bind to a room: web app or bindings file"


@dataclass
class UnitReport:
    line: Line
    setting: Setting
    unit_id: int
    verdict: Verdict


def unit_text(u: UnitReport, evidence: int = 6) -> list[str]:
    v = u.verdict
    head = f"unit {u.unit_id:>3}" + (f" @ {u.setting}: " if u.setting.baudrate else ": ")
    if v.status == "identified":
        top = v.candidates[0]
        lines = [head + f"识别 identified {v.profile} (confidence {top.confidence:.2f}, score {top.score:g})"]
        lines += [f"      + {e.text}" for e in top.evidence if e.weight > 0][:evidence]
        lines += [
            f"      ruled out {c.profile}: {next(e.text for e in c.evidence if e.weight < 0)}"
            for c in v.candidates[1:]
            if c.contradicted
        ][:3]
        lines += [
            f"      also consistent, weaker: {c.profile} (score {c.score:g})"
            for c in v.candidates[1:]
            if not c.contradicted
        ][:3]
        return lines
    if v.status == "ambiguous":
        close = [c for c in v.candidates if not c.contradicted]
        lines = [
            head + "不确定 ambiguous: " + ", ".join(f"{c.profile} (score {c.score:g})" for c in close[:4])
        ]
        lines += [f"      to tell apart: {t}" for t in v.tell_apart]
        return lines
    lines = [head + "未知 unknown model: no profile of the library fits; what it answered:"]
    lines += [f"      {t}" for t in v.answered]
    lines += [
        f"      ruled out {c.profile}: {next(e.text for e in c.evidence if e.weight < 0)}"
        for c in v.candidates
        if c.contradicted
    ][:4]
    return lines


def device_id(profile: str, unit: int, taken: set[str]) -> str:
    base = f"{profile}-u{unit}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def proposed_devices(units: Sequence[UnitReport], timeout_s: float = 1.0) -> list[dict[str, Any]]:
    """ModbusDevice dicts for the identified units (agent config `modbus:` entries)."""
    taken: set[str] = set()
    out = []
    for u in units:
        if u.verdict.status != "identified" or u.verdict.profile is None:
            continue
        out.append(
            {
                "id": device_id(u.verdict.profile, u.unit_id, taken),
                "profile": u.verdict.profile,
                "unit_id": u.unit_id,
                "timeout_s": max(timeout_s, 0.5),
                "transport": u.setting.transport(u.line),
            }
        )
    return out


def _scalar(v: Any) -> str:
    if isinstance(v, dict):
        return _flow(v)
    if isinstance(v, str):
        return v if v.replace("-", "").replace("_", "").replace(".", "").isalnum() else f'"{v}"'
    return str(v)


def _flow(d: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in d.items()) + "}"


def devices_yaml(units: Sequence[UnitReport], timeout_s: float = 1.0) -> str:
    """The `modbus:` section as YAML text, with the room placeholder and the unmatched units as comments."""
    lines = ["modbus:"]
    for d in proposed_devices(units, timeout_s):
        lines.append(f"  - {_flow(d)}  # {ROOM_PLACEHOLDER.split('  # ')[1]}")
    for u in units:
        if u.verdict.status != "identified":
            what = "ambiguous" if u.verdict.status == "ambiguous" else "unknown model"
            at = f"{u.line} {u.setting}" if u.setting.baudrate else str(u.line)
            lines.append(f"  # unit {u.unit_id} @ {at}: {what}, not proposed")
    if len(lines) == 1:
        lines[0] = "modbus: []"
    return "\n".join(lines) + "\n"


def write_config(path: Path, units: Sequence[UnitReport], timeout_s: float = 1.0) -> int:
    """Add the proposed devices to the config at `path` (ids already there are kept as they are);
    a missing file gets a minimal config around them. Returns the number of devices added."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    if path.exists():
        data = yaml.load(path.read_text(encoding="utf-8")) or CommentedMap()
    else:
        data = CommentedMap(site="CHANGE-ME-site", agent="CHANGE-ME-gateway")
    seq = data.get("modbus")
    if seq is None:
        seq = CommentedSeq()
        data["modbus"] = seq
    have = {str(d.get("id")) for d in seq if isinstance(d, Mapping)}
    added = 0
    for d in proposed_devices(units, timeout_s):
        if d["id"] in have:
            continue
        item = CommentedMap(d)
        item.fa.set_flow_style()
        transport = CommentedMap(d["transport"])
        transport.fa.set_flow_style()
        item["transport"] = transport
        seq.append(item)
        seq.yaml_add_eol_comment(ROOM_PLACEHOLDER.split("  # ")[1], len(seq) - 1)
        added += 1
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    return added


def write_mqtt_config(path: Path, host: str, port: int, subscriptions: Sequence[Mapping[str, Any]]) -> int:
    """Add the proposed subscriptions (and the sensor broker, when the config has none) to `path`;
    a subscription of a format already subscribed is not added twice. Returns how many were added."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()
    data = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    if data is None:
        data = CommentedMap(site="CHANGE-ME-site", agent="CHANGE-ME-gateway")
    mqtt = data.get("mqtt")
    if mqtt is None:
        mqtt = CommentedMap(broker=CommentedMap(host=host, port=port), subscriptions=[])
        data["mqtt"] = mqtt
    subs = mqtt.setdefault("subscriptions", [])
    have = {(s.get("format"), s.get("topic")) for s in subs if isinstance(s, Mapping)}
    added = 0
    for s in subscriptions:
        if (s.get("format"), s.get("topic")) in have:
            continue
        subs.append(CommentedMap(s))
        added += 1
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    return added


def subscriptions_yaml(subscriptions: Sequence[Mapping[str, Any]]) -> str:
    """The proposed `mqtt.subscriptions` as YAML text (what `--write` would add)."""
    if not subscriptions:
        return "mqtt:\n  subscriptions: []\n"
    lines = ["mqtt:", "  subscriptions:"]
    for s in subscriptions:
        head = [f"{k}: {_scalar(v)}" for k, v in s.items() if k != "points"]
        lines.append(f"    - {head[0]}")
        lines += [f"      {h}" for h in head[1:]]
        if "points" in s:
            lines.append("      points:")
            lines += [f"        - {_flow(p)}" for p in s["points"]]
    return "\n".join(lines) + "\n"
