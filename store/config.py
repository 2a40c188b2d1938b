"""Which store to open: the `store:` section shared by the ingest, API and report configs.

One schema for every process that reads or writes the time series, so `api.yaml`, `ingest.yaml`
and `campus-twin report --store-config` select a store the same way. Credentials are references
(`contract.secrets.SecretRef`), resolved only when connecting.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.secrets import SecretRef, rebase, rebase_secret
from contract.yamlio import load_model

log = logging.getLogger("campus_twin.store")


class SqliteStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["sqlite"] = "sqlite"
    path: Path = Path("campus-ts.db")

    def rebased(self, base: Path) -> SqliteStoreConfig:
        return self.model_copy(update={"path": rebase(self.path, base)})


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

    def rebased(self, base: Path) -> InfluxV1StoreConfig:
        return self.model_copy(
            update={
                "password": rebase_secret(self.password, base),
                "token": rebase_secret(self.token, base),
                "ca_file": rebase(self.ca_file, base),
            }
        )


class InfluxV2StoreConfig(BaseModel):
    """InfluxDB 2.x/3.x/Cloud: writes on `/api/v2/write` (org, bucket, token), reads through the
    InfluxQL v1-compatibility API (`database`: the DBRP-mapped name, default the bucket's)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["influxdb2"]
    url: str = "http://127.0.0.1:8086"
    org: str = Field(min_length=1)
    bucket: str = Field(min_length=1)
    token: SecretRef
    database: str | None = Field(default=None, description="v1 DBRP database for reads; default: bucket")
    retention_policy: str | None = None
    verify_tls: bool = True
    ca_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    batch_lines: int = Field(default=5000, ge=1)
    gzip: bool = True
    retry_for_s: float = Field(default=30.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _renamed_batch_size(cls, data: Any) -> Any:
        """`batch_size` was this store's name for the setting the InfluxDB 1.x store calls
        `batch_lines`: one name now, the old one still read for a release, with a warning."""
        if isinstance(data, dict) and "batch_size" in data:
            if "batch_lines" in data:
                raise ValueError("store: give `batch_lines` only (`batch_size` is its deprecated name)")
            log.warning("store: `batch_size` is deprecated, use `batch_lines` (same meaning)")
            data = {("batch_lines" if k == "batch_size" else k): v for k, v in data.items()}
        return data

    def rebased(self, base: Path) -> InfluxV2StoreConfig:
        return self.model_copy(
            update={"token": self.token.rebased(base), "ca_file": rebase(self.ca_file, base)}
        )


StoreConfig = Annotated[
    SqliteStoreConfig | InfluxV1StoreConfig | InfluxV2StoreConfig, Field(discriminator="type")
]


class StoreSection(BaseModel):
    """Any config file with a `store:` section (ingest.yaml, api.yaml); the rest is not read here."""

    model_config = ConfigDict(extra="ignore")

    store: StoreConfig


def load_store_section(path: str | Path) -> SqliteStoreConfig | InfluxV1StoreConfig | InfluxV2StoreConfig:
    """The `store:` section of `path`, relative paths against the file's folder (errors: file:line:col)."""
    p = Path(path)
    return load_model(StoreSection, p).store.rebased(p.resolve().parent)
