"""`agent run`: the process around `Agent` — config, signals, exit codes.

SIGTERM (systemd stop) and SIGINT (Ctrl-C) set the stop event: sources stop, the uplink flushes
within `flush_timeout_s`, the buffer closes. A second signal does not interrupt the flush; the
flush bound does. SIGKILL loses nothing either: the queue file is the state.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Any

from contract.secrets import SecretError
from contract.yamlio import ConfigError
from edge_agent.buffer_faults import StorageError
from edge_agent.config import load_agent_config
from edge_agent.profiles import load_profiles, search_dirs
from edge_agent.runtime import Agent

log = logging.getLogger("edge_agent")


async def _main(config: str, flush_timeout_s: float, extra_profiles: Sequence[str] = ()) -> int:
    cfg = load_agent_config(config)
    profiles = None
    if cfg.modbus:
        found = load_profiles(search_dirs(cfg.profile_dirs, extra_profiles))
        errors = found.missing((d.id, d.profile) for d in cfg.modbus)
        if errors:
            raise ConfigError(config, errors)
        for problem in found.problems:
            log.warning("profile file not loaded (no configured device uses it): %s", problem)
        profiles = found.profiles
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        if not stop.is_set():
            log.info("%s received: stopping (flush at most %.0fs)", name, flush_timeout_s)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    loop.set_exception_handler(_one_line)
    agent = Agent(cfg, profiles=profiles)
    try:
        await agent.run(stop, flush_timeout_s)
    except SecretError as exc:
        log.error("credentials: %s", exc)
        return 2
    except StorageError as exc:  # e.g. started on a full disk: one line, no traceback
        log.error("%s — the agent stops (systemd starts it again)", exc)
        return 3
    return 0


def _one_line(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A library callback failing on a socket that a flapping link already closed is worth one
    line in the technician's log, not a traceback (the connection's own error path reconnects)."""
    exc = context.get("exception")
    log.warning(
        "event loop: %s%s", context.get("message", "error in a callback"), f": {exc!r}" if exc else ""
    )


def run_forever(config: str, flush_timeout_s: float = 10.0, extra_profiles: Sequence[str] = ()) -> int:
    return asyncio.run(_main(config, flush_timeout_s, extra_profiles))
