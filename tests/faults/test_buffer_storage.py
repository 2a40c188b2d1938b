"""The agent's disk buffer under storage faults, end to end (simulator → agent → Mosquitto →
ingest → InfluxDB, accounted per answer as in test_faults.py).

- The buffer's filesystem fills (a real one: a small tmpfs, filled by another file) with the
  broker up, then down: lost points == the agent's counted drops (`disk_full`), exactly; one
  ENOSPC line naming the buffer and the free space; the uplink stays connected and delivers the
  backlog once space is back.
- Started with the disk already full: a fresh buffer cannot be created — one clear line, exit 3,
  no traceback; an existing buffer starts (its reserve file gives it room) and runs.
- A corrupt buffer at start: the agent starts, the file is moved aside and named in the log,
  the unreadable readings counted (`corrupt_buffer`), and `agent buffer recover` queues what
  the file still holds, which arrives.

Mounting the tmpfs needs root (the sandbox and CI run as root); without it the test fails
saying so, it is never skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto, free_port
from tests.faults.fault_pipeline import CLI, Account, Pipeline
from tests.faults.test_faults import RECOVERY_TIMEOUT_S, row
from tests.support.metrics import scrape
from tests.support.waiting import wait_until

SMALL_DISK = "24m"  # the buffer's filesystem: WAL (~1 MiB) + reserve (2 MiB) + room for a backlog


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "small-disk"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, (
        f"the disk-full fault mounts a {SMALL_DISK} tmpfs (needs root): {done.stderr}"
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Another program takes every free byte of the filesystem."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 512, 1):
            block = b"\0" * size
            try:
                while True:
                    os.write(fd, block)
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


def enospc_lines_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if "disk full (ENOSPC" in line]


def enospc_lines(log: Path) -> list[str]:
    return enospc_lines_in(log.read_text(errors="replace"))


def test_buffer_disk_full_broker_up_then_down(
    make_pipeline: Callable[..., Pipeline], small_disk: Path, outage_s: float, fault_row: Callable
) -> None:
    buffer = small_disk / "queue.sqlite"
    p = make_pipeline(buffer=f"{{path: {buffer}, overflow: drop_oldest}}")
    filler = fill(small_disk)
    time.sleep(outage_s / 2)  # the disk full, the broker up: sent batches free their room
    p.broker.stop()
    # the pages the retention window freed are reused first: how long that lasts varies
    wait_until(lambda: p.agent_drops("disk_full") > 0, 90, f"the full disk costing readings ({p.agent.log})")
    time.sleep(outage_s / 2)  # the disk full, the broker down: the buffer cannot grow
    filler.unlink()  # space is back …
    p.broker.start()  # … and the broker
    t_back = time.time_ns()

    def drained() -> bool:
        return p.agent.metrics().get("campus_agent_oldest_unsent_age_seconds", 99) < 2

    wait_until(drained, RECOVERY_TIMEOUT_S, f"agent backlog drained ({p.agent.log})", every=0.2)
    t_end = time.time_ns()
    acc, _ = p.wait_recovered(t_end, lambda a: a.lost_points <= p.agent_dropped(), RECOVERY_TIMEOUT_S)
    rec = (time.time_ns() - t_back) / 1e9
    dropped = p.agent_dropped()
    row(fault_row, p, f"buffer disk full {outage_s:g} s (broker up, then down)", acc, rec, dropped)
    assert acc.lost_points == dropped == p.agent_drops("disk_full") > 0, (
        f"every lost point a counted disk_full drop: lost {acc.lost_points}, dropped {dropped}"
    )
    assert acc.extra_ts == 0
    lines = enospc_lines(p.agent.log)
    assert len(lines) == 1, lines
    assert str(buffer) in lines[0] and re.search(r"\d B free of 24\.0 MiB", lines[0]), lines[0]
    log = p.agent.log.read_text(errors="replace")
    assert "writable again" in log and "Traceback" not in log and "device ?" not in log
    assert p.agent.metrics().get("campus_agent_uplink_connected") == 1


def _agent_yaml(path: Path, broker: Mosquitto, buffer: Path, metrics_port: int) -> Path:
    path.write_text(
        f"""site: fault-site
agent: gw-full
upstream:
  broker: {{host: 127.0.0.1, port: {broker.port}, reconnect_min_s: 0.1, reconnect_max_s: 0.5}}
