"""The poller against real pymodbus servers: every type and order, faults, outages, isolation."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections.abc import Sequence
from typing import Any

import pytest

from device_profiles.loader import load_library
from device_profiles.schema import DeviceProfile
from edge_agent.normalise import Normaliser
from edge_agent.samples import Sample
from edge_agent.sources.modbus.commands import format_plan, plan_report, probe
from edge_agent.sources.modbus.config import ModbusDevice
from edge_agent.sources.modbus.poller import ModbusPoller
from simulators.modbus_faults import Fault
from simulators.modbus_server import ModbusSimServer, SimDevice
from tests.support.waiting import async_poll_until, async_wait_until

# starts Modbus/TCP servers or the CLI as a process: not part of the fast unit subset
pytestmark = pytest.mark.integration

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
LIB = load_library()
ORDERS = ["ABCD", "DCBA", "BADC", "CDAB"]
TYPED_VALUES: dict[str, float] = {
    "int16": -12345,
    "uint16": 54321,
    "int32": -2_000_000_001,
    "uint32": 4_000_000_001,
    "int64": -(2**53) + 7,
    "uint64": 2**53 - 3,
    "float32": 1234.5,
    "float64": math.pi,
}


def _all_types_profile() -> tuple[DeviceProfile, dict[str, float]]:
    """Every raw type in every byte order, in both register tables, plus bits and scale/offset."""
    points: list[dict[str, Any]] = []
    values: dict[str, float] = {}
    addr = {"holding_register": 0, "input_register": 100}
    for i, (raw, order) in enumerate(itertools.product(TYPED_VALUES, ORDERS)):
        table = "holding_register" if i % 2 == 0 else "input_register"
        name = f"{raw}_{order.lower()}"
        points.append(
            {
                "name": name,
                "quantity": "power",
                "unit": "W",
                "table": table,
                "address": addr[table],
                "type": raw,
                "byte_order": order,
            }
        )
        addr[table] += {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}.get(raw, 4) + (
            i % 3
        )  # some gaps
        values[name] = TYPED_VALUES[raw]
    points += [
        {
            "name": "scaled",
            "quantity": "temperature",
            "unit": "°C",
            "table": "holding_register",
            "address": 300,
            "type": "int16",
            "scale": 0.01,
            "offset": -50,
        },
        {
            "name": "flag3",
            "quantity": "status",
            "table": "holding_register",
            "address": 301,
            "type": "bit",
            "bit": 3,
        },
        {
            "name": "flag15",
            "quantity": "status",
            "table": "holding_register",
            "address": 301,
            "type": "bit",
            "bit": 15,
        },
        {"name": "serial", "table": "holding_register", "address": 302, "type": "string", "length": 10},
        {"name": "relay1", "quantity": "status", "table": "coil", "address": 0, "type": "bit"},
        {"name": "relay2", "quantity": "status", "table": "coil", "address": 9, "type": "bit"},
        {"name": "door", "quantity": "presence", "table": "discrete_input", "address": 4, "type": "bit"},
    ]
    values.update({"scaled": 12.34, "flag3": 1, "flag15": 1, "relay1": 1, "relay2": 0, "door": 1})
    profile = DeviceProfile.model_validate(
        {
            "name": "all-types",
            "manufacturer": "test",
            "model": "all",
            "source": {"title": "synthetic: every type and order"},
            "defaults": {"max_gap": 3},
            "points": points,
        }
    )
    return profile, values


class TickClock:
    """A clock far from the wall clock, so a sample stamped by anything else shows."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1_800_000_000_000_000_000, 1000)

    def now_ns(self) -> int:
        return next(self._ticks)


class Collect:
    def __init__(self) -> None:
        self.samples: list[Sample] = []

    async def __call__(self, samples: Sequence[Sample]) -> None:
        self.samples.extend(samples)

    def of(self, device: str) -> list[Sample]:
        return [s for s in self.samples if s.device == device]


