"""`agent run`: the process around `Agent` — config, signals, exit codes.

SIGTERM (systemd stop) and SIGINT (Ctrl-C) set the stop event: sources stop, the uplink flushes
within `flush_timeout_s`, the buffer closes. A second signal does not interrupt the flush; the
flush bound does. SIGKILL loses nothing either: the queue file is the state.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from contract.secrets import SecretError
from edge_agent.config import load_agent_config
from edge_agent.runtime import Agent

log = logging.getLogger("edge_agent")


async def _main(config: str, flush_timeout_s: float) -> int:
    cfg = load_agent_config(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        if not stop.is_set():
            log.info("%s received: stopping (flush at most %.0fs)", name, flush_timeout_s)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    agent = Agent(cfg)
    try:
        await agent.run(stop, flush_timeout_s)
    except SecretError as exc:
        log.error("credentials: %s", exc)
        return 2
    return 0


def run_forever(config: str, flush_timeout_s: float = 10.0) -> int:
    return asyncio.run(_main(config, flush_timeout_s))
