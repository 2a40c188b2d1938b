"""Faults end to end at a steady rate: simulator → agent → Mosquitto → ingest → InfluxDB.

After each fault we count in InfluxDB, per answer the Modbus simulator sent (the independent
truth, see fault_pipeline.py), whether all its points were stored exactly once (InfluxDB
collapses a resent reading onto the same series + ts; a second *timestamp* for one answer
would be a duplicate that did not collapse and fails the test). What the policy promises:

- broker down (plain or shared subscription), InfluxDB down, ingest SIGKILL, Modbus slave
  silent, broker SIGKILL/disk lost: every answered point arrives.
- agent SIGKILL: every point the agent had on disk arrives; the at most one answer per device
  that was between the socket and the disk at the kill instant is not promised (Modbus cannot
  redeliver) and is reported as lost if it happened.
- disk buffer full: lost points == the agent's counted drops, exactly.
- Modbus silent: the agent stores one value-less `bad` point per point per failed poll; they are
  not counted in "points sent" (no answer was sent) but in their own column, and must equal the
  agent's failed polls × points per poll.

Every wait is bounded; the outage is 10 s (with CAMPUS_TWIN_LONG=1: 5 minutes for the broker
and InfluxDB outages, 30 s for the others).

End-to-end acknowledgement rows (the broker loses PUBACKed batches; the agent's retention window
and ingest's durable/resend bring them back): broker SIGKILL with a queue for an offline
ingest, broker disk wiped, two shared ingest processes each SIGKILLed, and a retention window
too small (lost == the agent's `retention_gone` drops == the loss ingest recorded, exactly).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from simulators.modbus_faults import Fault
from tests.faults.fault_pipeline import Account, Pipeline, S, device_id, read_points, wipe_broker_disk
from tests.support.waiting import wait_until

RECOVERY_TIMEOUT_S = 60.0


def recovery_timeout(outage_s: float) -> float:
    """A 5-minute backlog (~300k points) takes longer than 60 s to drain on a loaded 2-core box."""
    return max(RECOVERY_TIMEOUT_S, outage_s)


def no_loss(acc: Account) -> bool:
    return acc.lost_points == 0


def answers_between(p: Pipeline, a_ns: int, b_ns: int) -> int:
    return sum(1 for ts in p.sim.answers().values() for t in ts if a_ns <= t <= b_ns)


def row(
    fault_row: Callable[..., None], p: Pipeline, name: str, acc: Account, rec: float, dropped: int = 0
) -> None:
    fault_row(
        fault=name,
        sent=acc.sent_points,
        stored=acc.stored_points,
        lost=acc.lost_points,
        duplicates=int(p.ingest_duplicates()),
        dropped=dropped,
        bad=acc.bad_points,
        recovery_s=rec,
        note=f"{p.units} Modbus devices × {p.points} points every {p.interval:g} s = {p.rate:.0f} points/s",
    )


def assert_exactly_once(acc: Account, rec: float, p: Pipeline) -> None:
    assert rec == rec, f"not recovered within {RECOVERY_TIMEOUT_S}s: {acc}\nagent:\n{p.agent.tail()}"
    assert acc.lost_points == 0, f"lost {acc.lost_points} points: {acc.lost_answers[:10]}"
    assert acc.extra_ts == 0, "an answer was stored under two timestamps (a duplicate did not collapse)"
    assert acc.stored_points == acc.sent_points


@pytest.mark.timeout(1200)  # CAMPUS_TWIN_LONG=1: a 5-minute outage plus its backlog
@pytest.mark.parametrize(
    "share_group",
    [None, "ingest"],
    ids=["plain-subscription", "shared-subscription"],
)
def test_broker_outage(
    make_pipeline: Callable[..., Pipeline], long_outage_s: float, fault_row: Callable, share_group: str | None
) -> None:
    outage_s = long_outage_s
    p = make_pipeline(share_group=share_group)
    t_stop = time.time_ns()
    p.broker.stop()
    time.sleep(outage_s)
    p.broker.start()  # same port, same persistence file
    t_back = time.time_ns()
    assert answers_between(p, t_stop, t_back) > p.units, "polling went on during the outage"
    acc, rec = p.wait_recovered(t_back, no_loss, recovery_timeout(outage_s))
    sub = "shared subscription" if share_group else "plain subscription"
    row(fault_row, p, f"broker stopped {outage_s:g} s (ingest on a {sub})", acc, rec)
    assert_exactly_once(acc, rec, p)
    assert p.agent_dropped() == 0
    if share_group:  # Mosquitto dropped the batches of the memberless group; resend brought them
        assert p.resend_requests() > 0


@pytest.mark.timeout(1200)  # CAMPUS_TWIN_LONG=1: a 5-minute outage plus its backlog
def test_influxdb_outage(
    make_pipeline: Callable[..., Pipeline], long_outage_s: float, fault_row: Callable
) -> None:
    outage_s = long_outage_s
    p = make_pipeline()
    p.influx.stop()
    time.sleep(outage_s)
    p.influx.start()
    t_back = time.time_ns()
    acc, rec = p.wait_recovered(t_back, no_loss, recovery_timeout(outage_s))
    row(fault_row, p, f"InfluxDB stopped {outage_s:g} s", acc, rec)
    assert_exactly_once(acc, rec, p)
    assert p.agent_dropped() == 0


def test_agent_sigkill_and_restart(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    p = make_pipeline()
    p.agent.kill()
    t_kill = time.time_ns()
    time.sleep(min(outage_s, 3.0))
    p.agent.start()  # same buffer file: unacked batches are resent with their seq
    t_back = time.time_ns()

    window = int((p.interval + 1.0) * S)

    def in_flight_only(acc: Account) -> bool:
        units = [u for u, _ in acc.lost_answers]
        return (
            all(t_kill - window <= s <= t_kill for _, s in acc.lost_answers)
            and len(units) == len(set(units))
            and acc.lost_points == len(units) * p.points
        )

    # backlog sent: nothing older than a poll interval + a seal waits (under continuous polling
    # the depth itself is rarely 0 at the 1 s snapshot, since every poll cycle is one commit)
    wait_until(
        lambda: p.agent.metrics().get("campus_agent_oldest_unsent_age_seconds", 99) < p.interval + 1.0,
        60,
        "agent backlog sent",
    )
    acc, _ = p.wait_recovered(t_back, in_flight_only, RECOVERY_TIMEOUT_S)
    rec = (time.time_ns() - t_back) / S  # restart → backlog sent and stored
    time.sleep(2.0)  # ingest batches for 0.2 s: anything still on its way is stored by now
    acc = p.account(t_back)
    row(fault_row, p, "agent SIGKILL + restart", acc, rec)
    assert rec == rec, f"not recovered: {acc.lost_points} lost, {acc.lost_answers[:10]}\n{p.agent.tail()}"
    assert in_flight_only(acc), f"lost beyond one in-flight answer per device at the kill: {acc.lost_answers}"
    assert acc.extra_ts == 0
    assert acc.stored_points + acc.lost_points == acc.sent_points
    assert p.agent_dropped() == 0


def test_ingest_sigkill_and_restart(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    p = make_pipeline()
    p.kill_ingest()
    time.sleep(outage_s)
    p.ingest.start()  # same client id: the broker redelivers what was not acked
    t_back = time.time_ns()
    acc, rec = p.wait_recovered(t_back, no_loss, RECOVERY_TIMEOUT_S)
    row(fault_row, p, f"ingest SIGKILL, down {outage_s:g} s", acc, rec)
    assert_exactly_once(acc, rec, p)


def test_modbus_slaves_silent_then_back(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    p = make_pipeline()
    silent = list(range(1, max(2, p.units // 10) + 1))
    p.sim.set_fault(silent, Fault("timeout"))
    time.sleep(outage_s)
    p.sim.set_fault(silent, None)
    t_back = time.time_ns()

    def failed_polls() -> int:
        m = p.agent.metrics()
        wanted = {f'device="{device_id(u)}"' for u in silent}
        return int(
            sum(
                v
                for k, v in m.items()
                if k.startswith("campus_agent_device_polls_total{")
                and 'outcome="failed"' in k
                and any(w in k for w in wanted)  # label order is the exposition's business
            )
        )

    def back(acc: Account) -> bool:
        answers = p.sim.answers()
        alive = all(any(t > t_back for t in answers.get(u, [])) for u in silent)
        return alive and acc.lost_points == 0 and acc.bad_points == failed_polls() * p.points

    # answers after t_back prove the slaves are polled again; everything up to then must be stored
    acc, rec = p.wait_recovered(t_back, back, RECOVERY_TIMEOUT_S + outage_s)
    row(fault_row, p, f"{len(silent)} Modbus slaves silent {outage_s:g} s", acc, rec)
    assert_exactly_once(acc, rec, p)
    assert acc.bad_points > 0 and acc.bad_points == failed_polls() * p.points
    stored_after = p.account(time.time_ns())
    assert all(any(t > t_back for t in p.sim.answers()[u]) for u in silent)
    assert stored_after.extra_ts == 0


@pytest.mark.parametrize("policy", ["drop_oldest", "refuse_newest"])
def test_disk_buffer_limit_reached(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable, policy: str
) -> None:
    p = make_pipeline(buffer=f"{{path: buf/queue.sqlite, max_bytes: 65536, overflow: {policy}}}")
    p.broker.stop()
    time.sleep(outage_s)
    dropped_at_back = p.agent_dropped()
    p.broker.start()
    t_back = time.time_ns()
    assert dropped_at_back > 0, "the buffer never filled: the test proved nothing"

    def drained() -> bool:
        return p.agent.metrics().get("campus_agent_oldest_unsent_age_seconds", 99) < 2

    wait_until(drained, RECOVERY_TIMEOUT_S, f"agent backlog drained ({p.agent.log})", every=0.2)
    t_end = time.time_ns()  # the backlog is gone: no drops after this, account up to here
    acc, _ = p.wait_recovered(t_end, lambda a: a.lost_points <= p.agent_dropped(), RECOVERY_TIMEOUT_S)
    rec = (time.time_ns() - t_back) / S
    dropped = p.agent_dropped()
    row(fault_row, p, f"disk buffer 64 KiB full ({policy}), broker down {outage_s:g} s", acc, rec, dropped)
    assert acc.lost_points == dropped, "every lost point is a counted drop, and every drop is lost"
    assert acc.extra_ts == 0
    reasons = p.agent.metrics()
    key = "overflow_oldest" if policy == "drop_oldest" else "overflow_refused"
    assert reasons.get(f'campus_agent_dropped_readings_total{{reason="{key}"}}', 0) == dropped


# ---------------------------------------------------------------- end-to-end acknowledgement
# The broker loses PUBACKed batches in each of these; the agent's retention window
# (edge_agent/retention.py) and ingest's durable/resend (ingest/delivery.py) bring them back.


def test_broker_sigkill_with_messages_queued_for_offline_ingest(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    p = make_pipeline(lazy_broker=True)  # queued messages live in broker memory only
    assert p.ingest.stop() == 0
    time.sleep(outage_s)  # the agent publishes, the broker PUBACKs and queues for ingest's session
    p.broker.stop(kill=True)
    p.broker.start()
    p.ingest.start()
    t_back = time.time_ns()
    acc, rec = p.wait_recovered(t_back, no_loss, RECOVERY_TIMEOUT_S)
    row(fault_row, p, f"broker SIGKILL with {outage_s:g} s queued for an offline ingest", acc, rec)
    assert_exactly_once(acc, rec, p)
    assert p.resend_requests() > 0, "the broker lost nothing: the test proved nothing"
    assert p.agent_dropped() == 0


def test_broker_disk_wiped_during_outage(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    p = make_pipeline()
    assert p.ingest.stop() == 0  # so the broker holds queued batches for it when its disk goes
    time.sleep(outage_s / 2)
    p.broker.stop()
    wipe_broker_disk(p.broker)
    time.sleep(outage_s / 2)
    p.broker.start()
    time.sleep(2.0)  # the agent is back and publishing to nobody: the broker has no session for ingest
    p.ingest.start()
    t_back = time.time_ns()
    acc, rec = p.wait_recovered(t_back, no_loss, RECOVERY_TIMEOUT_S)
    row(fault_row, p, f"broker disk wiped during a {outage_s:g} s outage", acc, rec)
    assert_exactly_once(acc, rec, p)
    assert p.resend_requests() > 0
    assert p.agent_dropped() == 0


def test_two_shared_ingest_processes_each_sigkilled(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    p = make_pipeline(share_group="ingest", n_ingest=2)
    for i in (0, 1):
        p.kill_ingest(i)
        time.sleep(outage_s / 2)
        p.ingests[i].start()
    t_back = time.time_ns()
    acc, rec = p.wait_recovered(t_back, no_loss, RECOVERY_TIMEOUT_S)
    row(fault_row, p, f"2 ingest processes sharing, each SIGKILLed {outage_s / 2:g} s in turn", acc, rec)
    assert_exactly_once(acc, rec, p)
    assert p.agent_dropped() == 0


def test_retention_window_too_small(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    p = make_pipeline(buffer="{path: buf/queue.sqlite, retention: {max_bytes: 65536}}")
    assert p.ingest.stop() == 0
    p.broker.stop()
    wipe_broker_disk(p.broker)  # ingest's session and what was queued for it are gone
    p.broker.start()
    time.sleep(outage_s / 2)  # PUBACKed into the void; 64 KiB of retention cannot hold it
    p.ingest.start()
    t_back = time.time_ns()

    def reported(acc: Account) -> bool:
        return acc.lost_points > 0 and acc.lost_points == p.reported_lost() == p.agent_drops("retention_gone")

    acc, rec = p.wait_recovered(t_back, reported, RECOVERY_TIMEOUT_S)
    dropped = p.agent_drops("retention_gone")
    row(fault_row, p, f"retention 64 KiB, {outage_s / 2:g} s published to nobody", acc, rec, dropped)
    assert rec == rec, (
        f"loss not reported exactly: lost {acc.lost_points}, reported {p.reported_lost()}, dropped {dropped}"
    )
    assert acc.lost_points == dropped == p.reported_lost() > 0, (
        "every lost point reported and counted, no more"
    )
    assert acc.extra_ts == 0


# ---------------------------------------------------------------- health and clock truth


def _device_metric(p: Pipeline, name: str, dev: str) -> dict[str, float]:
    return {k: v for k, v in p.agent.metrics().items() if k.startswith(name + "{") and f'device="{dev}"' in k}


def test_wrong_unit_id_every_read_answers_exception_4(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    """A TCP gateway answering exception 4 for a unit id that is not behind it: the device is
    DOWN with the reason and the unit-id hint in the log, and a fixed id brings it UP with the
    last-reason gauge cleared."""
    p = make_pipeline()
    dev = device_id(1)
    p.sim.set_fault([1], Fault("exception", code=4))
    wait_until(
        lambda: list(_device_metric(p, "campus_agent_device_up", dev).values()) == [0.0], 30, f"{dev} DOWN"
    )
    reasons = list(_device_metric(p, "campus_agent_device_last_reason_info", dev))
    assert len(reasons) == 1 and "exception 4" in reasons[0], reasons
    log = p.agent.log.read_text(errors="replace")
    assert f"device {dev} DOWN: all {p.points} points failed: modbus exception 4" in log, p.agent.tail()
    assert "check the unit id" in log
    time.sleep(outage_s)
    p.sim.set_fault([1], None)
    t_back = time.time_ns()
    wait_until(
        lambda: (
            list(_device_metric(p, "campus_agent_device_up", dev).values()) == [1.0]
            and not _device_metric(p, "campus_agent_device_last_reason_info", dev)
        ),
        30,
        f"{dev} UP with its last reason cleared",
    )
    acc, rec = p.wait_recovered(t_back, no_loss, RECOVERY_TIMEOUT_S)
    row(fault_row, p, f"wrong unit id (exception 4 on every read) {outage_s:g} s", acc, rec)
    assert_exactly_once(acc, rec, p)
    assert acc.bad_points > 0  # the failed polls are stored as value-less bad points, not as good


@pytest.mark.parametrize(("step_s", "name"), [(864_000, "+10 d"), (-86_400, "-1 d")])
def test_agent_clock_stepped(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable, step_s: int, name: str
) -> None:
    """The agent's wall clock is set 10 days ahead / 1 day back while it runs (injected through
    its `clock.steps`; the system clock is untouched). Nothing is stored in the future; every
    reading stamped by the stepped clock is uncertain with the reason; ingest counts the batches."""
    after_s = 6.0
    p = make_pipeline(agent_extra=f"clock: {{steps: [{{after_s: {after_s}, by_s: {step_s}}}]}}\n")
    time.sleep(outage_s)
    t_end = time.time_ns()
    verdict = "ahead" if step_s > 0 else "late"
    key = f'campus_ingest_agent_clock_batches_total{{verdict="{verdict}"}}'
    wait_until(lambda: p.ingest.metrics().get(key, 0) > 0, 30, f"ingest saw the agent clock {verdict}")
    assert p.agent.stop() == 0  # flushes its queue: from here the counts only settle
    if step_s > 0:
        wait_until(
            lambda: (
                sum(1 for *_, r in read_points(p.influx.url) if "restamped by ingest" in r)
                == p.ingest.metrics()["campus_ingest_agent_clock_restamped_total"]
            ),
            30,
            "every restamped reading stored once",
        )
    points = read_points(p.influx.url)
    horizon = time.time_ns() + 300 * S  # ingest's allowed skew
    assert max(ts for _, ts, _, _ in points) <= horizon, "a reading was stored in the future"
    stepped = [(q, r) for _, _, q, r in points if f"stepped {name}" in r]
    assert stepped, p.agent.tail()
    assert all(q == "uncertain" for q, _ in stepped), "a reading stamped by the stepped clock was good"
    if step_s > 0:
        restamped = p.ingest.metrics()["campus_ingest_agent_clock_restamped_total"]
        assert sum(1 for _, _, _, r in points if "restamped by ingest" in r) == restamped > 0
    else:  # 1 day back: no reading after the step is good
        day_ago = t_end - 12 * 3600 * S
        assert all(q != "good" for _, ts, q, _ in points if ts < day_ago)
    assert f"stepped {name}" in p.agent.log.read_text(errors="replace")
    told = [line for line in p.ingest.log.read_text(errors="replace").splitlines() if "its clock is" in line]
    assert 1 <= len(told) == len({"real time" in line for line in told})  # once per agent and verdict
    # the step's real time: the first reading the stepped clock stamped (moved back by the step
    # when ingest could not restamp it), less a second: every answer before it stored, exactly
    first_stepped = min(ts for _, ts, _, r in points if f"stepped {name}" in r)
    t_step = first_stepped - (step_s * S if step_s < 0 else 0)
    acc = p.account(t_step - S)
    row(fault_row, p, f"agent clock stepped {name} while running", acc, float("nan"))
    assert acc.lost_points == 0 and acc.stored_points == acc.sent_points > 0
