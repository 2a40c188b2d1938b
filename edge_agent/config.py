"""The agent's YAML config: one file per gateway, validated with errors at file:line:col + field.

Secrets are references (`contract.secrets.SecretRef`), relative paths are relative to the config file, and
nothing here opens a socket or a database: `load_agent_config` is safe to run in `agent check`.
"""

from __future__ import annotations

import copy
import functools
import logging
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from contract.clock import ClockSettings
from contract.config_renames import load_renamed
from contract.quantities import check_quantity
from contract.secrets import rebase
from contract.telemetry import Ident
from edge_agent.broker_config import BrokerConfig
from edge_agent.retention import RetentionConfig
from edge_agent.sources import plugins
from edge_agent.sources.modbus.config import ModbusDevice, link_conflicts
from edge_agent.sources.mqtt.config import (
    MqttFormat,
    MqttSouthConfig,
    PointMapping,
    Subscription,
    TimestampMapping,
)
from ops.metrics import MetricsListen
from ops.quarantine import QuarantineConfig  # default path: <buffer path>.quarantine.sqlite

log = logging.getLogger("edge_agent.config")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpstreamConfig(_Strict):
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    batch_size: int = Field(default=500, ge=1, le=10_000)
    batch_interval_s: float = Field(
        default=0.2, gt=0, le=3600, description="max wait to fill a batch: the read→broker delay at low rates"
    )
    max_inflight: int = Field(default=4, ge=1, le=100, description="batches awaiting PUBACK at once")
    replay_rate: float = Field(
        default=20.0, gt=0, description="batches/s when resending unacknowledged batches after a reconnect"
    )
    publish_timeout_s: float = Field(default=10.0, gt=0, le=600)


class BufferConfig(_Strict):
    path: Path = Path("buffer.sqlite")
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024)
    max_age_s: float = Field(default=7 * 86400, gt=0)
    overflow: Literal["drop_oldest", "refuse_newest"] = "drop_oldest"
    retention: RetentionConfig = Field(default_factory=RetentionConfig)  # edge_agent/retention.py


class NormaliseConfig(_Strict):
    """Report-on-change: send a point only when it moved more than its deadband (in canonical
    units) or after `max_silence_s` without sending. Empty deadband = send every reading."""

    deadband: dict[str, float] = Field(default_factory=dict)
    max_silence_s: float = Field(default=300.0, gt=0)

    @field_validator("deadband")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        for q, band in v.items():
            check_quantity(q)
            if band < 0:
                raise ValueError(f"deadband for {q} must be >= 0")
        return v


class AgentConfig(_Strict):
    """The core sections, plus one section per source plugin (edge_agent/sources/): `modbus:` and
    `mqtt:` are typed here for the commands that read them (check, plan, probe); every other
    plugin's section is added by `agent_config_model()` from the registry."""

    site: Ident
    agent: Ident
    profile_dirs: list[Path] = Field(default_factory=list, description="extra profile folders")
    modbus: list[ModbusDevice] = Field(default_factory=list)
    mqtt: MqttSouthConfig | None = None
    upstream: UpstreamConfig = Field(default_factory=UpstreamConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    quarantine: QuarantineConfig = Field(default_factory=QuarantineConfig)
    normalise: NormaliseConfig = Field(default_factory=NormaliseConfig)
    health_interval_s: float = Field(default=30.0, gt=0, le=86400)
    metrics: MetricsListen = Field(default_factory=lambda: MetricsListen.default_for("agent"))
    timezone: str = "Asia/Shanghai"
    clock: ClockSettings = Field(default_factory=ClockSettings, description="demo only: shared scaled clock")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (IANA name, e.g. Asia/Shanghai)") from None
        return v

    @model_validator(mode="after")
    def _unique_devices(self) -> AgentConfig:
        ids = [d.id for d in self.modbus]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate modbus device ids: {dup}")
        conflicts = link_conflicts(self.modbus)
        if conflicts:
            raise ValueError("; ".join(conflicts))
        return self

    @property
    def quarantine_path(self) -> Path:
        return self.quarantine.path or self.buffer.path.with_name(
            self.buffer.path.name + ".quarantine.sqlite"
        )

    def client_id(self, role: Literal["up", "south"]) -> str:
        broker = self.upstream.broker if role == "up" else (self.mqtt.broker if self.mqtt else None)
        if broker and broker.client_id:
            return broker.client_id
        return f"campus-twin-{self.site}-{self.agent}" + ("-south" if role == "south" else "")


@functools.cache
def agent_config_model() -> type[AgentConfig]:
    """`AgentConfig` with a section for every registered source plugin (each owns its model)."""
    extra: dict[str, Any] = {
        p.key: (p.section, Field(default_factory=functools.partial(copy.copy, p.default)))
        for p in plugins()
        if p.key not in AgentConfig.model_fields
    }
    if not extra:
        return AgentConfig
    return create_model("AgentConfig", __base__=AgentConfig, __module__=__name__, **extra)


def _resolve_paths(cfg: AgentConfig, base: Path) -> AgentConfig:
    """Relative paths in the file are relative to the file, so a service can run from anywhere."""

    update: dict[str, Any] = {
        "profile_dirs": [rebase(p, base) for p in cfg.profile_dirs],
        "buffer": cfg.buffer.model_copy(update={"path": rebase(cfg.buffer.path, base)}),
        "quarantine": cfg.quarantine.model_copy(update={"path": rebase(cfg.quarantine.path, base)}),
        "upstream": cfg.upstream.model_copy(update={"broker": cfg.upstream.broker.rebased(base)}),
    }
    if cfg.mqtt is not None:
        update["mqtt"] = cfg.mqtt.model_copy(update={"broker": cfg.mqtt.broker.rebased(base)})
    for plugin in plugins():
        section = getattr(cfg, plugin.key, None)
        if plugin.rebase is not None and section:
            update[plugin.key] = plugin.rebase(section, base)
    return cfg.model_copy(update=update)


def load_agent_config(path: str | Path) -> AgentConfig:
    """Load and validate; raises `ConfigError` listing every problem as file:line:col: field …

    Keys renamed in a release (contract/config_renames.yaml) are accepted with a deprecation
    warning naming the new key; `campus-twin config migrate FILE` rewrites the file."""
    p = Path(path)
    cfg = load_renamed("agent", agent_config_model(), p)
    return _resolve_paths(cfg, p.resolve().parent)


__all__ = [  # the MQTT source's models are re-exported: `edge_agent.config` stays the one entry point
    "AgentConfig",
    "BrokerConfig",
    "MqttFormat",
    "MqttSouthConfig",
    "PointMapping",
    "Subscription",
    "TimestampMapping",
    "agent_config_model",
    "load_agent_config",
]
