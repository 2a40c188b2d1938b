"""ASCII data-logger lines as a `Source`: each configured input (`lines:` in the agent YAML) is
read line by line; a line is one reading (`decode.py`), a line that is not is quarantined with
the reason. An input that cannot be opened (missing file, serial settings refused) puts its
devices DOWN with the cause — one log line — and is reopened with backoff; the other inputs
and every other source carry on."""

from __future__ import annotations

import asyncio
import functools
import logging
from zoneinfo import ZoneInfo

from edge_agent.backoff import Backoff
from edge_agent.device_health import DeviceHealth
from edge_agent.sources import SourceBase, SourceContext
from edge_agent.sources.lines.config import LineInput
from edge_agent.sources.lines.decode import LineError, decode_line
from edge_agent.sources.lines.reader import InputEnded, InputError, LineInputReader
from edge_agent.supervise import Supervisor, join

log = logging.getLogger("edge_agent.sources.lines")
REOPEN_MIN_S = 1.0


class LinesSource(SourceBase):
    name = "lines"

    def __init__(self, inputs: list[LineInput], ctx: SourceContext) -> None:
        self.inputs = inputs
        self.ctx = ctx
        self.tz = ZoneInfo(ctx.timezone)
        self._devices: dict[str, DeviceHealth] = {}
        self._by_input: dict[str, list[str]] = {i.id: [] for i in inputs}
        self.lines_total = 0
        self.quarantined_total = 0
        for inp in inputs:
            if inp.columns.device is None:
                self._device(inp, inp.id)

    async def run(self, stop: asyncio.Event) -> None:
        inputs = Supervisor(REOPEN_MIN_S, max(i.reopen_max_s for i in self.inputs))
        tasks = [
            inputs.start(
                f"lines input {inp.id}",
                functools.partial(self._run_input, inp, stop),
                stop,
                on_failure=functools.partial(self._failed, inp),
            )
            for inp in self.inputs
        ]
        await join(tasks)

    async def _run_input(self, inp: LineInput, stop: asyncio.Event) -> None:
        """Open, read, reopen with backoff: an input's failure is its devices' state, not an exception."""
        backoff = Backoff(min(REOPEN_MIN_S, inp.reopen_max_s), inp.reopen_max_s)
        last_reason: str | None = None
        while not stop.is_set():
            reader = LineInputReader(inp)
            try:
                await asyncio.to_thread(reader.open)
                if last_reason is not None:
                    log.info("line input %s: %s open again", inp.id, inp.path)
                last_reason = None
                backoff.reset()
                while not stop.is_set():
                    for line in await asyncio.to_thread(reader.read_lines):
                        await self._line(inp, line)
                    self._check_silence()
            except InputEnded:
                log.info("line input %s: end of input", inp.id)
                return
            except InputError as exc:
                reason = str(exc)
                delay = backoff.next()
                self._down(inp, reason)
                if reason != last_reason:  # once per cause, not once per retry
                    log.warning(
                        "line input %s: %s; retrying with backoff (next in %.1fs)", inp.id, reason, delay
                    )
                last_reason = reason
                await _sleep_unless(stop, delay)
            finally:
                reader.close()

    async def _line(self, inp: LineInput, line: str) -> None:
        received = self.ctx.clock.now_ns()
        try:
            sample = decode_line(inp, line, received, self.tz)
        except LineError as exc:
            self.quarantined_total += 1
            await self.ctx.quarantine("lines", f"{inp.id}:{inp.path}", str(exc), line.encode())
            log.warning("line from %s quarantined: %s", inp.id, exc)
            return
        if sample is None:
            return
        self.lines_total += 1
        dev = self._device(inp, sample.device)
        line_log = dev.record(received, True, (), 1, sample.reason)
        if line_log is not None:
            log.info(line_log)
        await self.ctx.sink([sample])

    def _device(self, inp: LineInput, name: str) -> DeviceHealth:
        dev = self._devices.get(name)
        if dev is None:
            dev = self._devices[name] = DeviceHealth(name, "lines")
            dev.expected_every_s = inp.expected_interval_s
            dev.silent_after_s = inp.expected_interval_s * inp.silence_factor
            self._by_input[inp.id].append(name)
        return dev

    def _failed(self, inp: LineInput, exc: Exception) -> None:
        self._down(inp, f"{type(exc).__name__}: {exc}")

    def _down(self, inp: LineInput, reason: str) -> None:
        hint = "check the port name, cable and the logger's serial settings" if inp.serial else None
        for name in self._by_input[inp.id]:
            line = self._devices[name].record(self.ctx.clock.now_ns(), False, (), 0, reason, hint)
            if line is not None:
                log.warning(line)

    def _check_silence(self) -> None:
        now = self.ctx.clock.now_ns()
        for dev in self._devices.values():
            line = dev.check_silence(now)
            if line is not None:
                log.warning(line)

    def health(self) -> list[DeviceHealth]:
        return list(self._devices.values())

    def stats(self) -> dict[str, float]:
        return {"lines": float(self.lines_total), "quarantined": float(self.quarantined_total)}


async def _sleep_unless(stop: asyncio.Event, delay: float) -> None:
    waiter = asyncio.ensure_future(stop.wait())  # not wait_for (see the Modbus poller _Bus.run)
    try:
        await asyncio.wait({waiter}, timeout=delay)
    finally:
        waiter.cancel()
