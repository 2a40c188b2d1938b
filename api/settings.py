"""The API's own config file (YAML, loaded with line numbers through `contract.yamlio`).

Secrets never live in this file: store credentials and tokens are named by env var or file
(`contract.secrets.SecretRef`), so the config can be committed and shown to a technician. The
store is chosen exactly as in the ingest config (`store.config.StoreConfig`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contract.broker import BrokerSettings
from contract.clock import ClockSettings
from contract.config_renames import load_renamed
from contract.secrets import rebase
from ops.metrics import Listen
from store.config import StoreConfig


class TokensConfig(BaseModel):
    """Where bearer tokens come from: a YAML/JSON file, an env var, or both (merged)."""

    model_config = ConfigDict(extra="forbid")

    file: Path | None = None
    env: str | None = "CAMPUS_TWIN_API_TOKENS"


class AuthLimitConfig(BaseModel):
    """Failed sign-ins / unknown tokens per client address before 429 (api/ratelimit.py)."""

    model_config = ConfigDict(extra="forbid")
    max_failures: int = Field(default=10, ge=1, le=10_000)
    window_s: float = Field(default=300.0, gt=0, le=86_400)


class AgentHealthConfig(BrokerSettings):
    """Agents' retained status/health topics on the upstream broker (contract.telemetry.Status)."""

    type: Literal["none", "mqtt"] = "none"
    site: str = "+"


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    twin_config: Path = Field(description="twin config YAML (twin/config.py): campuses, IFC files, bindings")
    store: StoreConfig = Field(description="as in the ingest config: {type: sqlite|influxdb|influxdb2, …}")
    tokens: TokensConfig = Field(default_factory=TokensConfig)
    auth_limit: AuthLimitConfig = Field(default_factory=AuthLimitConfig)
    timezone: str = "Asia/Shanghai"
    cors_origins: list[str] = Field(default_factory=list, description="empty = CORS off")
    stale_after_s: float = Field(default=600.0, gt=0, description="a latest value older than this is stale")
    series_refresh_s: float = Field(default=15.0, ge=0, description="how often the room→series map refreshes")
    agent_health: AgentHealthConfig = Field(default_factory=AgentHealthConfig)
    standards_file: Path | None = Field(default=None, description="default: the bundled standards.yaml")
    timetable_file: Path | None = Field(
        default=None,
        description="school time (bells, calendar, room use; schema contract/school_time.py); default: the shipped contract/school_time.yaml",
    )
    bindings_export: Path | None = Field(
        default=None, description="also write the binding table JSON here on rebinding (ingest reads it)"
    )
    ifc_export: Path | None = Field(
        default=None,
        description="on rebinding, rewrite the IFC copies with the bindings as IfcSensor elements here "
        "(<dir>/<campus>/<file>, as `twin export --out`); only the files of the rooms concerned",
    )
    binding_audit_file: Path | None = Field(
        default=None,
        description="append one JSON line per rebinding (who, when, from, to); unset = in memory",
    )
    acks_file: Path | None = Field(
        default=None, description="keep alert acknowledgements (who/when) in this JSON file across restarts"
    )
    sessions_file: Path | None = Field(
        default=None,
        description="keep browser sessions (hashed ids, expiry, CSRF token) in this SQLite file across restarts; unset = in memory",
    )
    verdict_cache_s: float = Field(default=10.0, ge=0, description="reuse a room's verdicts this long")
    listen: Listen = Field(default="127.0.0.1:8000", description="host:port the HTTP server binds")
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

        upd: dict[str, object] = {
            "twin_config": rebase(self.twin_config, base),
            "store": self.store.rebased(base),
            "agent_health": self.agent_health.rebased(base),
        }
        for name in (
            "standards_file",
            "timetable_file",
            "bindings_export",
            "ifc_export",
            "binding_audit_file",
            "acks_file",
            "sessions_file",
        ):
            upd[name] = rebase(getattr(self, name), base)
        if self.tokens.file:
            upd["tokens"] = self.tokens.model_copy(update={"file": rebase(self.tokens.file, base)})
        return self.model_copy(update=upd)


def load_settings(path: str | Path) -> ApiSettings:
    p = Path(path)
    return load_renamed("api", ApiSettings, p).resolved(p.resolve().parent)
