"""Run real Mosquitto and InfluxDB 1.x as child processes on loopback (tests, benches, demo).

Each server gets a free port and its own data dir, can be stopped and started again on the
same port and data (fault tests), and fails loudly with an install hint when its binary is
missing: a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "install it with `make system-deps` (Debian packages mosquitto, influxdb)"


class ServerError(RuntimeError):
    pass


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now and never handed out before by this process: the kernel may offer a
    just-closed port again, and two servers configured before either binds would then collide."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def find_binary(name: str, extra: tuple[str, ...] = ()) -> str:
    found = shutil.which(name)
    if found:
        return found
    for cand in extra:
        if Path(cand).is_file():
            return cand
    raise ServerError(f"{name} not found on PATH; {INSTALL_HINT}")


def _wait_port(host: str, port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"server exited with {proc.returncode}; log {log}:\n{_tail(log)}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"server did not listen on {host}:{port} within {timeout}s; log {log}:\n{_tail(log)}")


def _tail(log: Path, n: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@dataclass
class ManagedServer:
    """A server run as a child process on a free loopback port: subclasses give the command
    (`_cmd`) and how to tell it is ready (`_ready`); start/stop/restart and the log are here."""

    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        self.log = self.workdir / "server.log"

    def _cmd(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> None:
        assert self.proc is not None
        _wait_port(self.host, self.port, self.proc, self.log, timeout=30)

    def _wait_http(self, name: str, path: str, status: int, timeout: float = 60) -> None:
        """Until GET `path` answers `status`; a server that exits or stays silent fails with its log."""
        assert self.proc is not None
        url = f"http://{self.host}:{self.port}{path}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{name} exited with {self.proc.returncode}; log {self.log}:\n{_tail(self.log)}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == status:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise ServerError(
            f"{name} did not answer {path} within {timeout:g}s; log {self.log}:\n{_tail(self.log)}"
        )

    def start(self) -> None:
        if self.running:
            return
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self._cmd(), stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir)
        self._ready()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Mosquitto(ManagedServer):
    """Mosquitto 2.x with persistence (so persistent sessions survive a broker restart)."""

    username: str | None = None
    password: str | None = None
    # QoS 1 messages the broker sends a client before it must ack (Mosquitto's default is 20)
    max_inflight: int = 100
    # per-identity set-up (`campus-twin broker acl`): a hashed password file and an ACL file
    passwd_file: Path | None = None
    acl_file: Path | None = None

    def _cmd(self) -> list[str]:
        binary = find_binary("mosquitto", ("/usr/sbin/mosquitto",))
        conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} {self.host}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            "max_queued_messages 0",
            f"max_inflight_messages {self.max_inflight}",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            # as root mosquitto drops to user 'mosquitto', which cannot read pytest's 0700 temp dirs
            lines.append("user root")
        if self.username:
            pwfile = self.workdir / "passwd"
            pwfile.write_text(f"{self.username}:{self.password or ''}\n")
            pw_bin = find_binary("mosquitto_passwd", ("/usr/bin/mosquitto_passwd",))
            subprocess.run([pw_bin, "-U", str(pwfile)], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        elif self.passwd_file is not None:
            lines += ["allow_anonymous false", f"password_file {self.passwd_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        conf.write_text("\n".join(lines) + "\n")
        return [binary, "-c", str(conf)]

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@dataclass
class InfluxDB(ManagedServer):
    """InfluxDB 1.x (Debian's `influxdb`): `/write` line protocol and InfluxQL `/query`.
    `data_settings`: extra `[data]` lines (the bench snapshots the cache to TSM quickly)."""

    data_settings: str = ""

    def _cmd(self) -> list[str]:
        binary = find_binary("influxd", ("/usr/bin/influxd",))
        rpc_port = free_port(self.host)
        d = self.workdir
        conf = d / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "{self.host}:{rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
{self.data_settings}
[coordinator]
  log-queries-after = "0s"
[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
"""
        )
        return [binary, "run", "-config", str(conf)]

    def _ready(self) -> None:
        self._wait_http("influxd", "/ping", 204)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class VictoriaMetrics(ManagedServer):
    """VictoriaMetrics single-node: accepts InfluxDB line protocol on `/write` and `/api/v2/write`
    (the 2.x write API), so the influxdb2 store's writes are tested against a real server; reads
    go through its Prometheus export API (it has no InfluxQL)."""

    def _cmd(self) -> list[str]:
        binary = find_binary("victoria-metrics", ("/usr/bin/victoria-metrics",))
        return [
            binary,
            f"-httpListenAddr={self.host}:{self.port}",
            f"-storageDataPath={self.workdir / 'data'}",
            "-retentionPeriod=100y",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ]

    def _ready(self) -> None:
        self._wait_http("victoria-metrics", "/health", 200)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