def _dev(id: str, profile: str, server: ModbusSimServer, unit: int, **kw: Any) -> ModbusDevice:
    kind = "rtu-over-tcp" if server.framer == "rtu" else "tcp"
    return ModbusDevice.model_validate(
        {
            "id": id,
            "profile": profile,
            "unit_id": unit,
            "transport": {"type": kind, "host": "127.0.0.1", "port": server.port},
            **kw,
        }
    )


@pytest.mark.parametrize("framer", ["socket", "rtu"])
async def test_every_type_and_order_decodes_to_what_the_slave_holds(framer: str) -> None:
    profile, values = _all_types_profile()
    sim = SimDevice(7, profile)
    sim.set_values({**values, "serial": "SN-0042"})
    async with ModbusSimServer([sim], framer=framer) as server:  # type: ignore[arg-type]
        poller = ModbusPoller(
            [_dev("X-1", "all-types", server, 7)], {"all-types": profile}, Collect(), clock=TickClock()
        )
        samples = {s.point: s for s in await poller.poll_once()}
        poller.close()
    assert set(samples) == set(values)  # the string point is not telemetry
    for name, expected in values.items():
        s = samples[name]
        assert s.quality.value == "good", (name, s.reason)
        assert s.value == pytest.approx(expected, rel=1e-12, abs=1e-9), name
        assert s.ts >= 1_800_000_000_000_000_000  # from the injected clock
    # far fewer requests than points, and the plan never crosses a table
    assert len(poller.plan("X-1")) < len(values) / 3


@pytest.mark.parametrize("framer", ["socket", "rtu"])
async def test_every_library_profile_round_trips_simulator_to_poller(framer: str) -> None:
    sims, expected = [], {}
    for unit, profile in enumerate(LIB.values(), start=1):
        sim = SimDevice(unit, profile)
        vals = {
            p.name: round(
                (p.valid_min or 0)
                + ((p.valid_max if p.valid_max is not None else 1000) - (p.valid_min or 0)) * 0.37,
                2,
            )
            for p in profile.points
        }
        sim.set_values(vals)
        sims.append(sim)
        expected[profile.name] = vals
    async with ModbusSimServer(sims, framer=framer) as server:  # type: ignore[arg-type]
        devices = [_dev(f"D-{s.unit_id}", s.profile.name, server, s.unit_id) for s in sims]
        poller = ModbusPoller(devices, LIB, Collect())
        samples = await poller.poll_once()
        poller.close()
    by_dev = {(s.device, s.point): s for s in samples}
    for s in sims:
        for name, value in expected[s.profile.name].items():
            got = by_dev[(f"D-{s.unit_id}", name)]
            assert got.quality.value == "good", (s.profile.name, name, got.reason)
            assert got.value == pytest.approx(value, rel=1e-6, abs=s.profile.point(name).scale / 2), (
                s.profile.name,
                name,
            )
            assert got.unit == s.profile.point(name).unit


