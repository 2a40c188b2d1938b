"""Fingerprint ranking on what a unit answered (pure; the register images come from the
simulator's SimDevice, without a socket): every shipped profile is named right or reported
ambiguous with what would tell the candidates apart — never named wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.yamlio import ConfigError
from device_profiles.loader import load_library, load_profile
from device_profiles.schema import DeviceProfile, Table
from edge_agent.config import load_agent_config
from edge_agent.discover.fingerprint import Answer, Observation, reads_for_all, verdict
from edge_agent.discover.lines import Line, Setting, estimate, parse_line, parse_units
from edge_agent.discover.report import UnitReport, devices_yaml, write_config
from simulators.modbus_server import SimDevice

LIB = load_library()
UNKNOWN = load_profile(Path(__file__).parent / "discover_data" / "fan-coil-controller.yaml")
# the library has no register that separates these two Renke transmitters (both start at 0000H)
CONFUSABLE = {"renke-rs-ws-n01": "renke-rs-zs-n01", "renke-rs-zs-n01": "renke-rs-ws-n01"}


def observe(sim: SimDevice, baudrate: int | None, profiles: dict[str, DeviceProfile] = LIB) -> Observation:
    obs = Observation(sim.unit_id, baudrate, device_id_status="exception 1", server_id_status="exception 1")
    for table, start, count in reads_for_all(profiles.values()):
        r = sim.read(3 if table is Table.HOLDING_REGISTER else 4, start, count)
        obs.reads[table, start, count] = (
            Answer(words=tuple(r)) if isinstance(r, list) else Answer(exception=int(r))
        )
    return obs


@pytest.mark.parametrize("name", sorted(LIB))
@pytest.mark.parametrize(("unit", "baud"), [(1, 9600), (37, 4800), (200, 2400)])
def test_every_library_profile_is_named_right_or_ambiguous_never_wrong(
    name: str, unit: int, baud: int
) -> None:
    v = verdict(LIB, observe(SimDevice(unit, LIB[name], baudrate=baud), baud))
    if name in CONFUSABLE:
        assert v.status == "ambiguous" and v.profile is None
        close = {c.profile for c in v.candidates if not c.contradicted}
        assert {name, CONFUSABLE[name]} <= close
        assert any("temperature" in t for t in v.tell_apart), v.tell_apart
    else:
        assert (v.status, v.profile) == ("identified", name), [
            (c.profile, c.evidence) for c in v.candidates[:3]
        ]


def test_a_unit_whose_address_or_baud_register_disagrees_is_not_that_model() -> None:
    sim = SimDevice(5, LIB["chint-dtsu666"], baudrate=9600)
    obs = observe(sim, 4800)  # the line answered at 4800 but the meter says its rate is 9600
    v = verdict(LIB, obs)
    dtsu = next(c for c in v.candidates if c.profile == "chint-dtsu666")
    assert dtsu.contradicted and any("bAud" in e.text and e.weight < 0 for e in dtsu.evidence)
    assert v.profile != "chint-dtsu666"
    obs = observe(sim, 9600)
    obs.unit_id = 6  # the address register holds 5: not the unit asked
    assert verdict(LIB, obs).profile != "chint-dtsu666"


def test_an_unknown_model_is_explained_not_guessed() -> None:
    obs = observe(SimDevice(20, UNKNOWN), 9600)
    obs.device_id, obs.device_id_status = {0: "Example HVAC", 1: "FCU-485"}, "answered"
    v = verdict(LIB, obs)
    assert (v.status, v.profile) == ("unknown", None)
    assert "  vendor: Example HVAC" in v.answered and "  product: FCU-485" in v.answered
    assert any("FC 3 exception 2" in line for line in v.answered)
    assert all(c.contradicted for c in v.candidates)


def test_a_profile_without_identify_is_never_matched_but_device_id_decides_when_declared() -> None:
    profiles = {**LIB, UNKNOWN.name: UNKNOWN}
    obs = observe(SimDevice(20, UNKNOWN), 9600, profiles)
    assert verdict(profiles, obs).status == "unknown"
    with_id = UNKNOWN.model_copy(
        update={"identify": DeviceProfile.model_validate(
            {**UNKNOWN.model_dump(mode="json", exclude_none=True), "identify": {"device_id": {"vendor": "^Example HVAC$", "product": "FCU"}}}
        ).identify}
    )  # fmt: skip
    profiles[UNKNOWN.name] = with_id
    obs = observe(SimDevice(20, with_id), 9600, profiles)
    obs.device_id, obs.device_id_status = {0: "Example HVAC", 1: "FCU-485", 2: "V2.1"}, "answered"
    v = verdict(profiles, obs)
    assert (v.status, v.profile) == ("identified", UNKNOWN.name)
    obs.device_id = {0: "Other Corp", 1: "FCU-485"}
    assert verdict(profiles, obs).status == "unknown"


@pytest.mark.parametrize(
    ("identify", "message"),
    [
        ({"points": {"warmth": [0, 1]}}, "identify.points names ['warmth']"),
        (
            {
                "registers": [
                    {"name": "baud", "table": "holding_register", "address": 1, "expect": "baud_code"}
                ]
            },
            "needs 'codes'",
        ),
        ({"registers": [{"name": "x", "table": "holding_register", "address": "30001"}]}, "Modicon"),
        ({"device_id": {"vendor": "(unclosed"}}, "device_id.vendor: not a regular expression"),
    ],
)
def test_identify_section_errors_name_the_field(
    tmp_path: Path, identify: dict[str, object], message: str
) -> None:
    import json

    text = (Path(__file__).parent / "discover_data" / "fan-coil-controller.yaml").read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text + "identify: " + json.dumps(identify) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert message in str(err.value)


def test_proposed_devices_merge_into_a_config_the_agent_loads(tmp_path: Path) -> None:
    line = parse_line("/dev/ttyUSB0")
    sims = [SimDevice(3, LIB["chint-dtsu666"], baudrate=9600), SimDevice(4, UNKNOWN)]
    reports = [UnitReport(line, Setting(9600, "E"), s.unit_id, verdict(LIB, observe(s, 9600))) for s in sims]
    text = devices_yaml(reports)
    assert "id: chint-dtsu666-u3, profile: chint-dtsu666, unit_id: 3" in text
    assert "# unit 4 @ /dev/ttyUSB0 9600 8E1: unknown model, not proposed" in text
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(
        "site: s1\nagent: gw\nmodbus:\n  - {id: old, profile: renke-rs-ws-n01, transport: {type: tcp, host: h}}\n"
    )
    assert write_config(cfg, reports) == 1
    assert write_config(cfg, reports) == 0, "a second run adds nothing"
    loaded = load_agent_config(cfg)
    assert [d.id for d in loaded.modbus] == ["old", "chint-dtsu666-u3"]
    t = loaded.modbus[1].transport
    assert (t.type, getattr(t, "baudrate", None), getattr(t, "parity", None)) == ("rtu", 9600, "E")
    assert "房间待绑定" in cfg.read_text(encoding="utf-8")


def test_line_forms_units_and_the_bound() -> None:
    assert parse_line("rtu-over-tcp://10.0.0.5:4196") == Line("rtu-over-tcp", host="10.0.0.5", tcp_port=4196)
    assert parse_line("tcp://gw.local") == Line("tcp", host="gw.local", tcp_port=502)
    with pytest.raises(ValueError, match="unknown scheme 'http'"):
        parse_line("http://x:1")
    assert parse_units("1-3,10") == [1, 2, 3, 10]
    with pytest.raises(ValueError, match=r"outside 1\.\.247"):
        parse_units("0-5")
    est = estimate(settings=4, units=247, timeout_s=0.2, reads_per_unit=30)
    assert est.scan_s == pytest.approx(4 * (247 * 0.22 + 1.0)), "a connect may take 1 s"
    assert est.total_s(2) == pytest.approx(est.scan_s + 2 * 32 * 0.22)
