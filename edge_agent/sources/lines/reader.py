"""Blocking line input (serial port, file, FIFO, stdin), read in short slices on a worker thread.

Each `read()` waits at most `SLICE_S`, so the source checks its stop event and its silence
watchdog between slices. What ends an input: stdin at EOF. What reopens it: a FIFO whose writer
closed. A regular file is followed like `tail -f` (new lines as the logger appends them).
"""

from __future__ import annotations

import os
import select
import stat
import time
from typing import Any

from edge_agent.os_errors import os_error_reason, serial_error_reason, serial_settings
from edge_agent.sources.lines.config import LineInput

SLICE_S = 0.5
CHUNK = 65536


class InputError(Exception):
    """The input cannot be opened or read; the message is the reason (with errno name)."""


class InputEnded(Exception):
    """stdin reached EOF: nothing more will come."""


class LineInputReader:
    def __init__(self, inp: LineInput) -> None:
        self.inp = inp
        self._fd: int | None = None
        self._serial: Any = None
        self._fifo = False
        self._opened_once = False
        self._buf = b""

    def open(self) -> None:
        inp = self.inp
        if inp.serial is not None:
            import serial  # pyserial (the [agent] extra)

            s = inp.serial
            try:
                self._serial = serial.Serial(
                    inp.path,
                    baudrate=s.baudrate,
                    parity=s.parity,
                    stopbits=s.stopbits,
                    bytesize=s.bytesize,
                    timeout=SLICE_S,
                )
            except Exception as exc:  # SerialException, termios.error (EINVAL: settings refused), OSError
                settings = serial_settings(s.baudrate, s.bytesize, s.parity, s.stopbits)
                raise InputError(serial_error_reason(exc, inp.path, settings)) from None
            return
        if inp.stdin:
            self._fd = os.dup(0)
            return
        try:
            fd = os.open(inp.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise InputError(f"cannot open {inp.path}: {os_error_reason(exc)}") from None
        self._fifo = stat.S_ISFIFO(os.fstat(fd).st_mode)
        if not self._fifo and not (inp.from_beginning or self._opened_once):
            os.lseek(fd, 0, os.SEEK_END)  # a logger's file: only what it writes from now on
        self._fd = fd
        self._opened_once = True

    def read_lines(self) -> list[str]:
        """Complete lines that arrived within one slice (possibly none)."""
        data = self._read_slice()
        self._buf += data
        if b"\n" not in self._buf:
            if len(self._buf) > CHUNK:  # a logger that never writes a newline: do not grow forever
                line, self._buf = self._buf, b""
                return [line.decode("utf-8", errors="replace")]
            return []
        *lines, self._buf = self._buf.split(b"\n")
        return [raw.rstrip(b"\r").decode("utf-8", errors="replace") for raw in lines]

    def _read_slice(self) -> bytes:
        if self._serial is not None:
            try:
                return bytes(self._serial.read(max(1, self._serial.in_waiting)))
            except Exception as exc:  # unplugged adapter: SerialException / OSError
                raise InputError(f"serial port {self.inp.path}: {exc}") from None
        assert self._fd is not None
        try:
            ready, _, _ = select.select([self._fd], [], [], SLICE_S)
            if not ready:
                return b""
            data = os.read(self._fd, CHUNK)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise InputError(f"reading {self.inp.path}: {os_error_reason(exc)}") from None
        if data:
            return data
        if self.inp.stdin:
            raise InputEnded()
        if self._fifo:  # the writer closed: open again for the next writer
            self.close()
            time.sleep(0.1)
            self.open()
        else:
            time.sleep(SLICE_S)  # a regular file at its end: wait for the logger to append
        return b""

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
