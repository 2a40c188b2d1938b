"""The MQTT sensor source's config (the agent YAML's `mqtt:` section): the sensor broker and
its subscriptions, each a built-in format or a custom JSON mapping. Sample: `sample.yaml`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.quantities import check_quantity
from contract.telemetry import Ident
from contract.timestamps import DEFAULT_MAX_SKEW_S
from device_profiles.mqtt_format import default_topic
from edge_agent.broker_config import BrokerConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MqttFormat = Literal["zigbee2mqtt", "tasmota", "lorawan", "json", "custom"]

# How often a sensor of each format usually reports when nothing changes: Zigbee sensors report
# on change with a periodic report up to an hour apart, Tasmota's TelePeriod defaults to 300 s,
# LoRaWAN classroom sensors are set to 10-15 min; generic JSON/custom: assume a minute.
EXPECTED_INTERVAL_S: dict[str, float] = {
    "zigbee2mqtt": 3600.0,
    "tasmota": 300.0,
    "lorawan": 900.0,
    "json": 60.0,
    "custom": 60.0,
}
DEFAULT_SILENCE_FACTOR = 3.0


_check_quantity = check_quantity  # the catalogue's one 'known quantity' check


class PointMapping(_Strict):
    """One JSON value of a payload → one point. `path` is dotted with [i] for lists: `env.t[0]`."""

    path: str = Field(min_length=1)
    point: Ident
    quantity: str
    unit: str = Field(description="unit the device sends; converted to the canonical unit")
    valid_min: float | None = None
    valid_max: float | None = None

    @field_validator("quantity")
    @classmethod
    def _known_quantity(cls, v: str) -> str:
        return _check_quantity(v)


class TimestampMapping(_Strict):
    path: str = Field(min_length=1)
    format: Literal["iso8601", "epoch_s", "epoch_ms", "epoch_ns"] = "iso8601"


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

    @property
    def silent_after_s(self) -> float:
        """Seconds without a message after which a sensor of this subscription is DOWN."""
        return self.expected_every_s * self.silence_factor

    @property
    def expected_every_s(self) -> float:
        return self.expected_interval_s or EXPECTED_INTERVAL_S[self.format]

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
