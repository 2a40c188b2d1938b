"""The API's own config file (YAML, loaded with line numbers through `contract.yamlio`).

Secrets never live in this file: store credentials and tokens are named by env var or file,
so the config can be committed and shown to a technician.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contract.clock import ClockSettings
from contract.yamlio import load_model


class SqliteStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sqlite"] = "sqlite"
    path: Path


class InfluxV1StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["influxdb_v1"]
    url: str = Field(pattern=r"^https?://")
    database: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    username_env: str | None = None
    password_env: str | None = None
    password_file: Path | None = None

    def username(self) -> str | None:
        return os.environ.get(self.username_env) if self.username_env else None

    def password(self) -> str | None:
        if self.password_file:
            return self.password_file.read_text(encoding="utf-8").strip()
        return os.environ.get(self.password_env) if self.password_env else None


StoreConfig = Annotated[SqliteStoreConfig | InfluxV1StoreConfig, Field(discriminator="kind")]


class TokensConfig(BaseModel):
    """Where bearer tokens come from: a YAML/JSON file, an env var, or both (merged)."""

    model_config = ConfigDict(extra="forbid")

    file: Path | None = None
    env: str | None = "CAMPUS_TWIN_API_TOKENS"


class AgentHealthConfig(BaseModel):
    """Agents' retained status/health topics on the upstream broker (contract.telemetry.Status)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "mqtt"] = "none"
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username_env: str | None = None
    password_env: str | None = None
    site: str = "+"


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    twin_config: Path = Field(description="twin config YAML (twin/config.py): campuses, IFC files, bindings")
    store: StoreConfig
    tokens: TokensConfig = Field(default_factory=TokensConfig)
    timezone: str = "Asia/Shanghai"
    cors_origins: list[str] = Field(default_factory=list, description="empty = CORS off")
    stale_after_s: float = Field(default=600.0, gt=0, description="a latest value older than this is stale")
    series_refresh_s: float = Field(default=15.0, ge=0, description="how often the room→series map refreshes")
    agent_health: AgentHealthConfig = Field(default_factory=AgentHealthConfig)
    standards_file: Path | None = Field(default=None, description="default: the bundled standards.yaml")
    timetable_file: Path | None = Field(default=None, description="default: the bundled timetable.yaml")
    bindings_export: Path | None = Field(
        default=None, description="also write the binding table JSON here on rebinding (ingest reads it)"
    )
    verdict_cache_s: float = Field(default=10.0, ge=0, description="reuse a room's verdicts this long")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    clock: ClockSettings = Field(
        default_factory=ClockSettings, description="demo only: the simulators' scaled clock, so 'now' agrees"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r} (an IANA name such as Asia/Shanghai)") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def resolved(self, base: Path) -> ApiSettings:
        """Paths relative to the config file's folder, so the file works from any cwd."""

        def fix(p: Path | None) -> Path | None:
            return p if p is None or p.is_absolute() else base / p

        upd: dict[str, object] = {"twin_config": fix(self.twin_config) or self.twin_config}
        store = self.store
        if isinstance(store, SqliteStoreConfig):
            upd["store"] = store.model_copy(update={"path": fix(store.path) or store.path})
        elif store.password_file:
            upd["store"] = store.model_copy(update={"password_file": fix(store.password_file)})
        for name in ("standards_file", "timetable_file", "bindings_export"):
            if getattr(self, name) is not None:
                upd[name] = fix(getattr(self, name))
        if self.tokens.file:
            upd["tokens"] = self.tokens.model_copy(update={"file": fix(self.tokens.file)})
        return self.model_copy(update=upd)


def load_settings(path: str | Path) -> ApiSettings:
    p = Path(path)
    return load_model(ApiSettings, p).resolved(p.resolve().parent)
