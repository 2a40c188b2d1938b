"""Ingest configuration (YAML through `contract.yamlio.load_model`, so errors name file:line:col).

Credentials are references (`{env: NAME}` or `{file: path}`), resolved only when connecting
and never logged. Relative paths are relative to the config file, so a config directory can
be moved as a whole.

```yaml
broker: {host: 127.0.0.1, port: 1883, client_id: ingest-1, username: ingest, password: {env: MQTT_PW}}
share_group: ingest
store: {type: influxdb, url: http://127.0.0.1:8086, database: campus}
bindings: bindings.json
quarantine_dir: quarantine
state_db: ingest-state.db
metrics: {port: 9108}
batch: {max_points: 5000, max_delay_s: 0.5}
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.telemetry import Ident
from contract.yamlio import load_model


class SecretError(ValueError):
    """A referenced secret could not be read; names the reference, never the value."""


class SecretRef(BaseModel):
    """Exactly one of `env` (environment variable) or `file` (first line of the file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = Field(default=None, min_length=1)
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    def describe(self) -> str:
        return f"env ${self.env}" if self.env else f"file {self.file}"

    def resolve(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            lines = self.file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SecretError(f"cannot read secret file {self.file}: {exc.strerror or exc}") from None
        return lines[0] if lines else ""


def resolve(ref: SecretRef | None) -> str | None:
    return None if ref is None else ref.resolve()


class TlsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = Field(default=False, description="skip certificate verification (testing only)")


class BrokerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: Ident = Field(
        default="campus-ingest-1",
        description="fixed per process: the broker keeps the persistent session under this id",
    )
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: SecretRef | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=60, description="MQTT 5 only")


class SqliteStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["sqlite"] = "sqlite"
    path: Path = Path("campus-ts.db")


class InfluxV1StoreConfig(BaseModel):
    """InfluxDB 1.x, or 2.x/3.x through their v1 compatibility API."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["influxdb"]
    url: str = "http://127.0.0.1:8086"
    database: str = Field(min_length=1)
    retention_policy: str | None = None
    username: str | None = None
    password: SecretRef | None = None
    token: SecretRef | None = Field(default=None, description="2.x/3.x v1-compatibility token")
    ca_file: Path | None = None
    verify_tls: bool = True
    timeout_s: float = Field(default=10.0, gt=0)
    batch_lines: int = Field(default=5000, ge=1)
    gzip: bool = False
    retry_for_s: float = Field(default=30.0, ge=0)
    create_database: bool = Field(default=False, description="1.x only: CREATE DATABASE at start")


class InfluxV2StoreConfig(BaseModel):
    """InfluxDB 2.x/3.x/Cloud through influxdb-client (writes) and Flux (reads)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["influxdb2"]
    url: str = "http://127.0.0.1:8086"
    org: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    token: SecretRef
    verify_tls: bool = True
    ca_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=5000, ge=1)
    gzip: bool = True


StoreConfig = Annotated[
    SqliteStoreConfig | InfluxV1StoreConfig | InfluxV2StoreConfig, Field(discriminator="type")
]


class MetricsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535, description="0 picks a free port")
    enabled: bool = True


class BatchConfig(BaseModel):
    """How many messages to gather before one store write (bounded by the broker's in-flight limit)."""

    model_config = ConfigDict(extra="forbid")

    max_points: int = Field(default=5000, ge=1)
    max_messages: int = Field(default=100, ge=1, description="keep ≤ the broker's max_inflight_messages")
    max_delay_s: float = Field(default=0.5, gt=0, le=60)
    backoff_max_s: float = Field(default=30.0, gt=0)


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    share_group: Ident | None = Field(default="ingest", description="None: plain (non-shared) subscription")
    site: str = Field(default="+", pattern=r"^(\+|[A-Za-z0-9][A-Za-z0-9_.:-]{0,127})$")
    store: StoreConfig = Field(default_factory=SqliteStoreConfig)
    bindings: Path | None = None
    bindings_check_s: float = Field(default=2.0, gt=0)
    quarantine_dir: Path = Path("quarantine")
    state_db: Path = Path("ingest-state.db")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)

    def relative_to(self, base: Path) -> IngestConfig:
        """Paths made absolute against the config file's folder."""

        def fix(p: Path | None) -> Path | None:
            return p if p is None or p.is_absolute() else base / p

        def fix_secret(s: SecretRef | None) -> SecretRef | None:
            if s is None or s.file is None or s.file.is_absolute():
                return s
            return SecretRef(file=base / s.file)

        store = self.store
        if isinstance(store, SqliteStoreConfig):
            store = store.model_copy(update={"path": fix(store.path) or store.path})
        elif isinstance(store, InfluxV1StoreConfig):
            store = store.model_copy(
                update={
                    "password": fix_secret(store.password),
                    "token": fix_secret(store.token),
                    "ca_file": fix(store.ca_file),
                }
            )
        else:
            store = store.model_copy(update={"token": fix_secret(store.token), "ca_file": fix(store.ca_file)})
        broker = self.broker.model_copy(update={"password": fix_secret(self.broker.password)})
        if broker.tls:
            tls = broker.tls
            broker = broker.model_copy(
                update={
                    "tls": tls.model_copy(
                        update={
                            "ca_file": fix(tls.ca_file),
                            "cert_file": fix(tls.cert_file),
                            "key_file": fix(tls.key_file),
                        }
                    )
                }
            )
        return self.model_copy(
            update={
                "broker": broker,
                "store": store,
                "bindings": fix(self.bindings),
                "quarantine_dir": fix(self.quarantine_dir) or self.quarantine_dir,
                "state_db": fix(self.state_db) or self.state_db,
            }
        )


def load_config(path: str | Path) -> IngestConfig:
    p = Path(path)
    return load_model(IngestConfig, p).relative_to(p.resolve().parent)
