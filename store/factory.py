"""Open the configured store (backends import lazily: opening SQLite loads no HTTP code)."""

from __future__ import annotations

from collections.abc import Callable

from contract.secrets import resolve_secret
from store.base import Store
from store.config import InfluxV1StoreConfig, InfluxV2StoreConfig, SqliteStoreConfig

RejectSink = Callable[[str, str], None]


def open_store(
    cfg: SqliteStoreConfig | InfluxV1StoreConfig | InfluxV2StoreConfig, on_reject: RejectSink | None = None
) -> Store:
    if isinstance(cfg, SqliteStoreConfig):
        from store.sqlite import SQLiteStore

        return SQLiteStore(cfg.path)
    if isinstance(cfg, InfluxV1StoreConfig):
        from store.influx_v1 import InfluxV1Store

        return InfluxV1Store(
            cfg.url,
            cfg.database,
            retention_policy=cfg.retention_policy,
            username=cfg.username,
            password=resolve_secret(cfg.password),
            token=resolve_secret(cfg.token),
            ca_file=str(cfg.ca_file) if cfg.ca_file else None,
            verify_tls=cfg.verify_tls,
            timeout_s=cfg.timeout_s,
            batch_lines=cfg.batch_lines,
            gzip_body=cfg.gzip,
            retry_for_s=cfg.retry_for_s,
            create_database=cfg.create_database,
            on_reject=on_reject,
        )
    from store.influx_v2 import InfluxV2Store

    return InfluxV2Store(
        cfg.url,
        cfg.org,
        cfg.bucket,
        token=cfg.token.resolve(),
        database=cfg.database,
        retention_policy=cfg.retention_policy,
        ca_file=str(cfg.ca_file) if cfg.ca_file else None,
        verify_tls=cfg.verify_tls,
        timeout_s=cfg.timeout_s,
        batch_lines=cfg.batch_lines,
        gzip_body=cfg.gzip,
        retry_for_s=cfg.retry_for_s,
        on_reject=on_reject,
    )
