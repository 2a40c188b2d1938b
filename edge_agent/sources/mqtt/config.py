"""The MQTT sensor source's config (the agent YAML's `mqtt:` section): the sensor broker and
its subscriptions, each a built-in format or a custom JSON mapping. Sample: `sample.yaml`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.quantities import check_quantity
from contract.telemetry import Ident
from contract.timestamps import DEFAULT_MAX_SKEW_S
from device_profiles.mqtt_format import DEFAULT_INTERVAL_S, default_topic, expected_interval_s, families
from edge_agent.broker_config import BrokerConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# a built-in family (device_profiles/mqtt/*.yaml `subscription`, `families()`) or "custom"
MqttFormat = str
DEFAULT_SILENCE_FACTOR = 3.0


_check_quantity = check_quantity  # the catalogue's one 'known quantity' check


class PointMapping(_Strict):
    """One JSON value of a payload → one point. `path` is dotted with [i] for lists: `env.t[0]`;
    `.` is the whole payload (a bare number, one topic per sensor)."""

    path: str = Field(min_length=1)
    point: Ident
    quantity: str
    unit: str = Field(description="unit the device sends; converted to the canonical unit")
    valid_min: float | None = None
    valid_max: float | None = None
    optional: bool = Field(
        default=False,
        description="a message without this path is normal (a partial update, Shelly Gen3 NotifyStatus)",
    )
    topic: str | None = Field(
        default=None, description="only messages on this topic (filter) carry it: one topic per sensor"
    )

    @field_validator("quantity")
    @classmethod
    def _known_quantity(cls, v: str) -> str:
        return _check_quantity(v)


class TimestampMapping(_Strict):
    path: str = Field(min_length=1)
    format: Literal["iso8601", "epoch_s", "epoch_ms", "epoch_ns"] = "iso8601"
    optional: bool = Field(default=False, description="a message without it is stamped at receipt")


class Subscription(_Strict):
    """A topic filter and how its payloads become samples.

    Built-in formats (zigbee2mqtt, tasmota, lorawan) know their topics and keys; `custom`
    needs `device` (`{N}` = topic level N, 0-based, or `$json.path`) and `points`.
    """

    format: MqttFormat
    topic: str | None = Field(default=None, description="MQTT topic filter; default per format")
    qos: Literal[0, 1, 2] = 1
    device: str | None = None
    points: list[PointMapping] = Field(default_factory=list)
    timestamp: TimestampMapping | None = None
    expected_interval_s: float | None = Field(
        default=None, gt=0, le=7 * 86400, description="how often its sensors report; default per format"
    )
    silence_factor: float = Field(
        default=DEFAULT_SILENCE_FACTOR,
        ge=1,
        le=100,
        description="a sensor silent for expected_interval_s × this goes DOWN (UP on its next message)",
    )

    @field_validator("format")
    @classmethod
    def _known_family(cls, v: str) -> str:
        known = [*families(), "custom"]
        if v not in known:
            raise ValueError(f"unknown format {v!r}; known: {', '.join(known)} (device_profiles/mqtt/*.yaml)")
        return v

    @property
    def silent_after_s(self) -> float:
        """Seconds without a message after which a sensor of this subscription is DOWN."""
        return self.expected_every_s * self.silence_factor

    @property
    def expected_every_s(self) -> float:
        if self.expected_interval_s:
            return self.expected_interval_s
        return DEFAULT_INTERVAL_S if self.format == "custom" else expected_interval_s(self.format)

    @model_validator(mode="after")
    def _custom_needs_mapping(self) -> Subscription:
        if self.format == "custom":
            if not self.topic:
                raise ValueError("a custom subscription needs 'topic'")
            if not self.device:
                raise ValueError("a custom subscription needs 'device' ({N} topic level or $json.path)")
            if not self.points:
                raise ValueError("a custom subscription needs at least one entry in 'points'")
        return self

    @property
    def topic_filter(self) -> str:
        return self.topic or default_topic(self.format)  # whole format tree, device_profiles/mqtt/


class MqttSouthConfig(_Strict):
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    subscriptions: list[Subscription] = Field(default_factory=list)
    max_clock_skew_s: float = Field(
        default=DEFAULT_MAX_SKEW_S,
        gt=0,
        le=7 * 86400,
        description="a sensor's timestamp further ahead than this is replaced by the receive time (uncertain)",
    )
