"""Agents' own view of their health: the retained status/health topics on the upstream broker.

The agent publishes `online` (birth) / `offline` (last will) on `…/status` and periodic
queue depth, drops and quarantine counts on `…/health`, all retained, so subscribing once
gives the current picture of every agent. Undecodable messages are counted, never trusted.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from api.settings import AgentHealthConfig
from contract.telemetry import HealthReport, Status, TelemetryError, decode_status, parse_topic, subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentSeen:
    site: str
    agent: str
    state: str  # online / offline / unknown (from the status topic)
    status_ts: int | None
    health: HealthReport | None
    health_ts: int | None


class AgentHealthBook:
    """Latest status and health per (site, agent); fed by `observe`, read by the API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[tuple[str, str], Status] = {}
        self._health: dict[tuple[str, str], Status] = {}
        self.rejected = 0

    def observe(self, topic: str, payload: bytes) -> None:
        try:
            parts = parse_topic(topic)
            st = decode_status(payload, topic)
        except TelemetryError as exc:
            self.rejected += 1
            log.warning("agent status rejected: %s", exc)
            return
        if (st.site, st.agent) != (parts.site, parts.agent):
            self.rejected += 1
            return
        key = (st.site, st.agent)
        with self._lock:
            target = self._health if st.state == "health" else self._status
            prev = target.get(key)
            if prev is None or prev.ts <= st.ts:
                target[key] = st

    def agents(self) -> list[AgentSeen]:
        with self._lock:
            keys = sorted(set(self._status) | set(self._health))
            out = []
            for k in keys:
                s, h = self._status.get(k), self._health.get(k)
                out.append(
                    AgentSeen(
                        site=k[0],
                        agent=k[1],
                        state=s.state if s else "unknown",
                        status_ts=s.ts if s else None,
                        health=h.health if h else None,
                        health_ts=h.ts if h else None,
                    )
                )
            return out


class MqttAgentHealth:
    """Subscribes the status and health topics (paho, its own network thread)."""

    def __init__(self, cfg: AgentHealthConfig, book: AgentHealthBook) -> None:
        from ops.mqtt_client import build_client

        self.cfg = cfg
        self.book = book
        self.client = build_client(cfg)  # broker-assigned id, clean session: retained topics suffice
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        client.subscribe(
            [(subscription("status", self.cfg.site), 1), (subscription("health", self.cfg.site), 1)]
        )

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self.book.observe(msg.topic, msg.payload)

    def start(self) -> None:
        from ops.mqtt_client import connect_async

        connect_async(self.client, self.cfg)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
