"""InfluxDB through the v1 HTTP API: line protocol on `/write`, InfluxQL on `/query`.

InfluxDB 1.x serves this natively; 2.x and 3.x serve the same endpoints as their "v1
compatibility API" (database/retention policy mapped to a bucket, token auth), so one writer
covers all of them; `influx_v2.InfluxV2Store` only swaps the write endpoint for `/api/v2/write`.
Tested against InfluxDB 1.6 and, for the v2 write endpoint, VictoriaMetrics (docs/influx-schema.md).

Write errors are classified the way a serious writer must, because ingest acks MQTT only
after `write` returns:
- 429, 5xx, connection loss → retry with exponential backoff, honouring `Retry-After`, until
  `retry_for_s`; then `StoreError(retryable=True)` (the consumer keeps the batch un-acked);
- 413 (body too large) → split the request in halves and write each;
- 400 (parse error, field type conflict; 1.x writes the good lines of the request) → bisect
  down to the failing line and hand it to `on_reject` with the server's message: never dropped
  silently. Without `on_reject` the line raises `StoreError(retryable=False)`;
- 401/403/404 and other 4xx → `StoreError(retryable=False)` (credentials, missing database).
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import http.client
import json
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from contract.telemetry import SeriesKey
from store import influxql
from store.base import (
    Agg,
    RoomTagMap,
    RowGroup,
    SeriesInfo,
    StoredPoint,
    StoreError,
    Window,
    write_points,
)
from store.lineprotocol import KEY_TAGS, RESERVED_TAGS, LineEncoder
from store.windows import check_range, window_origin

log = logging.getLogger(__name__)

RejectSink = Callable[[str, str], None]  # (line or point text, reason)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SPLIT_STATUSES = frozenset({413})
REJECT_STATUSES = frozenset({400, 422})
MAX_RETRY_AFTER_S = 300.0
KEYS_PER_QUERY = 200


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        try:
            return str(json.loads(self.body).get("error", self.body.decode(errors="replace")))
        except (ValueError, AttributeError):
            return self.body.decode(errors="replace").strip()


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), capped; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(when - (time.time() if now is None else now), 0.0), MAX_RETRY_AFTER_S)


class HttpClient:
    """Keep-alive HTTP(S) with one connection per thread (http.client is not thread-safe)."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 10.0,
        headers: Mapping[str, str] | None = None,
        ca_file: str | None = None,
        verify_tls: bool = True,
    ) -> None:
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"InfluxDB url must be http(s)://host[:port][/prefix], got {url!r}")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})
        self._ssl: ssl.SSLContext | None = None
        if u.scheme == "https":
            self._ssl = ssl.create_default_context(cafile=ca_file)
            if not verify_tls:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._ssl is not None:
                conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout_s, context=self._ssl
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        body: bytes = b"",
        headers: Mapping[str, str] = {},
    ) -> HttpResponse:
        """One request; raises OSError/HTTPException on connection problems (caller classifies)."""
        target = f"{self.prefix}{path}?{urllib.parse.urlencode(params)}"
        hdrs = {**self.headers, **headers}
        for attempt in (0, 1):  # a kept-alive connection the server closed: reconnect once
            conn = self._conn()
            try:
                conn.request(method, target, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self._drop()
                return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if attempt:
                    raise
            except (OSError, http.client.HTTPException):
                self._drop()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._drop()


def _refused(resp: HttpResponse) -> StoreError:
    """A write the server refused for good (credentials, database, other 4xx)."""
    what = {401: "authentication failed", 403: "not authorised", 404: "database not found"}
    return StoreError(
        f"InfluxDB write {what.get(resp.status, 'rejected')}: HTTP {resp.status}: {resp.text()}",
        retryable=False,
    )


def auth_headers(username: str | None, password: str | None, token: str | None) -> dict[str, str]:
    """Token (2.x/3.x compatibility API) or Basic auth (1.x users); never put in the URL."""
    if token:
        return {"Authorization": f"Token {token}"}
    if username:
        raw = f"{username}:{password or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    return {}


class InfluxV1Store:
    """`Store` on InfluxDB's v1 HTTP API (1.x native, 2.x/3.x compatibility)."""

    def __init__(
        self,
        url: str,
        database: str,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        ca_file: str | None = None,
        verify_tls: bool = True,
        timeout_s: float = 10.0,
        batch_lines: int = 5000,
        gzip_body: bool = False,
        retry_for_s: float = 30.0,
        create_database: bool = False,
        on_reject: RejectSink | None = None,
    ) -> None:
        self.database = database
        self.retention_policy = retention_policy
        self.batch_lines = max(1, batch_lines)
        self.gzip_body = gzip_body
        self.retry_for_s = retry_for_s
        self.on_reject = on_reject
        self.http = HttpClient(url, timeout_s, auth_headers(username, password, token), ca_file, verify_tls)
        self._stop = threading.Event()
        self.rejected_total = 0
        self._encoder = LineEncoder()
        self.retries_total = 0
        if create_database:
            self.query(f"CREATE DATABASE {influxql.ident(database)}")

    # ------------------------------------------------------------ writing

    def write(self, points: Sequence[StoredPoint]) -> None:
        write_points(self, points)

    def write_rows(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> None:
        """Validated contract rows `(site, agent, rows)` with room tags per (site, device, point)
        → line protocol in requests of about `batch_lines` (a group is not split); an
        unencodable row goes to `on_reject`. Groups of plain rows are encoded straight into the
        request body (`LineEncoder.plain_body`); a body the server refuses (400/413) is written
        again line by line, which splits and bisects as `write_lines` does."""
        pending: list[RowGroup] = []
        parts: list[bytes] = []
        n = 0
        for group in groups:
            site, agent, rows = group
            body = self._encoder.plain_body(site, agent, rows, tags)
            if body is None:
                lines = self._encoder.encode_rows(site, agent, rows, tags, self._reject)
                for i in range(0, len(lines), self.batch_lines):
                    self.write_lines(lines[i : i + self.batch_lines])
                continue
            pending.append(group)
            parts.append(body)
            n += len(rows)
            if n >= self.batch_lines:
                self._write_body(pending, parts, tags)
                pending, parts, n = [], [], 0
        if pending:
            self._write_body(pending, parts, tags)

    def _write_body(self, groups: list[RowGroup], parts: list[bytes], tags: RoomTagMap) -> None:
        resp = self._post_with_retry(b"".join(parts))
        if resp.status in (200, 204):
            return
        if resp.status in SPLIT_STATUSES or resp.status in REJECT_STATUSES:
            self._split(self.encode_rows(groups, tags), resp)  # the same lines, halved
            return
        raise _refused(resp)

    def encode_rows(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> list[str]:
        """The lines `write_rows` sends (pure CPU: ingest encodes while earlier writes are in flight)."""
        lines: list[str] = []
        for site, agent, rows in groups:
            lines += self._encoder.encode_rows(site, agent, rows, tags, self._reject)
        return lines

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write raw lines with the error classification above (also used by the bench)."""
        if not lines:
            return
        resp = self._post_with_retry(("\n".join(lines) + "\n").encode())
        if resp.status in (200, 204):
            return
        if resp.status in SPLIT_STATUSES or resp.status in REJECT_STATUSES:
            self._split(lines, resp)
            return
        raise _refused(resp)

    def _split(self, lines: Sequence[str], resp: HttpResponse) -> None:
        """After a 413/400 for `lines`: write each half (down to the one line that fails)."""
        if len(lines) == 1:
            self._reject(lines[0], f"HTTP {resp.status}: {resp.text()}")
            return
        mid = len(lines) // 2
        self.write_lines(lines[:mid])
        self.write_lines(lines[mid:])

    def _post_with_retry(self, body: bytes) -> HttpResponse:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip_body:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        params = self.write_params()
        deadline = time.monotonic() + self.retry_for_s
        delay = 0.1
        while True:
            problem: str
            wait: float | None = None
            try:
                resp = self.http.request("POST", self.write_path, params, body, headers)
                if resp.status not in RETRY_STATUSES:
                    return resp
                problem = f"HTTP {resp.status}: {resp.text()}"
                wait = retry_after_s(resp.headers.get("retry-after"))
            except (OSError, http.client.HTTPException) as exc:
                problem = f"connection: {exc}"
            wait = delay if wait is None else wait
            if time.monotonic() + wait > deadline or self._stop.is_set():
                raise StoreError(f"InfluxDB write failed after retrying: {problem}", retryable=True)
            self.retries_total += 1
            log.warning("InfluxDB write: %s; retrying in %.1fs", problem, wait)
            self._stop.wait(wait)
            delay = min(delay * 2, 10.0)

    write_path = "/write"

    def write_params(self) -> dict[str, str]:
        params = {"db": self.database, "precision": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        return params

    def _reject(self, line: str, reason: str) -> None:
        self.rejected_total += 1
        if self.on_reject is None:
            raise StoreError(f"InfluxDB refused a point: {reason}: {line}", retryable=False)
        log.error("InfluxDB refused a point, quarantined: %s", reason)
        self.on_reject(line, reason)

    # ------------------------------------------------------------ reading

    def query(self, q: str) -> list[dict[str, Any]]:
        """Run InfluxQL built by `influxql` (never from raw user text); returns the result series."""
        params = {"db": self.database, "epoch": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        body = urllib.parse.urlencode({"q": q}).encode()
        try:
            resp = self.http.request(
                "POST", "/query", params, body, {"Content-Type": "application/x-www-form-urlencoded"}
            )
        except (OSError, http.client.HTTPException) as exc:
            raise StoreError(f"InfluxDB query: connection: {exc}", retryable=True) from exc
        if resp.status != 200:
            raise StoreError(
                f"InfluxDB query: HTTP {resp.status}: {resp.text()}",
                retryable=resp.status in RETRY_STATUSES,
            )
        try:
            return influxql.result_series(json.loads(resp.body))
        except (ValueError, influxql.QueryError) as exc:
            raise StoreError(f"InfluxDB query: {exc}", retryable=False) from exc

    def latest(self, keys: Sequence[SeriesKey] | None = None) -> dict[SeriesKey, StoredPoint]:
        if keys is None:
            return _newest(self.query(influxql.latest_query()))
        out: dict[SeriesKey, StoredPoint] = {}
        unique = list(dict.fromkeys(keys))
        for chunk in _chunks(unique, KEYS_PER_QUERY):
            out.update(_newest(self.query(influxql.latest_query(keys=chunk))))
        return out

    def range(
        self,
        key: SeriesKey,
        start: int,
        end: int,
        every: int | None = None,
        agg: Agg = Agg.MEAN,
        tz: tzinfo | None = None,
    ) -> list[Window]:
        check_range(start, end, every)
        agg = Agg(agg)
        origin = window_origin(every, tz, start) if every is not None else 0
        series = self.query(influxql.range_query(key, start, end, every, agg, origin))
        windows: list[Window] = []
        for s in series:
            for row in influxql.rows(s):
                if every is None:
                    quality = row.get("quality") or row.get("quality_1")  # tag, or a pre-2026 field
                    valid = row.get("value") is not None and quality != "bad"
                    windows.append(
                        Window(int(row["time"]), _float(row["value"]) if valid else None, int(valid))
                    )
                else:
                    func = influxql.AGG_FUNC[agg]
                    count = int(row.get("count") or 0)
                    windows.append(Window(int(row["time"]), _float(row.get(func)), count))
        windows.sort(key=lambda w: w.start)
        return windows

    def series(self, tags: Mapping[str, str] | None = None) -> list[SeriesInfo]:
        newest = _newest(self.query(influxql.latest_query(tags=dict(tags or {}))))
        return [SeriesInfo(p.key, p.quantity, p.unit, p.tags) for _, p in sorted(newest.items())]

    def count(self) -> int:
        """Number of stored points: those with a value, plus those without one (which always
        carry `reason`; points with a reason are rare, so reading them raw is cheap)."""
        q = f'SELECT count("value") FROM {influxql.ALL_MEASUREMENTS}'
        valued = sum(int(r.get("count") or 0) for s in self.query(q) for r in influxql.rows(s))
        q = f'SELECT "value", "reason" FROM {influxql.ALL_MEASUREMENTS} WHERE "reason" =~ /.*/'
        valueless = sum(1 for s in self.query(q) for r in influxql.rows(s) if r.get("value") is None)
        return valued + valueless

    def close(self) -> None:
        self._stop.set()
        self.http.close()


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _chunks(items: Sequence[SeriesKey], n: int) -> Iterator[Sequence[SeriesKey]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _newest(series: list[dict[str, Any]]) -> dict[SeriesKey, StoredPoint]:
    """StoredPoints from `latest_query` results; of several tag sets of one series key (the
    device was re-bound to another room) the newest wins."""
    out: dict[SeriesKey, StoredPoint] = {}
    for s in series:
        tags: dict[str, str] = dict(s.get("tags") or {})
        if not all(tags.get(k) for k in KEY_TAGS):
            continue  # not written by this schema
        key = SeriesKey(tags["site"], tags["device"], tags["point"])
        for row in influxql.rows(s)[:1]:
            ts = int(row["time"])
            if key in out and out[key].ts >= ts:
                continue
            room = {k: v for k, v in tags.items() if k not in RESERVED_TAGS and v}
            out[key] = StoredPoint(
                key=key,
                ts=ts,
                value=_float(row.get("value")),
                quantity=str(s.get("name")),
                unit=tags.get("unit", ""),
                # tags since the 2026 schema; fields in older points (still readable)
                quality=str(tags.get("quality") or row.get("quality") or "good"),
                reason=row.get("reason") or None,
                agent=tags.get("agent") or row.get("agent") or None,
                tags=room,
            )
    return out
