"""A gateway installs `campus-twin[agent]` only: the agent's commands must work when the
server's dependencies cannot be imported. Simulated by blocking those imports in a child
Python, then running the real CLI (help, check, and a short run against a real broker)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from campus_twin.servers import Mosquitto
from tests.support.waiting import wait_until
from tests.test_layering import SERVER_ONLY

# starts Modbus/TCP servers or the CLI as a process: not part of the fast unit subset
pytestmark = pytest.mark.integration

BLOCKED = sorted(SERVER_ONLY)

RUNNER = textwrap.dedent(
    """
    import sys
    from importlib.abc import MetaPathFinder

    BLOCKED = set({blocked!r})

    class Block(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is not installed on a gateway")
            return None

    sys.meta_path.insert(0, Block())
    from campus_twin.cli import main
    code = main(sys.argv[1:])
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    sys.exit(code)
    """
).format(blocked=BLOCKED)


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_agent_commands_work_without_server_dependencies(tmp_path: Path, mosquitto: Mosquitto) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(
        f"""site: sz-01
agent: gw-A
modbus:
  - {{id: A-101-th, profile: renke-rs-ws-n01, unit_id: 1, poll_interval_s: 1, timeout_s: 0.2,
     transport: {{type: tcp, host: 127.0.0.1, port: 1}}}}
upstream:
  broker: {{host: {mosquitto.host}, port: {mosquitto.port}}}
buffer: {{path: {tmp_path / "buffer.sqlite"}}}
metrics: {{listen: null}}
"""
    )
    helped = _run("agent", "--help")
    assert helped.returncode == 0 and "run" in helped.stdout, helped.stderr
    checked = _run("agent", "check", str(cfg))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "A-101-th" in checked.stdout
    # a short real run: the device is unreachable (port 1), so it polls bad readings and forwards them
    log = tmp_path / "agent.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, "agent", "run", str(cfg)], stdout=sink, stderr=subprocess.STDOUT
        )

    def started() -> bool:
        assert proc.poll() is None, f"agent exited early:\n{log.read_text()}"
        text = log.read_text()  # "starting:" comes after its signal handlers are installed
        return "starting:" in text and "upstream connected" in text

    try:
        wait_until(started, 60, f"the agent running and connected upstream ({log})", every=0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = log.read_text()
    assert proc.returncode == 0, out
    assert "agent stopped" in out, out
    assert "is not installed on a gateway" not in out, out


def test_blocking_really_blocks() -> None:
    """The guard itself works: a server command fails in the same child."""
    res = _run("twin", "inspect", "nothing.ifc")
    assert res.returncode != 0
    assert "is not installed on a gateway" in res.stderr
