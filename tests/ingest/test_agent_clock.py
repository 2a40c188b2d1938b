"""A gateway's clock stepping, end to end in one process with injected clocks (the system clock
is never touched): the agent notices its own step (monotonic vs wall) and marks what it stamps
uncertain; ingest judges each batch's `sent` against its OWN clock, moves readings of an agent
that is ahead back onto its clock, counts and logs once per agent."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from contract.clock import ClockWatch
from contract.telemetry import AgentClockMemory, Quality, as_rows, encode_rows_batch, topic
from edge_agent.clock_doubt import mark_doubtful
from edge_agent.normalise import Normaliser
from edge_agent.samples import Sample
from ingest.consumer import Consumer
from ingest.metrics import IngestMetrics
from ingest.pipeline import Decoded, Incoming

DAY = 86_400 * 1_000_000_000
S = 1_000_000_000
T0 = 1_795_000_000 * S  # 2026-11-17, the true time when the test starts


@dataclass
class HostClock:
    """A gateway's clocks: monotonic runs on, `wall` is what someone may set."""

    mono: int = 10 * S
    step: int = 0

    def advance(self, seconds: float) -> None:
        self.mono += int(seconds * S)

    def wall(self) -> int:
        return T0 + self.mono + self.step

    def true(self) -> int:
        return T0 + self.mono


@dataclass
class TrueClock:
    host: HostClock

    def now_ns(self) -> int:
        return self.host.true()


def _agent_batch(watch: ClockWatch, host: HostClock, seq: int) -> tuple[bytes, list[str]]:
    """What the agent sends for one poll stamped by its (possibly stepped) wall clock."""
    doubt, news = watch.doubt()
    ts = host.wall()
    samples = [Sample("KX-7", "temperature", "temperature", 22.64, "°C", ts, resolution=0.01)]
    rows, rejects = Normaliser("school", "gw1").rows(mark_doubtful(samples, doubt))
    assert not rejects
    return encode_rows_batch("school", "gw1", seq, host.wall(), rows), [news] if news else []


def _ingest(payload: bytes, host: HostClock) -> Decoded:
    decoded = Decoded(clock=TrueClock(host))
    decoded.add(Incoming(topic("school", "gw1", "telemetry"), payload, 1, 1, host.true()), lambda *_: {})
    return decoded


def test_clock_stepped_ten_days_ahead_while_running() -> None:
    host = HostClock()
    watch = ClockWatch(wall_ns=host.wall, mono_ns=lambda: host.mono)
    payload, news = _agent_batch(watch, host, 1)
    assert not news
    before = as_rows(_ingest(payload, host).batches[0][0].rows)[0]
    assert before[6] is Quality.GOOD and before[5] == host.true()

    host.advance(5)
    host.step = 10 * DAY  # the RTC reset / NTP step
    payload, news = _agent_batch(watch, host, 2)
    assert news and "stepped +10 d" in news[0]
    decoded = _ingest(payload, host)
    (row,) = as_rows(decoded.batches[0][0].rows)
    assert row[5] == host.true(), "stored on ingest's clock, not 10 days ahead"
    assert row[6] is Quality.UNCERTAIN
    assert row[7] and "agent wall clock stepped +10 d" in row[7] and "10 d ahead" in row[7]
    assert row[3] == 22.64, "the value is kept at the device's resolution"
    ((site, agent, check),) = decoded.clock_checks
    assert (site, agent, check.verdict, check.restamped) == ("school", "gw1", "ahead", 1)

    host.advance(5)
    host.step = 0  # NTP puts it right: good again
    payload, news = _agent_batch(watch, host, 3)
    assert news and "back to the trusted time" in news[0]
    (row,) = as_rows(_ingest(payload, host).batches[0][0].rows)
    assert row[6] is Quality.GOOD and row[5] == host.true()


def test_clock_stepped_one_day_back_while_running() -> None:
    host = HostClock()
    watch = ClockWatch(wall_ns=host.wall, mono_ns=lambda: host.mono)
    _agent_batch(watch, host, 1)
    host.advance(5)
    host.step = -DAY
    payload, news = _agent_batch(watch, host, 2)
    assert news and "stepped -1 d" in news[0]
    decoded = _ingest(payload, host)
    (row,) = as_rows(decoded.batches[0][0].rows)
    assert row[6] is Quality.UNCERTAIN and row[7] and "stepped -1 d" in row[7]
    ((_, _, check),) = decoded.clock_checks
    assert check.verdict == "late" and check.restamped == 0  # a backlog looks the same: not moved
    # still doubtful an hour later? no: a clock that stays put for trust_after_s is believed
    host.advance(watch.trust_after_s + 1)
    payload, news = _agent_batch(watch, host, 3)
    assert news and "trusted again" in news[0]
    (row,) = as_rows(_ingest(payload, host).batches[0][0].rows)
    assert row[6] is Quality.GOOD


def test_agent_started_with_its_clock_ten_days_ahead() -> None:
    """An RTC reset before boot: the agent sees no step (its clock was wrong from the start), so
    only ingest's own clock can catch it."""
    host = HostClock(step=10 * DAY)
    watch = ClockWatch(wall_ns=host.wall, mono_ns=lambda: host.mono)
    payload, news = _agent_batch(watch, host, 1)
    assert not news
    (row,) = as_rows(_ingest(payload, host).batches[0][0].rows)
    assert row[5] == host.true() and row[6] is Quality.UNCERTAIN