@pytest.mark.parametrize(
    ("framer", "fault", "reason"),
    [
        ("socket", Fault("exception", code=2), "modbus exception 2 (illegal data address)"),
        ("rtu", Fault("exception", code=6), "modbus exception 6 (slave device busy)"),
        ("socket", Fault("timeout"), "timeout after 0.2s (no response)"),
        ("rtu", Fault("timeout"), "timeout after 0.2s (no response)"),
        ("rtu", Fault("garbled"), "CRC error in response (9 bytes: 01 03 04"),
        ("rtu", Fault("short"), "short response (4 of 9 bytes: 01 03 04"),
        ("socket", Fault("garbled"), "garbled response (13 bytes:"),
        ("socket", Fault("short"), "short response (6 of 13 bytes:"),
        # the late answer must land after the retry gave up too (2 x 0.2 s), even on a loaded box:
        # RTU has no transaction id, so an answer arriving inside the retry's window is taken for it
        ("rtu", Fault("delay", delay_s=2.0), "timeout after 0.2s (no response)"),
    ],
)
async def test_faults_become_bad_samples_with_precise_reasons(framer: str, fault: Fault, reason: str) -> None:
    ws = LIB["renke-rs-ws-n01"]
    async with ModbusSimServer([SimDevice(1, ws), SimDevice(2, ws)], framer=framer) as server:  # type: ignore[arg-type]
        devices = [
            _dev("A-101-th", ws.name, server, 1, timeout_s=0.2, retries=1),
            _dev("A-102-th", ws.name, server, 2),
        ]
        poller = ModbusPoller(devices, LIB, Collect())
        server.set_fault(1, fault)
        samples = await poller.poll_once()
        bad = [s for s in samples if s.device == "A-101-th"]
        assert [s.point for s in bad] == ["humidity", "temperature"]
        for s in bad:
            assert s.quality.value == "bad" and s.value is None
            assert s.reason is not None and s.reason.startswith(reason), s.reason
        assert all(s.quality.value == "good" for s in samples if s.device == "A-102-th")
        stats = poller.stats()["A-101-th"]
        assert stats.polls_failed == 1 and stats.last_error and stats.last_error.startswith(reason)
        assert stats.state == ("ok" if fault.kind == "exception" else "backoff")
        # retries: one extra attempt for no-answer faults, none for an exception answer
        assert stats.requests == (1 if fault.kind == "exception" else 2)
        server.set_fault(1, None)

        async def qualities() -> list[str]:
            return [s.quality.value for s in await poller.poll_once() if s.device == "A-101-th"]

        # a delayed answer may still be in flight: poll until it has drained and the device is good
        await async_poll_until(qualities, lambda q: q == ["good", "good"], 15, "A-101-th good again")
        poller.close()


async def test_out_of_range_and_nan_quality() -> None:
    ws, dd = LIB["renke-rs-ws-n01"], LIB["chint-ddsu666"]
    async with ModbusSimServer([SimDevice(1, ws), SimDevice(2, dd)]) as server:
        server.set_values(1, {"humidity": 120.0, "temperature": 21.5})
        server.set_values(2, {"voltage": float("nan")})
        poller = ModbusPoller(
            [_dev("th", ws.name, server, 1), _dev("em", dd.name, server, 2)], LIB, Collect()
        )
        got = {(s.device, s.point): s for s in await poller.poll_once()}
        poller.close()
    hum = got[("th", "humidity")]
    # the poller passes the profile's range on; the normaliser alone judges it (one range check)
    assert hum.quality.value == "good" and hum.value == pytest.approx(120.0)
    assert (hum.valid_min, hum.valid_max) == (0, 100)
    readings, _ = Normaliser("s", "a").normalise([hum])
    assert readings[0].quality.value == "uncertain" and "outside valid range" in (readings[0].reason or "")
    assert got[("th", "temperature")].quality.value == "good"
    volt = got[("em", "voltage")]
    assert volt.quality.value == "bad" and volt.value is None and "not a finite number" in (volt.reason or "")


