"""Device health against the truth: a device that answers only with errors is DOWN, and the
reason of a past failure does not outlive the device's recovery."""

from __future__ import annotations

from edge_agent.device_health import DeviceHealth
from edge_agent.sources.modbus.errors import hint

POINTS = ["temperature", "humidity", "co2", "pm25", "pm10", "tvoc", "noise"]
EXC4 = "modbus exception 4 (server device failure)"


def test_every_point_failing_with_exception_4_is_down_with_the_unit_id_hint() -> None:
    """A wrong unit id behind a TCP gateway: every read answers exception 4. It used to say
    `up` and `partial` with no log line."""
    h = DeviceHealth("KX-7")
    h.record(1, True, [], len(POINTS), now_mono=0.0)
    line = h.record(2, True, POINTS, len(POINTS), EXC4, hint(EXC4, rtu=False), now_mono=1.0)
    assert h.state == "down" and not h.up
    assert line is not None and "DOWN" in line and "all 7 points failed" in line
    assert "check the unit id" in line
    assert h.polls_failed == 1 and h.polls_partial == 0
    assert h.as_dict()["hint"] and "unit id" in h.as_dict()["hint"]


def test_some_points_failing_stays_up_and_partial() -> None:
    h = DeviceHealth("KX-7")
    line = h.record(1, True, POINTS[:2], len(POINTS), "modbus exception 2", None, now_mono=0.0)
    assert h.up and h.polls_partial == 1 and line is None


def test_last_reason_clears_when_the_device_is_good_again() -> None:
    h = DeviceHealth("KX-7")
    h.record(1, False, [], 0, "timeout after 1.0 s", "check wiring", now_mono=0.0)
    assert h.as_dict()["last_reason"] == "timeout after 1.0 s"
    line = h.record(2, True, [], len(POINTS), now_mono=5.0)
    assert line is not None and "UP" in line
    assert h.last_reason is None and h.last_hint is None
    assert h.as_dict()["last_reason"] is None and h.as_dict()["hint"] is None


def test_a_partial_poll_keeps_its_reason() -> None:
    h = DeviceHealth("KX-7")
    h.record(1, True, ["co2"], len(POINTS), "value 9999 ppm outside valid range", None, now_mono=0.0)
    assert h.last_reason and "outside valid range" in h.last_reason
