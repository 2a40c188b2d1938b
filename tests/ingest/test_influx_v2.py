"""influxdb2 store. The test box has InfluxDB 1.6 only, so writes are tested through a small
proxy that maps the 2.x write endpoint (`/api/v2/write?org&bucket`) onto 1.6's `/write?db`
(body, gzip and token header pass through unchanged). Flux reads cannot be tested here:
only the Flux text is checked for escaping."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from campus_twin.servers import InfluxDB
from contract.telemetry import SeriesKey
from store.base import StoredPoint, StoreError
from store.influx_v1 import InfluxV1Store
from store.influx_v2 import InfluxV2Store, flux_string, flux_tag_filter

S = 1_000_000_000
T0 = 1_763_884_800 * S
KEY = SeriesKey("sz-01", "A-201-air", "co2")


class V2ToV1Proxy:
    def __init__(self, upstream: str) -> None:
        self.requests: list[dict[str, str]] = []
        self.fail_next: list[int] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                proxy.requests.append({**q, **{k.lower(): v for k, v in self.headers.items()}})
                if u.path != "/api/v2/write":
                    return self._send(404, b'{"code":"not found"}')
                if proxy.fail_next:
                    return self._send(proxy.fail_next.pop(0), b'{"code":"unavailable","message":"injected"}')
                target = f"{upstream}/write?" + urllib.parse.urlencode(
                    {"db": q["bucket"], "precision": q["precision"]}
                )
                req = urllib.request.Request(target, data=body, method="POST")
                if self.headers.get("Content-Encoding"):
                    req.add_header("Content-Encoding", self.headers["Content-Encoding"])
                try:
                    with urllib.request.urlopen(req) as resp:
                        self._send(resp.status, resp.read())
                except urllib.error.HTTPError as e:
                    self._send(e.code, e.read())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def setup(
    influxdb: InfluxDB,
) -> Iterator[tuple[V2ToV1Proxy, InfluxV1Store, list[tuple[str, str]], InfluxV2Store]]:
    proxy = V2ToV1Proxy(influxdb.url)
    db = f"v2_{uuid.uuid4().hex[:8]}"
    reader = InfluxV1Store(influxdb.url, db, create_database=True)
    rejected: list[tuple[str, str]] = []
    store = InfluxV2Store(
        proxy.url,
        "campus-org",
        db,
        token="s3cret-token",
        batch_size=100,
        on_reject=lambda line, why: rejected.append((line, why)),
        max_retry_time_ms=5_000,
    )
    yield proxy, reader, rejected, store
    store.close()
    reader.query(f'DROP DATABASE "{db}"')
    reader.close()
    proxy.close()


def pt(ts: int, value: float, **kw: Any) -> StoredPoint:
    return StoredPoint(
        KEY, ts, value, kw.get("quantity", "co2"), kw.get("unit", "ppm"), agent="gw-A", tags={"building": "A"}
    )


def test_batching_writes_are_confirmed_before_write_returns(setup: Any) -> None:
    proxy, reader, rejected, store = setup
    store.write([pt(T0 + i * S, float(i)) for i in range(250)])  # three client batches of ≤ 100
    assert reader.count() == 250  # no waiting: write returned only after InfluxDB confirmed
    store.write([pt(T0 + i * S, float(i)) for i in range(250)])  # idempotent
    assert reader.count() == 250 and rejected == []
    req = proxy.requests[0]
    assert req["org"] == "campus-org" and req["precision"] == "ns"
    assert req["authorization"] == "Token s3cret-token" and req["content-encoding"] == "gzip"
    assert reader.range(KEY, T0, T0 + 3 * S)[2].value == 2.0


def test_retries_503_then_succeeds(setup: Any) -> None:
    proxy, reader, _rejected, store = setup
    proxy.fail_next = [503, 503]
    store.write([pt(T0, 1.0)])
    assert reader.count() == 1


def test_400_bisects_to_the_failing_line(setup: Any) -> None:
    _proxy, reader, rejected, store = setup
    reader.write_lines([f'co2,site=x,device=y,point=z,unit=ppm value="text",quality="good" {T0 - S}'])
    ok = StoredPoint(SeriesKey("sz-01", "A-201-th", "temperature"), T0, 21.0, "temperature", "°C")
    store.write([pt(T0, 1.0), ok, pt(T0 + S, 2.0)])
    assert len(rejected) == 2 and all("conflict" in why for _, why in rejected)
    assert reader.count() == 2  # the text point and the temperature point


def test_auth_failure_is_not_retryable(setup: Any) -> None:
    proxy, _reader, _rejected, store = setup
    proxy.fail_next = [401]
    with pytest.raises(StoreError) as exc:
        store.write([pt(T0, 1.0)])
    assert not exc.value.retryable


def test_flux_escaping() -> None:
    assert flux_string('a"b\\c${x}') == '"a\\"b\\\\c\\${x}"'
    assert flux_tag_filter({"building": 'A" or true or "'}) == 'r["building"] == "A\\" or true or \\""'
    assert flux_tag_filter({}) == "true"