async def test_slave_goes_away_and_comes_back() -> None:
    ws = LIB["renke-rs-ws-n01"]
    server = ModbusSimServer([SimDevice(1, ws)])
    await server.start()
    sink = Collect()
    poller = ModbusPoller(
        [_dev("th", ws.name, server, 1, poll_interval_s=0.05, timeout_s=0.2, retries=0)],
        LIB,
        sink,
        max_backoff_s=0.4,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await async_wait_until(lambda: poller.stats()["th"].polls_ok >= 3, 10, "3 good polls")
        await server.stop()  # the device (its TCP endpoint) disappears
        await async_wait_until(lambda: poller.stats()["th"].consecutive_failures >= 3, 10, "3 failures")
        st = poller.stats()["th"]
        assert st.state == "backoff"
        bad = [s for s in sink.of("th") if s.quality.value == "bad"]
        assert bad and all(
            s.reason
            and ("cannot connect to 127.0.0.1" in s.reason or "lost" in s.reason or "timeout" in s.reason)
            for s in bad
        )
        server.set_values(1, {"temperature": 30.5})
        await server.start()  # same port
        n = len(sink.samples)
        await async_wait_until(
            lambda: any(s.quality.value == "good" and s.point == "temperature" for s in sink.samples[n:]),
            10,
            "a good temperature after the slave came back",
        )
        assert poller.stats()["th"].state == "ok"
        assert next(
            s.value for s in sink.samples[n:] if s.point == "temperature" and s.quality.value == "good"
        ) == pytest.approx(30.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await server.stop()


async def test_unit_that_stops_answering_recovers_without_reconnect_storm() -> None:
    ws = LIB["renke-rs-ws-n01"]
    async with ModbusSimServer([SimDevice(1, ws), SimDevice(2, ws)], framer="rtu") as server:
        sink = Collect()
        devices = [
            _dev("dead", ws.name, server, 1, poll_interval_s=0.05, timeout_s=0.1, retries=0),
            _dev("ok", ws.name, server, 2, poll_interval_s=0.05, timeout_s=0.1, retries=0),
        ]
        poller = ModbusPoller(devices, LIB, sink, max_backoff_s=0.8)
        assert list(poller.buses.values()) == [["dead", "ok"]]  # one RS485 line
        server.set_fault(1, Fault("timeout"))
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        try:
            await async_wait_until(lambda: poller.stats()["ok"].polls_ok >= 25, 10, "25 good polls")
            dead, ok = poller.stats()["dead"], poller.stats()["ok"]
            assert dead.state == "backoff" and ok.state == "ok" and ok.polls_failed == 0
            # backoff: the dead slave is tried far less often than the healthy one is polled
            assert dead.requests < ok.polls_ok / 2
            server.set_fault(1, None)
            await async_wait_until(lambda: poller.stats()["dead"].state == "ok", 10, "the dead slave back")
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)


async def test_dead_device_does_not_delay_devices_on_other_buses() -> None:
    ws = LIB["renke-rs-ws-n01"]
    async with (
        ModbusSimServer([SimDevice(1, ws)], framer="rtu") as line,
        ModbusSimServer([SimDevice(1, ws)]) as tcp,
    ):
        line.set_fault(1, Fault("timeout"))
        devices = [
            _dev("dead", ws.name, line, 1, poll_interval_s=0.05, timeout_s=3.0, retries=0),
            _dev("healthy", ws.name, tcp, 1, poll_interval_s=0.05),
        ]
        poller = ModbusPoller(devices, LIB, Collect())
        assert len(poller.buses) == 2
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        try:
            await async_wait_until(lambda: poller.stats()["healthy"].polls_ok >= 5, 10, "5 healthy polls")
            # the healthy device polled five times while the dead one was still inside one timeout
            assert poller.stats()["dead"].polls_failed == 0 and poller.stats()["dead"].requests == 1
        finally:
            stop.set()
            await asyncio.wait_for(task, 6)


async def test_devices_of_a_line_are_polled_in_one_cycle_and_handed_over_together() -> None:
    """Devices of one line with one interval share a due time: the line wakes once per cycle,
    polls them back to back and hands the cycle's samples over in one call (the CPU pass of
    issue 22: one timer, task and disk transaction per cycle, not per device)."""
    ws = LIB["renke-rs-ws-n01"]
    calls: list[set[str]] = []

    async def sink(samples: Sequence[Sample]) -> None:
        calls.append({s.device for s in samples})

    async with ModbusSimServer([SimDevice(u, ws) for u in range(1, 11)]) as server:
        devices = [_dev(f"d{u}", ws.name, server, u, poll_interval_s=0.3) for u in range(1, 11)]
        poller = ModbusPoller(devices, LIB, sink)
        assert len(poller.buses) == 1
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        try:
            await async_wait_until(
                lambda: min(s.polls_ok for s in poller.stats().values()) >= 3, 15, "3 cycles"
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, 6)
    polls = sum(s.polls_ok for s in poller.stats().values())
    assert len(calls[0]) > 1, f"the first cycle was handed over device by device: {calls[:3]}"
    # 10 polls per cycle; a slow machine may split a cycle after HOLD_MAX_S, never per device
    assert len(calls) * 3 <= polls, f"{len(calls)} hand-overs for {polls} polls: {calls}"


async def test_sink_errors_do_not_stop_polling() -> None:
    ws = LIB["renke-rs-ws-n01"]
    calls = 0

    async def broken(samples: Sequence[Sample]) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("disk full")

    async with ModbusSimServer([SimDevice(1, ws)]) as server:
        poller = ModbusPoller([_dev("th", ws.name, server, 1, poll_interval_s=0.05)], LIB, broken)
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        await async_wait_until(lambda: calls >= 3, 10, "3 sink calls")
        stop.set()
        await asyncio.wait_for(task, 5)
    assert poller.sink_errors >= 3 and poller.stats()["th"].polls_ok >= 3


async def test_plan_report_and_probe() -> None:
    sdm = LIB["eastron-sdm630"]
    async with ModbusSimServer([SimDevice(5, sdm)]) as server:
        dev = _dev("B-301-em", sdm.name, server, 5)
        small = _dev("B-302-em", sdm.name, server, 5, planner={"max_registers": 20, "max_gap": 0})
        report = plan_report([dev, small], LIB)
        assert report[0]["requests"][0] == {
            "table": "input_register",
            "start": 0,
            "count": 18,
            "points": [
                "voltage_l1",
                "voltage_l2",
                "voltage_l3",
                "current_l1",
                "current_l2",
                "current_l3",
                "power_l1",
                "power_l2",
                "power_l3",
            ],
        }
        covered = sorted(p for r in report[0]["requests"] for p in r["points"])
        assert covered == sorted(p.name for p in sdm.points)
        assert all(r["count"] <= 20 for r in report[1]["requests"]) and len(report[1]["requests"]) > len(
            report[0]["requests"]
        )
        assert "B-301-em  (eastron-sdm630, unit 5" in format_plan(report)
        server.set_values(5, {"voltage_l1": 229.5})
        out = await probe(dev, sdm)
        assert out["voltage_l1"]["value"] == pytest.approx(229.5) and out["voltage_l1"]["unit"] == "V"
        assert out["voltage_l1"]["quality"] == "good" and set(out) == {p.name for p in sdm.points}
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        plan_report([dev.model_copy(update={"profile": "nope"})], LIB)


async def test_overloaded_line_lowers_its_rate_says_so_and_recovers(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 devices every 0.1 s on one line whose answers take 0.05 s: the line can serve half its
    demand. It does not burst to catch up; it logs once that it is overloaded, shows the interval
    in force, and says when it keeps up again (answers fast again)."""
    profile = LIB["classroom-air-monitor"]
    caplog.set_level(logging.INFO, logger="edge_agent")
    monkeypatch.setattr("edge_agent.sources.modbus.poller.OVERLOAD_DWELL_S", 1.0)  # 10 s in service
    async with ModbusSimServer([SimDevice(u, profile) for u in range(1, 5)]) as server:
        for u in range(1, 5):
            server.set_fault(u, Fault("delay", delay_s=0.05))
        devices = [_dev(f"D-{u}", profile.name, server, u, poll_interval_s=0.1) for u in range(1, 5)]
        poller = ModbusPoller(devices, LIB, Collect())
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        try:
            await async_wait_until(lambda: bool(poller.overloaded_links()), 20, "overload noticed")
            [(link, interval)] = poller.overloaded_links().items()
            assert interval > 0.12, interval  # the interval in force, for /metrics
            assert sum("overloaded" in r.getMessage() for r in caplog.records) == 1
            for u in range(1, 5):
                server.set_fault(u, None)
            await async_wait_until(lambda: not poller.overloaded_links(), 20, "keeps up again")
            assert any(f"modbus link {link} keeps up again" in r.getMessage() for r in caplog.records)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            poller.close()
