"""A broker connection as the agent configures it (upstream and sensor broker alike)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from contract.broker import BrokerSettings


class BrokerConfig(BrokerSettings):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str | None = Field(default=None, description="default: campus-twin-<site>-<agent>[-south]")
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60, description="first reconnect delay")
    reconnect_max_s: float = Field(
        default=5.0, gt=0, le=3600, description="cap of the jittered exponential reconnect delay"
    )
