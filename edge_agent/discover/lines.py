"""What to scan and how long it may take (pure): the line, its settings, the unit ids, the bound.

A LINE is a serial port (`/dev/ttyUSB0`, `COM3`: baud rates × parities are scanned), an
RS485 converter speaking RTU over TCP (`rtu-over-tcp://host:port`: the converter holds the
baud rate) or a Modbus TCP device/gateway (`tcp://host:port`). Every probe is bounded by
`timeout_s`, so the scan is bounded before it starts: settings × unit ids × timeout, plus
one connect per setting, plus, per answering unit, one bounded read per fingerprint request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

# commonest first: a scan stopped early has tried what most installations use
DEFAULT_BAUDS = (9600, 4800, 19200, 2400, 38400, 115200)
DEFAULT_PARITIES = ("N", "E")
STANDARD_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


@dataclass(frozen=True)
class Line:
    type: Literal["rtu", "rtu-over-tcp", "tcp"]
    port: str = ""  # serial device
    host: str = ""
    tcp_port: int = 0

    def __str__(self) -> str:
        return self.port if self.type == "rtu" else f"{self.type}://{self.host}:{self.tcp_port}"


@dataclass(frozen=True)
class Setting:
    """One way to talk on the line; serial fields are None on TCP lines."""

    baudrate: int | None = None
    parity: Literal["N", "E", "O"] | None = None

    def __str__(self) -> str:
        return "-" if self.baudrate is None else f"{self.baudrate} 8{self.parity}1"

    def transport(self, line: Line) -> dict[str, Any]:
        """The agent config's `transport:` for a device found at this setting."""
        if line.type == "rtu":
            return {"type": "rtu", "port": line.port, "baudrate": self.baudrate, "parity": self.parity}
        return {"type": line.type, "host": line.host, "port": line.tcp_port}


def parse_line(text: str) -> Line:
    """`/dev/ttyUSB0` | `rtu-over-tcp://host:port` | `tcp://host:port` → Line (ValueError with the forms)."""
    if "://" not in text:
        if not text.strip():
            raise ValueError("empty LINE")
        return Line("rtu", port=text)
    url = urlsplit(text)
    if url.scheme not in ("rtu-over-tcp", "tcp"):
        raise ValueError(
            f"LINE {text!r}: unknown scheme {url.scheme!r}; use a serial port (/dev/ttyUSB0), "
            "rtu-over-tcp://HOST:PORT, tcp://HOST:PORT or mqtt://HOST:PORT"
        )
    if not url.hostname:
        raise ValueError(f"LINE {text!r}: no host")
    try:
        port = url.port or (502 if url.scheme == "tcp" else 0)
    except ValueError as exc:
        raise ValueError(f"LINE {text!r}: {exc}") from None
    if not port:
        raise ValueError(f"LINE {text!r}: rtu-over-tcp needs a port (the converter's TCP port)")
    return Line("rtu-over-tcp" if url.scheme == "rtu-over-tcp" else "tcp", host=url.hostname, tcp_port=port)


def parse_units(text: str) -> list[int]:
    """'1-247', '1-20,100' → sorted unit ids (1..247; ValueError naming the bad part)."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        lo_s, _, hi_s = part.partition("-")
        try:
            lo, hi = int(lo_s), int(hi_s or lo_s)
        except ValueError:
            raise ValueError(f"--units {text!r}: {part!r} is not N or N-M") from None
        if not 1 <= lo <= hi <= 247:
            raise ValueError(f"--units {text!r}: {part!r} is outside 1..247")
        out.update(range(lo, hi + 1))
    return sorted(out)


def parse_bauds(text: str) -> list[int]:
    bauds = []
    for part in text.split(","):
        try:
            rate = int(part)
        except ValueError:
            raise ValueError(f"--bauds {text!r}: {part!r} is not a number") from None
        if rate not in STANDARD_BAUDS:
            raise ValueError(
                f"--bauds: {rate} is not a standard rate ({', '.join(map(str, STANDARD_BAUDS))})"
            )
        bauds.append(rate)
    return bauds


def parse_parities(text: str) -> list[Literal["N", "E", "O"]]:
    out: list[Literal["N", "E", "O"]] = []
    names: dict[str, Literal["N", "E", "O"]] = {"N": "N", "E": "E", "O": "O"}
    for part in text.upper().split(","):
        if part in names:
            out.append(names[part])
        else:
            raise ValueError(f"--parities {text!r}: {part!r} is not N, E or O")
    return out


def settings_for(line: Line, bauds: list[int], parities: list[Literal["N", "E", "O"]]) -> list[Setting]:
    if line.type != "rtu":
        return [Setting()]
    return [Setting(b, p) for b in bauds for p in parities]


@dataclass(frozen=True)
class Estimate:
    """Upper bounds, printed before the scan starts."""

    settings: int
    units: int
    timeout_s: float
    scan_s: float  # every probe unanswered, plus a connect per setting
    per_unit_s: float  # one answering unit's identification, every read unanswered

    def total_s(self, found: int) -> float:
        return self.scan_s + found * self.per_unit_s

    def text(self) -> str:
        return (
            f"估计 estimate: scan ≤ {self.scan_s:.1f} s ({self.settings} line setting(s) × {self.units} unit ids"
            f" × {self.timeout_s:g} s), then ≤ {self.per_unit_s:.1f} s per answering unit"
        )


def estimate(settings: int, units: int, timeout_s: float, reads_per_unit: int) -> Estimate:
    """Bounds: a probe or read never waits longer than `probe_bound_s`, a connect `connect_bound_s`,
    and identification stops reading when its unit's share is spent (scan.identify)."""
    per = probe_bound_s(timeout_s)
    return Estimate(
        settings=settings,
        units=units,
        timeout_s=timeout_s,
        scan_s=settings * (units * per + connect_bound_s(timeout_s)),
        per_unit_s=(reads_per_unit + 2) * per,
    )


def probe_bound_s(timeout_s: float) -> float:
    """The longest one request may take: pymodbus's timeout plus 10 % for the event loop."""
    return timeout_s * 1.1


def connect_bound_s(timeout_s: float) -> float:
    """The longest opening the port (or the TCP connection) may take at one setting."""
    return max(probe_bound_s(timeout_s), 1.0)
