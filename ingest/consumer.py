"""The MQTT side of ingest: shared subscription, persistent session, QoS 1, manual acks.

Why it is built this way:
- `$share/<group>/campus/+/+/telemetry` lets N ingest processes split the agents on the
  broker; status/health topics are low-volume and retained, so every process subscribes to
  them plainly and keeps a complete agent picture.
- The session is persistent (MQTT 5 clean start off + session expiry, or 3.1.1
  clean_session=False) under a fixed client id, and acks are manual: a PUBACK goes out only
  after the store `write` returned (and rejects are fsynced to the quarantine). A crash
  therefore leaves the messages un-acked in the broker session, which redelivers them on
  reconnect; the store's idempotent upsert turns the redelivery into a no-op.
- Messages are gathered across publishes (max points/messages/delay) into one store write:
  throughput comes from fewer, larger writes. The pipeline is decode (gather thread) → encode +
  write (`batch.writers` threads, several writes in flight, so the store's CPU and ours overlap)
  → ack in arrival order: a batch's PUBACKs go out only after its own write *and* every earlier
  batch's write succeeded. A failing write is retried with backoff while its messages (and all
  later ones) stay un-acked; the broker's in-flight limit is the natural back-pressure.
- MQTT redelivers in-flight messages only when a session resumes, so while connected the
  consumer itself keeps retrying the batch it holds.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from contract.clock import Clock, WallClock
from contract.delivery import Gone, control_kind, control_subscription, decode_control, topic_agent
from contract.sequence import SeqVerdict
from contract.telemetry import AgentClockMemory, TelemetryError, subscription
from contract.timestamps import DEFAULT_MAX_SKEW_S, describe_offset
from ingest.config import BatchConfig, BrokerConfig
from ingest.delivery import Confirmer
from ingest.enrich import BindingWatcher
from ingest.metrics import IngestMetrics
from ingest.pipeline import Decoded, Incoming, write_decoded
from ops.mqtt_client import ClientOptions, build_client, connect_async, is_connection_lost, reason_text
from ops.quarantine import Quarantine
from store.base import Store, StoreError

log = logging.getLogger(__name__)


def client_options(broker: BrokerConfig) -> ClientOptions:
    """Persistent session under the fixed client id, manual acks."""
    return ClientOptions(
        client_id=broker.client_id,
        protocol=broker.protocol,
        persistent=True,
        session_expiry_s=broker.session_expiry_s,
        manual_ack=True,
    )


def make_client(broker: BrokerConfig, on_message: Callable[[mqtt.MQTTMessage], None]) -> mqtt.Client:
    """A paho 2.x client with manual acks and a persistent session (not yet connected)."""
    client = build_client(broker, client_options(broker))
    # reconnect fast: while ingest is away a shared subscription's messages are not queued
    client.reconnect_delay_set(min_delay=1, max_delay=5)
    client.on_message = lambda _c, _u, msg: on_message(msg)
    return client


def disconnect_text(reason: Any, from_server: bool, socket_error: str | None) -> str:
    """Why a connection ended, in words: paho names a lost connection only "Unspecified error",
    so say whether the broker sent DISCONNECT and what the socket reported."""
    if from_server:
        return f"the broker sent DISCONNECT: {reason_text(reason)}"
    if reason is None or is_connection_lost(reason):
        return f"connection lost ({socket_error or 'the broker closed the socket without a DISCONNECT'})"
    return reason_text(reason) + (f" ({socket_error})" if socket_error else "")


class Consumer:
    """Gathers messages, writes them through the store, then acks them in arrival order."""

    def __init__(
        self,
        broker: BrokerConfig,
        share_group: str | None,
        store: Store,
        quarantine: Quarantine,
        bindings: BindingWatcher,
        metrics: IngestMetrics,
        batch: BatchConfig | None = None,
        site: str = "+",
        max_skew_s: float = DEFAULT_MAX_SKEW_S,
        delivery: Confirmer | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.broker = broker
        self.max_skew_s = max_skew_s
        self.clock: Clock = clock or WallClock()  # ingest's own: judges each agent's `sent`
        self._clock_logged: set[tuple[str, str, str]] = set()  # (site, agent, verdict) told once
        self._clock_memory: dict[tuple[str, str], AgentClockMemory] = {}  # per agent: check_agent_clock
        self.store = store
        self.quarantine = quarantine
        self.bindings = bindings
        self.metrics = metrics
        self.batch = batch or BatchConfig()
        self.topics = [
            (subscription("telemetry", site, share_group), 1),
            (subscription("status", site), 1),
            (subscription("health", site), 1),
        ]
        self.delivery = delivery  # end-to-end acknowledgement (ingest/delivery.py)
        if delivery is not None:  # every member hears every answer; the ledger makes it idempotent
            self.topics.append((control_subscription("gone", site), 1))
        self._inbox: queue.Queue[Incoming] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        # decoded batches wait here for a writer (bounded: decode runs at most `writers` ahead)
        n = self.batch.writers
        self._ready: queue.Queue[tuple[int, list[Incoming], Decoded] | None] = queue.Queue(maxsize=n)
        self._worker = threading.Thread(target=self._work, name="ingest-gather", daemon=True)
        self._writers = [
            threading.Thread(target=self._write_loop, name=f"ingest-writer-{i}", daemon=True)
            for i in range(n)
        ]
        # in-order acks: batches written out of order wait here until every earlier one is written
        self._ack_lock = threading.Lock()
        self._next_ack = 0
        self._written: dict[int, tuple[list[Incoming], Decoded, float]] = {}
        self._failed = threading.Event()
        # message ids received and not yet acked (under metrics.lock): the broker's window to us
        self._unacked: set[int] = set()
        self._last_mqtt_error: str | None = None  # paho's last socket error (see _on_log)
        self._connect_failures = 0
        self.client = make_client(broker, self._on_message)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_log = self._on_log
        self.client.on_connect_fail = self._on_connect_fail

    # ------------------------------------------------------------ MQTT callbacks (network thread)

    def _on_message(self, msg: mqtt.MQTTMessage) -> None:
        if self.delivery is not None and control_kind(msg.topic) == "gone":
            self._on_gone(msg)
            return
        if msg.qos > 0:
            with self.metrics.lock:
                self._unacked.add(msg.mid)
                self.metrics.pending_messages = len(self._unacked)
        self._inbox.put(Incoming(msg.topic, bytes(msg.payload), msg.mid, msg.qos, time.time_ns()))

    def _on_gone(self, msg: mqtt.MQTTMessage) -> None:
        """An agent's answer to a resend request: record the loss it reports, then ack."""
        assert self.delivery is not None
        try:
            answer = decode_control(bytes(msg.payload), msg.topic)
            assert isinstance(answer, Gone)
            self.delivery.on_gone(*topic_agent(msg.topic), answer)
        except TelemetryError as exc:
            self.quarantine.add("payload", msg.topic, str(exc), bytes(msg.payload))
            self.quarantine.flush()
        except Exception as exc:  # the ledger is busy or broken: not acked, the broker redelivers
            log.error("delivery answer on %s not recorded: %s", msg.topic, exc)
            return
        if msg.qos > 0:
            self.client.ack(msg.mid, msg.qos)

    def _on_log(self, _c: mqtt.Client, _u: Any, level: int, text: str) -> None:
        """Keeps paho's last socket-level complaint for the disconnect line (paho reports a lost
        connection only as the reason code "Unspecified error")."""
        if level in (mqtt.MQTT_LOG_ERR, mqtt.MQTT_LOG_WARNING):
            self._last_mqtt_error = text

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        self._connect_failures += 1
        if self._connect_failures == 1:
            log.warning(
                "MQTT connect to %s:%s failed (%s); paho retries every 1-5 s",
                self.broker.host,
                self.broker.port,
                self._last_mqtt_error or "broker unreachable: refused or no route",
            )

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error(
                "MQTT connect to %s:%s refused: %s",
                self.broker.host,
                self.broker.port,
                reason_text(reason),
            )
            return
        self._connect_failures = 0
        self._last_mqtt_error = None
        log.info(
            "MQTT connected to %s:%s as %s (session present: %s)",
            self.broker.host,
            self.broker.port,
            self.broker.client_id,
            getattr(flags, "session_present", None),
        )
        self._connected.set()
        client.subscribe(self.topics)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        failed = [
            f"{t}: {reason_text(r)}"
            for (t, _q), r in zip(self.topics, reasons, strict=False)
            if getattr(r, "is_failure", False)
        ]
        if failed:
            log.error("MQTT subscription refused: %s", "; ".join(failed))
            return
        self._subscribed.set()
        with self.metrics.lock:
            self.metrics.subscribed = 1
        if self.delivery is not None:
            self.delivery.republish()  # the broker may have lost its retained copies

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        self._subscribed.clear()
        with self.metrics.lock:
            self.metrics.subscribed = 0
            # the broker redelivers what was un-acked when the session resumes, under new ids
            self._unacked.clear()
            self.metrics.pending_messages = 0
        if not self._stop.is_set():
            from_server = bool(getattr(flags, "is_disconnect_packet_from_server", False))
            log.warning(
                "MQTT disconnected from %s:%s: %s; paho reconnects, un-acked messages are redelivered",
                self.broker.host,
                self.broker.port,
                disconnect_text(reason, from_server, self._last_mqtt_error),
            )
        self._last_mqtt_error = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        window = (self.batch.writers + 1) * self.batch.max_messages
        log.info(
            "batches of up to %d messages, %d writers: the broker should let %d QoS 1 messages to this"
            " client be un-acked at once (Mosquitto max_inflight_messages, default 20), else batches"
            " stay small and writes stop overlapping; campus_ingest_pending_messages shows the window",
            self.batch.max_messages,
            self.batch.writers,
            window,
        )
        connect_async(self.client, self.broker, client_options(self.broker))
        self.client.loop_start()
        self._worker.start()
        for w in self._writers:
            w.start()

    def wait_ready(self, timeout: float) -> bool:
        """Connected and subscribed (SUBACK received)."""
        return self._subscribed.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Flush what was gathered (one attempt), ack it, then disconnect; the rest is redelivered."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in (self._worker, *self._writers):
            if t.is_alive():
                t.join(max(0.1, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()

    # ------------------------------------------------------------ the writer thread

    def _work(self) -> None:
        """Gather and decode; numbers batches in arrival order and hands them to the writers."""
        seq = 0
        while not self._stop.is_set():
            try:
                first = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            self._ready.put((seq, *self._gather(first)))
            seq += 1
        # what already arrived is written once more on the way out; the rest is redelivered
        rest: list[Incoming] = []
        while True:
            try:
                rest.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        if rest:
            decoded = Decoded(
                max_skew_s=self.max_skew_s,
                tags=self.bindings.table,
                clock=self.clock,
                clock_memory=self._clock_memory,
            )
            for m in rest:
                decoded.add(m, self.bindings.tags)
            self._ready.put((seq, rest, decoded))
        for _ in self._writers:
            self._ready.put(None)

    def _write_loop(self) -> None:
        while True:
            item = self._ready.get()
            if item is None:
                return
            if self._failed.is_set():
                continue  # stopping after a failed write: keep acks in order, let the broker redeliver
            seq, msgs, decoded = item
            elapsed = self._write(msgs, decoded)
            if elapsed is None:
                self._failed.set()
                continue
            self._ack_in_order(seq, msgs, decoded, elapsed)

    def _gather(self, first: Incoming) -> tuple[list[Incoming], Decoded]:
        if self.bindings.maybe_reload():
            with self.metrics.lock:
                self.metrics.bindings_loads_total = self.bindings.loads_total
        with self.metrics.lock:
            self.metrics.bindings_errors_total = self.bindings.errors_total
        decoded = Decoded(
            max_skew_s=self.max_skew_s,
            tags=self.bindings.table,
            clock=self.clock,
            clock_memory=self._clock_memory,
        )
        msgs = [first]
        points = decoded.add(first, self.bindings.tags)
        deadline = time.monotonic() + self.batch.max_delay_s
        while len(msgs) < self.batch.max_messages and points < self.batch.max_points:
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                break
            try:
                m = self._inbox.get(timeout=left)
            except queue.Empty:
                break
            msgs.append(m)
            points += decoded.add(m, self.bindings.tags)
        self._note_clocks(decoded)
        return msgs, decoded

    def _note_clocks(self, decoded: Decoded) -> None:
        """Count every batch whose agent clock disagrees with ours; log once per agent and verdict."""
        for site, agent, check in decoded.clock_checks:
            self.metrics.agent_clock(check.verdict, check.restamped)
            key = (site, agent, check.verdict)
            if key in self._clock_logged:
                continue
            self._clock_logged.add(key)
            if check.verdict == "behind":
                log.warning(
                    "agent %s/%s: its clock is %s behind ingest's (its batches arrive in real time, each "
                    "that late); its readings are stored with quality uncertain (check NTP / the RTC)",
                    site,
                    agent,
                    describe_offset(check.offset_ns),
                )
            elif check.verdict == "ahead":
                log.warning(
                    "agent %s/%s: its clock is %s ahead of ingest's; its readings are restamped onto "
                    "ingest's clock with quality uncertain (check NTP / the RTC on the gateway)",
                    site,
                    agent,
                    describe_offset(check.offset_ns),
                )
            else:
                log.warning(
                    "agent %s/%s: batches sent %s before ingest received them: its clock is behind or "
                    "the broker held them (a backlog); stored as stamped",
                    site,
                    agent,
                    describe_offset(check.offset_ns),
                )

    def _write(self, msgs: list[Incoming], decoded: Decoded) -> float | None:
        """Write and make rejects durable, retrying (un-acked) until it works; the seconds it
        took, or None when stopping after a failure (nothing from here on is acked)."""
        for r in decoded.rejects:
            self.quarantine.add("payload", r.topic, r.reason, r.payload)
        delay = 0.2
        while True:
            t0 = time.monotonic()
            try:
                write_decoded(self.store, decoded)
                self.quarantine.flush()
                return time.monotonic() - t0
            except (StoreError, OSError) as exc:
                with self.metrics.lock:
                    self.metrics.store_errors_total += 1
                if self._stop.is_set():
                    log.error("store write failed while stopping (%s): not acked, the broker redelivers", exc)
                    return None
                log.error(
                    "store write failed (%s): %d messages stay un-acked, retry in %.1fs",
                    exc,
                    len(msgs),
                    delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self.batch.backoff_max_s)

    def _ack_in_order(self, seq: int, msgs: list[Incoming], decoded: Decoded, elapsed: float) -> None:
        """Ack this batch and every later one already written, once all earlier ones are."""
        with self._ack_lock:
            self._written[seq] = (msgs, decoded, elapsed)
            while self._next_ack in self._written and not self._failed.is_set():
                done_msgs, done, took = self._written.pop(self._next_ack)
                self._record(done_msgs, done, took)
                self._confirm(done)
                for m in done_msgs:
                    if m.qos > 0:
                        self.client.ack(m.mid, m.qos)
                with self.metrics.lock:
                    self._unacked.difference_update(m.mid for m in done_msgs)
                    self.metrics.pending_messages = len(self._unacked)
                self._next_ack += 1

    def _confirm(self, decoded: Decoded) -> None:
        """Delivery hook: these batches are in the store; the agents may free them."""
        if self.delivery is None or not decoded.batches:
            return
        try:
            self.delivery.stored((b.site, b.agent, b.seq) for b, _ in decoded.batches)
        except Exception as exc:  # the ledger only frees agent retention; never hold up acks for it
            log.warning("delivery ledger not updated (agents keep their copies longer): %s", exc)

    def _record(self, msgs: list[Incoming], decoded: Decoded, elapsed: float) -> None:
        seq = self.metrics.sequences
        m = self.metrics
        with m.lock:
            for msg in msgs:
                kind = msg.topic.rsplit("/", 1)[-1]
                m.messages_total[kind] = m.messages_total.get(kind, 0) + 1
            m.points_written_total += decoded.n_points
            m.flushes_total += 1
            m.flush_seconds_sum += elapsed
            for batch, _ in decoded.batches:
                if seq.observe(batch.site, batch.agent, batch.seq) is SeqVerdict.DUPLICATE:
                    k = (batch.site, batch.agent)
                    m.duplicates_by_agent[k] = m.duplicates_by_agent.get(k, 0) + 1
            for r in decoded.rejects:
                m.rejected_total[r.klass] = m.rejected_total.get(r.klass, 0) + 1
