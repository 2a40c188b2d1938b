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
