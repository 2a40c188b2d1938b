"""End-to-end delivery control topics: ingest confirms what is *stored*, not what the broker got.

MQTT QoS 1 only says the broker has a batch; a broker killed with messages queued in memory, a
lost broker disk, or a shared subscription with no member connected loses PUBACKed batches.
So the agent keeps sent batches for a bounded retention window and three small messages close
the loop (all QoS 1, JSON, per agent under `campus/<site>/<agent>/`):

- `durable`  ingest → agent, **retained**: `{"v":1,"seq":N}` — every batch up to seq N is in the
  store (or reported lost); the agent frees its retained copies up to N.
- `resend`   ingest → agent: `{"v":1,"from":A,"to":B}` — a gap A..B did not close in time; the
  agent republishes the batches it still retains (same seq, same payload: idempotent).
- `gone`     agent → ingest: `{"v":1,"from":A,"to":B,"readings":R}` — seqs A..B are no longer on
  the agent; R readings of them were given up unconfirmed — evicted from retention, or removed
  from the agent's buffer by its size or age bound after they were sent (counted, never silent).

Why the agent, not the broker, is the second copy: it is the only party that had the data on
disk before the broker saw it; everything after it (broker memory, broker disk) can vanish.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contract.telemetry import TOPIC_ROOT, TelemetryError

ControlKind = Literal["durable", "resend", "gone"]
CONTROL_KINDS: tuple[ControlKind, ...] = ("durable", "resend", "gone")


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = 1


class Durable(_Msg):
    seq: int = Field(ge=-1, description="highest contiguous seq stored; -1 = nothing yet")


class SeqRange(_Msg):
    first: int = Field(ge=0, alias="from")
    last: int = Field(ge=0, alias="to")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> SeqRange:
        if self.last < self.first:
            raise ValueError(f"'to' ({self.last}) is before 'from' ({self.first})")
        return self


class Resend(SeqRange):
    pass


class Gone(SeqRange):
    readings: int = Field(ge=0, description="readings of these seqs given up unconfirmed (lost)")


ControlMsg = Durable | Resend | Gone
_MODELS: dict[ControlKind, type[_Msg]] = {"durable": Durable, "resend": Resend, "gone": Gone}


def control_topic(site: str, agent: str, kind: ControlKind) -> str:
    return f"{TOPIC_ROOT}/{site}/{agent}/{kind}"


def control_subscription(kind: ControlKind, site: str = "+") -> str:
    return f"{TOPIC_ROOT}/{site}/+/{kind}"


def control_kind(topic_name: str) -> ControlKind | None:
    """The control kind of a topic, or None for telemetry/status/health/anything else."""
    parts = topic_name.split("/")
    if len(parts) == 4 and parts[0] == TOPIC_ROOT and parts[3] in CONTROL_KINDS:
        return parts[3]
    return None


def topic_agent(topic_name: str) -> tuple[str, str]:
    _, site, agent, _ = topic_name.split("/")
    return site, agent


def encode_control(msg: ControlMsg) -> bytes:
    return json.dumps(msg.model_dump(by_alias=True), separators=(",", ":")).encode()


def decode_control(payload: bytes, topic_name: str) -> ControlMsg:
    """Raises TelemetryError naming the topic and field."""
    kind = control_kind(topic_name)
    if kind is None:
        raise TelemetryError(f"topic {topic_name!r}", f"not a control topic ({', '.join(CONTROL_KINDS)})")
    try:
        doc = json.loads(payload)
        msg = _MODELS[kind].model_validate(doc)
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, ValidationError):
            e = exc.errors()[0]
            where = ".".join(str(x) for x in e["loc"]) or "payload"
            raise TelemetryError(f"topic {topic_name!r}", f"field {where!r}: {e['msg']}") from None
        raise TelemetryError(f"topic {topic_name!r}", f"not JSON: {exc}") from None
    assert isinstance(msg, Durable | Resend | Gone)
    return msg
