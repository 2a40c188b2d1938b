"""InfluxDB 2.x/3.x/Cloud: line protocol on `/api/v2/write` (org, bucket, token), InfluxQL on
the v1-compatibility `/query` for reads.

One write path and one read path for every InfluxDB version: this is the v1 store with the
2.x write endpoint, so the same encoding, retry (429/5xx, Retry-After), 413 split and 400
bisect-to-quarantine apply. Reads use the InfluxQL API that 2.x serves for a bucket with a
DBRP mapping (`influx v1 dbrp create --db <database> --rp autogen --bucket-id …`) and 3.x
serves natively, so they are the reads tested on InfluxDB 1.6. Writes are tested against a real
VictoriaMetrics, which accepts the 2.x write API (`tests/store/`); no Flux.
"""

from __future__ import annotations

from store.influx_v1 import InfluxV1Store, RejectSink


class InfluxV2Store(InfluxV1Store):
    """`Store` on InfluxDB 2.x/3.x: `/api/v2/write?org&bucket`, InfluxQL `/query?db=<database>`."""

    write_path = "/api/v2/write"

    def __init__(
        self,
        url: str,
        org: str,
        bucket: str,
        token: str,
        database: str | None = None,
        retention_policy: str | None = None,
        ca_file: str | None = None,
        verify_tls: bool = True,
        timeout_s: float = 10.0,
        batch_lines: int = 5000,
        gzip_body: bool = True,
        retry_for_s: float = 30.0,
        on_reject: RejectSink | None = None,
    ) -> None:
        super().__init__(
            url,
            database or bucket,
            retention_policy=retention_policy,
            token=token,
            ca_file=ca_file,
            verify_tls=verify_tls,
            timeout_s=timeout_s,
            batch_lines=batch_lines,
            gzip_body=gzip_body,
            retry_for_s=retry_for_s,
            on_reject=on_reject,
        )
        self.org = org
        self.bucket = bucket

    def write_params(self) -> dict[str, str]:
        return {"org": self.org, "bucket": self.bucket, "precision": "ns"}