buffer: {{path: {buffer}}}
metrics: {{listen: "127.0.0.1:{metrics_port}"}}
""",
        encoding="utf-8",
    )
    return path


def test_agent_started_on_a_full_disk(
    tmp_path: Path, small_disk: Path, make_mosquitto: Callable[..., Mosquitto]
) -> None:
    broker = make_mosquitto()
    existing = small_disk / "old" / "queue.sqlite"
    port = free_port()
    cfg_old = _agent_yaml(tmp_path / "old.yaml", broker, existing, port)
    first = subprocess.Popen([str(CLI), "agent", "run", str(cfg_old)], stderr=subprocess.PIPE, text=True)
    try:
        wait_until(
            lambda: existing.with_name("queue.sqlite.reserve").exists(), 30, "the first start's reserve"
        )
    finally:
        first.terminate()
        assert first.wait(30) == 0
    fill(small_disk)
    check_full = subprocess.run(
        [str(CLI), "agent", "check", str(cfg_old)], capture_output=True, text=True, timeout=60
    )
    assert "WARNING: buffer disk full" in check_full.stdout, check_full.stdout

    fresh = subprocess.run(
        [
            str(CLI),
            "agent",
            "run",
            str(_agent_yaml(tmp_path / "new.yaml", broker, small_disk / "new" / "q.sqlite", free_port())),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = fresh.stderr + fresh.stdout
    assert fresh.returncode == 3, said
    assert "Traceback" not in said and "cannot open, the disk is full" in said and "0 B free" in said, said

    again = subprocess.Popen([str(CLI), "agent", "run", str(cfg_old)], stderr=subprocess.PIPE, text=True)
    try:

        def serving() -> bool:
            assert again.poll() is None, f"exited {again.returncode}"
            try:
                return scrape(f"http://127.0.0.1:{port}/metrics").get("campus_agent_uplink_connected") == 1
            except OSError:
                return False

        wait_until(serving, 30, "the agent on its existing buffer, on the full disk")
    finally:
        again.terminate()
        err = again.communicate(timeout=30)[1]
    assert again.returncode == 0 and "Traceback" not in err, err
    assert len(enospc_lines_in(err)) == 1 and "reserve file" in err, err


def test_corrupt_buffer_at_start(
    make_pipeline: Callable[..., Pipeline], outage_s: float, fault_row: Callable
) -> None:
    p = make_pipeline()
    buffer = p.root / "buf" / "queue.sqlite"
    p.broker.stop()
    time.sleep(outage_s / 2)  # a backlog on disk
    p.agent.argv += ["--flush-timeout", "1"]
    assert p.agent.stop() == 0
    data = buffer.read_bytes()
    buffer.write_bytes(data[: len(data) * 2 // 3])  # a torn write / a bad SD card
    p.broker.start()
    p.agent.start()  # runs: before, it exited 1 on "database disk image is malformed"
    t_back = time.time_ns()
    log = p.agent.log.read_text(errors="replace")
    aside = [a for a in buffer.parent.iterdir() if a.name.startswith("queue.sqlite.corrupt-")]
    assert len(aside) == 1 and f"moved aside to {aside[0]}" in log, log[-3000:]
    counted = p.agent_drops("corrupt_buffer")
    unknown = "how many more is unknown" in log

    cfg = p.root / "agent.yaml"
    out = subprocess.run(
        [str(CLI), "agent", "buffer", "recover", str(cfg), str(aside[0])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    m = re.search(r"queued (\d+) readings", out.stdout)
    assert m and int(m.group(1)) > 0, out.stdout

    def settled(acc: Account) -> bool:
        return acc.lost_points == counted if not unknown else acc.lost_points >= counted

    wait_until(
        lambda: p.agent.metrics().get("campus_agent_oldest_unsent_age_seconds", 99) < 2,
        RECOVERY_TIMEOUT_S,
        "salvaged readings sent",
    )
    acc, rec = p.wait_recovered(t_back, settled, RECOVERY_TIMEOUT_S)
    row(fault_row, p, "corrupt buffer at start (file cut to 2/3), then `buffer recover`", acc, rec, counted)
    assert rec == rec, f"lost {acc.lost_points}, counted {counted} (unknown part: {unknown})\n{out.stdout}"
    assert acc.extra_ts == 0
    if not unknown:
        assert acc.lost_points == counted, "every lost point counted as corrupt_buffer"