def test_small_ntp_corrections_are_not_steps() -> None:
    host = HostClock()
    watch = ClockWatch(wall_ns=host.wall, mono_ns=lambda: host.mono)
    for _ in range(10):
        host.advance(1)
        host.step += 2 * S  # 2 s per look: NTP slewing/stepping a little
        assert watch.doubt() == (None, None)
    assert watch.steps_total == 0


def test_ingest_counts_every_batch_and_logs_once_per_agent(caplog: pytest.LogCaptureFixture) -> None:
    host = HostClock(step=10 * DAY)
    watch = ClockWatch(wall_ns=host.wall, mono_ns=lambda: host.mono)
    metrics = IngestMetrics()
    consumer = Consumer.__new__(Consumer)  # the clock bookkeeping only, no broker
    consumer.metrics, consumer._clock_logged = metrics, set()
    caplog.set_level(logging.WARNING, logger="ingest.consumer")
    for seq in range(3):
        host.advance(1)
        payload, _ = _agent_batch(watch, host, seq)
        consumer._note_clocks(_ingest(payload, host))
    assert metrics.agent_clock_batches_total == {"ahead": 3}
    assert metrics.agent_clock_restamped_total == 3
    lines = [r.getMessage() for r in caplog.records if "clock" in r.getMessage()]
    assert len(lines) == 1 and "school/gw1" in lines[0] and "10 d ahead" in lines[0]


def test_a_redelivered_batch_of_an_agent_ahead_gets_the_same_times() -> None:
    """The broker redelivers a batch ingest had not acked: restamped by the offset remembered for
    the agent, its readings land on the same times and the store collapses them."""
    host = HostClock(step=10 * DAY)
    watch = ClockWatch(wall_ns=host.wall, mono_ns=lambda: host.mono)
    payload, _ = _agent_batch(watch, host, 1)
    memory: dict[tuple[str, str], AgentClockMemory] = {}

    def ingest_once() -> int:
        decoded = Decoded(clock=TrueClock(host), clock_memory=memory)
        decoded.add(Incoming(topic("school", "gw1", "telemetry"), payload, 1, 1, host.true()), lambda *_: {})
        return as_rows(decoded.batches[0][0].rows)[0][5]

    first = ingest_once()
    host.advance(40)  # redelivered 40 s later
    assert ingest_once() == first


def test_readings_stamped_before_the_step_keep_their_times() -> None:
    """A batch sealed just after the step holds readings stamped before it: only those ahead of
    ingest's clock are moved, the others are right as they are."""
    host = HostClock()
    ts_before = host.true()
    before = Sample("KX-7", "co2", "co2", 812.0, "ppm", ts_before)
    host.advance(1)
    host.step = 10 * DAY
    after = Sample("KX-7", "co2", "co2", 815.0, "ppm", host.wall())
    rows, _ = Normaliser("school", "gw1").rows([before, after])
    decoded = _ingest(encode_rows_batch("school", "gw1", 1, host.wall(), rows), host)
    got = as_rows(decoded.batches[0][0].rows)
    assert [(r[5], r[6]) for r in got] == [(ts_before, Quality.GOOD), (host.true(), Quality.UNCERTAIN)]
    assert decoded.clock_checks[0][2].restamped == 1


def _late_batches(
    host: HostClock, memory: dict[tuple[str, str], AgentClockMemory], sent: list[int]
) -> list[str]:
    """Verdicts for batches sent (agent clock) at `sent`, each received at the host's true time then."""
    out = []
    for i, t in enumerate(sent):
        rows, _ = Normaliser("school", "gw1").rows([Sample("KX-7", "co2", "co2", 800.0 + i, "ppm", t)])
        decoded = Decoded(clock=TrueClock(host), clock_memory=memory)
        decoded.add(
            Incoming(
                topic("school", "gw1", "telemetry"), encode_rows_batch("school", "gw1", i, t, rows), 1, 1, 0
            ),
            lambda *_: {},
        )
        out.append(decoded.clock_checks[0][2].verdict if decoded.clock_checks else "ok")
        q = as_rows(decoded.batches[0][0].rows)[0][6]
        assert (q is Quality.UNCERTAIN) == (out[-1] == "behind")
        host.advance(1)
    return out


def test_an_agent_clock_steadily_behind_is_told_from_a_broker_backlog() -> None:
    """Started with its clock a day behind, the agent's batches arrive in real time, each a day
    late: after 10 s of them ingest marks them uncertain. A backlog the broker held while ingest
    was down arrives faster than it was sent: late, stored as stamped."""
    host = HostClock()
    behind = _late_batches(host, {}, [host.true() - DAY + i * S for i in range(14)])
    assert behind[:10] == ["late"] * 10 and behind[10:] == ["behind"] * 4
    host = HostClock()
    backlog_start = host.true() - 2 * 3600 * S  # two hours held by the broker
    backlog = [backlog_start + i * 30 * S for i in range(14)]  # 30 s apart, arriving 1 s apart
    assert set(_late_batches(host, {}, backlog)) == {"late"}
