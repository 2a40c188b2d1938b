"""Ingest configuration (YAML through `contract.yamlio.load_model`, so errors name file:line:col).

Credentials are references (`{env: NAME}` or `{file: path}`), resolved only when connecting
and never logged. Relative paths are relative to the config file, so a config directory can
be moved as a whole.

```yaml
broker: {host: 127.0.0.1, port: 1883, client_id: ingest-1, username: ingest, password: {env: MQTT_PW}}
share_group: null            # or a group name to scale out (members share delivery.ledger)
store: {type: influxdb, url: http://127.0.0.1:8086, database: campus}
bindings: bindings.json
quarantine: {path: quarantine.sqlite, max_records: 100000}
metrics: {listen: "127.0.0.1:9111"}   # null: no endpoint
batch: {max_points: 5000, max_delay_s: 0.5}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.broker import BrokerSettings
from contract.clock import ClockSettings
from contract.config_renames import load_renamed
from contract.secrets import rebase
from contract.telemetry import Ident
from contract.timestamps import DEFAULT_MAX_SKEW_S
from ops.metrics import MetricsListen
from ops.quarantine import QuarantineConfig
from store.config import SqliteStoreConfig, StoreConfig

DEFAULT_QUARANTINE = Path("quarantine.sqlite")


class BrokerConfig(BrokerSettings):
    client_id: Ident = Field(
        default="campus-ingest-1",
        description="fixed per process: the broker keeps the persistent session under this id",
    )
    protocol: Literal["5", "3.1.1"] = "5"
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=60, description="MQTT 5 only")


class BatchConfig(BaseModel):
    """How many messages to gather before one store write (bounded by the broker's in-flight limit)."""

    model_config = ConfigDict(extra="forbid")

    max_points: int = Field(default=5000, ge=1)
    max_messages: int = Field(default=100, ge=1, description="keep ≤ the broker's max_inflight_messages")
    max_delay_s: float = Field(default=0.5, gt=0, le=60)
    backoff_max_s: float = Field(default=30.0, gt=0)
    writers: int = Field(
        default=4, ge=1, le=32, description="store writes in flight (acks stay in arrival order)"
    )


class DeliveryConfig(BaseModel):
    """End-to-end acknowledgement (ingest/delivery.py, contract/delivery.py)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    resend_after_s: float = Field(default=5.0, gt=0, description="a gap open this long is asked for")
    ledger: Path | None = Field(
        default=None,
        description="SQLite ledger of stored seqs; every member of a share group uses the same file "
        "(default: delivery-ledger.sqlite beside the quarantine file)",
    )


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    share_group: Ident | None = Field(
        default=None,
        description="MQTT shared-subscription group to split agents over several ingest processes "
        "on one host (they share `delivery.ledger`); None (default): a plain subscription. What "
        "the broker drops for a memberless group is resent through the end-to-end "
        "acknowledgement (`delivery`); see ingest/README.md",
    )
    site: str = Field(default="+", pattern=r"^(\+|[A-Za-z0-9][A-Za-z0-9_.:-]{0,127})$")
    store: StoreConfig = Field(default_factory=SqliteStoreConfig)
    bindings: Path | None = None
    bindings_check_s: float = Field(default=2.0, gt=0)
    quarantine: QuarantineConfig = Field(
        default_factory=QuarantineConfig, description="default path: quarantine.sqlite beside the config"
    )
    metrics: MetricsListen = Field(default_factory=lambda: MetricsListen.default_for("ingest"))
    batch: BatchConfig = Field(default_factory=BatchConfig)
    max_clock_skew_s: float = Field(
        default=DEFAULT_MAX_SKEW_S,
        gt=0,
        le=7 * 86400,
        description="a reading stamped further ahead than this (of the batch's `sent` and this host's clock) gets `sent` as its time, quality uncertain",
    )
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    clock: ClockSettings = Field(
        default_factory=ClockSettings,
        description="demo/test only: the agents' simulated clock, so their `sent` is judged against it",
    )

    @model_validator(mode="after")
    def _shared_needs_delivery(self) -> IngestConfig:
        if self.share_group is not None and not self.delivery.enabled:
            raise ValueError(
                "share_group needs delivery.enabled: Mosquitto drops a memberless group's messages "
                "after PUBACKing them, and only the end-to-end acknowledgement resends them"
            )
        return self

    @property
    def quarantine_path(self) -> Path:
        return self.quarantine.path or DEFAULT_QUARANTINE

    @property
    def ledger_path(self) -> Path:
        return self.delivery.ledger or self.quarantine_path.parent / "delivery-ledger.sqlite"

    def relative_to(self, base: Path) -> IngestConfig:
        """Paths made absolute against the config file's folder."""
        return self.model_copy(
            update={
                "broker": self.broker.rebased(base),
                "store": self.store.rebased(base),
                "bindings": rebase(self.bindings, base),
                "quarantine": self.quarantine.model_copy(update={"path": rebase(self.quarantine_path, base)}),
                "delivery": self.delivery.model_copy(update={"ledger": rebase(self.delivery.ledger, base)}),
            }
        )


def load_config(path: str | Path) -> IngestConfig:
    p = Path(path)
    return load_renamed("ingest", IngestConfig, p).relative_to(p.resolve().parent)
