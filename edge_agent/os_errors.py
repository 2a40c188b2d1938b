"""OS errors in words a technician can search for: the errno's name and its text."""

from __future__ import annotations

import errno
import os


def os_error_reason(exc: OSError) -> str:
    """`ECONNREFUSED (Connection refused)`; the bare message when there is no errno."""
    if exc.errno is None:
        return str(exc) or type(exc).__name__
    name = errno.errorcode.get(exc.errno, f"errno {exc.errno}")
    return f"{name} ({os.strerror(exc.errno)})"


def serial_error_reason(exc: BaseException, port: str, settings: str) -> str:
    """A serial port that cannot be opened or configured: `termios.error` (not an OSError) carries
    (errno, text) — EINVAL when the driver refuses the settings (e.g. parity E on a pty or an
    adapter without parity support); pyserial wraps the open error in `SerialException`."""
    code = getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    if isinstance(code, int):
        what = f"{errno.errorcode.get(code, f'errno {code}')} ({os.strerror(code)})"
        if code == errno.EINVAL:
            return f"serial port {port} refused the settings {settings}: {what}"
        return f"cannot open serial port {port}: {what}"
    return f"cannot open serial port {port} ({settings}): {exc}"


def serial_settings(baudrate: int, bytesize: int, parity: str, stopbits: int) -> str:
    """`9600 8E1`, the way the settings are printed on a device's label."""
    return f"{baudrate} {bytesize}{parity}{stopbits}"
