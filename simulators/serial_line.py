"""An RS485 line at one baud rate on a pseudo-terminal, in front of an RTU simulator.

`PtyLine` opens a pty, links its slave end to a path (what a USB-RS485 adapter's /dev/ttyUSB0
is to the agent) and relays RTU frames between it and a `ModbusSimServer(framer="rtu")`.
Like a real line, it hears only a master that talks at the line's baud rate: a request written
at another rate is lost (the slaves see noise and stay silent), so a baud-rate scan finds
the line only at its own setting. Linux ptys always run 8N1 (the driver clears PARENB), so a
pty cannot tell parities apart; a real device that ignores parity answers at every parity too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
from pathlib import Path

_BAUD = {
    getattr(termios, f"B{rate}"): rate
    for rate in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
    if hasattr(termios, f"B{rate}")
}


class PtyLine:
    """One serial line: `link` (a symlink to the pty) ↔ the RTU simulator at host:port."""

    def __init__(self, link: Path, host: str, port: int, baudrate: int) -> None:
        if baudrate not in _BAUD.values():
            raise ValueError(f"baud rate {baudrate} is not a standard rate")
        self.link = link
        self.host = host
        self.port = port
        self.baudrate = baudrate
        self.heard = 0  # requests relayed at the line's rate
        self.lost = 0  # writes at another rate (noise to the slaves)
        self._master = -1
        self._slave = -1
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._master, self._slave = os.openpty()  # the slave stays open: no EIO between clients
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self._slave))
        reader, self._writer = await asyncio.open_connection(self.host, self.port)
        os.set_blocking(self._master, False)
        asyncio.get_running_loop().add_reader(self._master, self._from_master)
        self._pump = asyncio.create_task(self._to_master(reader))

    def _from_master(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, OSError):
            return
        speed = _BAUD.get(termios.tcgetattr(self._master)[4])  # the master's setting (shared termios)
        if speed != self.baudrate:
            self.lost += 1
            return
        self.heard += 1
        if self._writer is not None:
            self._writer.write(data)

    async def _to_master(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(4096):
            with contextlib.suppress(BlockingIOError):
                os.write(self._master, data)

    async def stop(self) -> None:
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._writer is not None:
            self._writer.close()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
