"""InfluxDB 2.x/3.x/Cloud through influxdb-client: batching write API (token/org/bucket,
gzip) for writes, Flux for reads. Same schema and line encoding as the v1 store.

Durability: the batching write API sends from its own thread. `write` submits its lines and
then waits for the client's success/error callbacks to account for every one of them, so it
still returns only when InfluxDB confirmed the points (the consumer acks MQTT after that).
The client retries 429/5xx itself (exponential backoff, honours Retry-After). After it gives
up, the batch is classified like the v1 store does: 400/422 → bisect with a synchronous write
down to the failing line and hand it to `on_reject`; 413 → split; 401/403/404 →
`StoreError(retryable=False)`; anything else → `StoreError(retryable=True)`.

What is tested where (docs/influx-schema.md): writes run in tests against InfluxDB 1.6
through a proxy that maps `/api/v2/write` onto `/write`; the Flux reads below are NOT tested
here (the test box has no InfluxDB 2.x), they follow the documented Flux functions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from influxdb_client import InfluxDBClient, WriteOptions
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from contract.telemetry import SeriesKey
from store.base import Agg, SeriesInfo, StoredPoint, StoreError, Window
from store.lineprotocol import KEY_TAGS, LineEncoder

log = logging.getLogger(__name__)

RejectSink = Callable[[str, str], None]
_FLUX_ESC = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "\\$"})
FLUX_AGG = {Agg.MEAN: "mean", Agg.MIN: "min", Agg.MAX: "max", Agg.LAST: "last", Agg.COUNT: "count"}


def flux_string(text: str) -> str:
    """A Flux string literal; `$` is escaped too so `${…}` can never interpolate."""
    return '"' + text.translate(_FLUX_ESC) + '"'


def flux_tag_filter(tags: Mapping[str, str]) -> str:
    """`r["k"] == "v" and …`: keys and values both go through `flux_string`."""
    if not tags:
        return "true"
    return " and ".join(f"r[{flux_string(k)}] == {flux_string(v)}" for k, v in sorted(tags.items()))


def _key_tags(key: SeriesKey) -> dict[str, str]:
    return {"site": key.site, "device": key.device, "point": key.point}


class InfluxV2Store:
    def __init__(
        self,
        url: str,
        org: str,
        bucket: str,
        token: str,
        verify_tls: bool = True,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
        batch_size: int = 5000,
        gzip_body: bool = True,
        on_reject: RejectSink | None = None,
        flush_interval_ms: int = 100,
        max_retry_time_ms: int = 30_000,
    ) -> None:
        self.org, self.bucket, self.on_reject = org, bucket, on_reject
        self.timeout_s = timeout_s
        self.max_retry_s = max_retry_time_ms / 1000
        self.client = InfluxDBClient(
            url=url,
            token=token,
            org=org,
            timeout=int(timeout_s * 1000),
            verify_ssl=verify_tls,
            ssl_ca_cert=ca_file,
            enable_gzip=gzip_body,
        )
        self._cond = threading.Condition()
        self._done_lines = 0
        self._failures: list[tuple[bytes, BaseException]] = []
        self._options = WriteOptions(
            batch_size=batch_size,
            flush_interval=flush_interval_ms,
            retry_interval=200,
            max_retry_delay=5_000,
            max_retry_time=max_retry_time_ms,
            max_retries=10,
        )
        self._generation = 0
        self._batching = self._batching_api()
        self._sync: Any = self.client.write_api(
            write_options=SYNCHRONOUS
        )  # library types precision as a class
        self.rejected_total = 0
        self._encoder = LineEncoder()

    # ------------------------------------------------------------ writing

    def _batching_api(self) -> Any:
        """A batching writer whose callbacks count only for the current generation, so a
        batch confirmed after `write` gave up can never be mistaken for a later one."""
        gen = self._generation

        def ok(_conf: Any, data: bytes | str) -> None:
            with self._cond:
                if gen == self._generation:
                    self._done_lines += _lines_in(data)
                    self._cond.notify_all()

        def failed(_conf: Any, data: bytes | str, exc: BaseException) -> None:
            raw = data.encode() if isinstance(data, str) else data
            with self._cond:
                if gen == self._generation:
                    self._done_lines += _lines_in(raw)
                    self._failures.append((raw, exc))
                    self._cond.notify_all()

        return self.client.write_api(write_options=self._options, success_callback=ok, error_callback=failed)

    def write(self, points: Sequence[StoredPoint]) -> None:
        lines = self._encoder.encode_all(points, self._reject)
        if not lines:
            return
        with self._cond:
            self._done_lines, self._failures = 0, []
        self._batching.write(self.bucket, self.org, record=lines, write_precision=WritePrecision.NS)
        deadline = time.monotonic() + self.max_retry_s + 2 * self.timeout_s + 5
        with self._cond:
            while self._done_lines < len(lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    self._generation += 1
                    old, self._batching = self._batching, self._batching_api()
                    threading.Thread(target=old.close, daemon=True).start()
                    raise StoreError("InfluxDB 2 write not confirmed in time", retryable=True)
                self._cond.wait(left)
            failures, self._failures = self._failures, []
        for raw, err in failures:
            self._handle_failure(raw.decode().split("\n"), err)

    def _handle_failure(self, lines: list[str], exc: BaseException) -> None:
        status = exc.status if isinstance(exc, ApiException) else None
        if status in (400, 413, 422):
            self._bisect(lines, exc)
            return
        if status in (401, 403, 404):
            raise StoreError(f"InfluxDB 2 write refused: HTTP {status}: {_message(exc)}", retryable=False)
        raise StoreError(f"InfluxDB 2 write failed after retrying: {_message(exc)}", retryable=True)

    def _bisect(self, lines: list[str], exc: BaseException) -> None:
        if len(lines) == 1:
            self._reject(lines[0], f"HTTP {getattr(exc, 'status', '?')}: {_message(exc)}")
            return
        mid = len(lines) // 2
        for half in (lines[:mid], lines[mid:]):
            try:
                self._sync.write(self.bucket, self.org, record=half, write_precision=WritePrecision.NS)
            except ApiException as e:
                if e.status in (400, 413, 422):
                    self._bisect(half, e)
                else:
                    self._handle_failure(half, e)
            except Exception as e:  # connection problems during the bisect: retry the whole batch later
                raise StoreError(f"InfluxDB 2 write failed: {e}", retryable=True) from e

    def _reject(self, line: str, reason: str) -> None:
        self.rejected_total += 1
        if self.on_reject is None:
            raise StoreError(f"InfluxDB refused a point: {reason}: {line}", retryable=False)
        self.on_reject(line, reason)

    # ------------------------------------------------------------ reading (Flux; untested here)

    def _flux(self, q: str) -> list[dict[str, Any]]:
        try:
            tables = self.client.query_api().query(q, org=self.org)
        except ApiException as exc:
            raise StoreError(
                f"Flux query: HTTP {exc.status}: {_message(exc)}", retryable=exc.status >= 429
            ) from exc
        except Exception as exc:
            raise StoreError(f"Flux query: {exc}", retryable=True) from exc
        return [rec.values for t in tables for rec in t.records]

    def _latest_rows(self, extra_filter: str) -> dict[SeriesKey, StoredPoint]:
        q = (
            f"from(bucket: {flux_string(self.bucket)}) |> range(start: 0)"
            f" |> filter(fn: (r) => {extra_filter})"
            ' |> filter(fn: (r) => r._field == "value" or r._field == "quality"'
            ' or r._field == "reason" or r._field == "agent")'
            " |> last()"
            ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        )
        out: dict[SeriesKey, StoredPoint] = {}
        for row in self._flux(q):
            if not all(row.get(k) for k in KEY_TAGS):
                continue
            key = SeriesKey(row["site"], row["device"], row["point"])
            ts = _ns(row["_time"])
            if key in out and out[key].ts >= ts:
                continue
            skip = {*KEY_TAGS, "unit", "result", "table", "_start", "_stop", "_time", "_measurement"}
            skip |= {"value", "quality", "reason", "agent"}
            tags = {k: str(v) for k, v in row.items() if k not in skip and v not in (None, "")}
            value = row.get("value")
            out[key] = StoredPoint(
                key=key,
                ts=ts,
                value=None if value is None else float(value),
                quantity=str(row.get("_measurement")),
                unit=str(row.get("unit") or ""),
                quality=str(row.get("quality") or "good"),
                reason=row.get("reason") or None,
                agent=row.get("agent") or None,
                tags=tags,
            )
        return out

    def latest(self, keys: Sequence[SeriesKey] | None = None) -> dict[SeriesKey, StoredPoint]:
        if keys is None:
            return self._latest_rows("true")
        out: dict[SeriesKey, StoredPoint] = {}
        for k in dict.fromkeys(keys):
            out.update(self._latest_rows(flux_tag_filter(_key_tags(k))))
        return out

    def range(
        self, key: SeriesKey, start: int, end: int, every: int | None = None, agg: Agg = Agg.MEAN
    ) -> list[Window]:
        if every is not None and every <= 0:
            raise ValueError(f"every must be a positive number of ns, got {every}")
        base = (
            f"from(bucket: {flux_string(self.bucket)})"
            f" |> range(start: time(v: {int(start)}), stop: time(v: {int(end)}))"
            f" |> filter(fn: (r) => {flux_tag_filter(_key_tags(key))})"
            ' |> filter(fn: (r) => r._field == "value" or r._field == "quality")'
            ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
            " |> group()"
        )
        if every is None:
            rows = self._flux(base + ' |> sort(columns: ["_time"])')
            out = []
            for r in rows:
                ok = r.get("value") is not None and r.get("quality") != "bad"
                out.append(Window(_ns(r["_time"]), float(r["value"]) if ok else None, int(ok)))
            return out
        valid = base + ' |> filter(fn: (r) => exists r.value and r.quality != "bad")'

        def windowed(func: str) -> dict[int, Any]:
            q = (
                valid + f" |> aggregateWindow(every: duration(v: {int(every)}), fn: {func},"
                ' column: "value", createEmpty: false, timeSrc: "_start")'
            )
            return {_ns(r["_time"]): r.get("value") for r in self._flux(q)}

        counts = windowed("count")
        values = counts if Agg(agg) is Agg.COUNT else windowed(FLUX_AGG[Agg(agg)])
        return [
            Window(t, None if values.get(t) is None else float(values[t]), int(counts.get(t) or 0))
            for t in sorted(values)
        ]

    def series(self, tags: Mapping[str, str] | None = None) -> list[SeriesInfo]:
        newest = self._latest_rows(flux_tag_filter(dict(tags or {})))
        return [SeriesInfo(p.key, p.quantity, p.unit, p.tags) for _, p in sorted(newest.items())]

    def close(self) -> None:
        self._batching.close()
        self.client.close()


def _lines_in(data: bytes | str) -> int:
    return (data.count(b"\n") if isinstance(data, bytes) else data.count("\n")) + 1


def _message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    return str(body or exc).strip()


def _ns(t: Any) -> int:
    """Flux returns datetimes (µs precision in Python); keep ns when the client gives them."""
    if isinstance(t, int):
        return t
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000
