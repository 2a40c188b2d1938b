"""Alert acknowledgements: who took an alert episode in hand, and when.

An episode is named by what stays put while it runs: room, quantity, device, point and start.
Kept in memory (bounded) and, when `acks_file` is configured, in a JSON file written atomically,
so acknowledgements survive a restart. The standards engine's alerts stay read-only: the UI
joins the two lists by that key.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from api.rebind import write_atomic

MAX_ACKS = 20_000


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room: str = Field(max_length=128)
    quantity: str = Field(max_length=32)
    device: str = Field(max_length=128)
    point: str = Field(max_length=128)
    start: datetime = Field(description="the episode's start, as /alerts gives it")
    note: str | None = Field(default=None, max_length=500)


class AckOut(AckIn):
    by: str = Field(description="name of the token that acknowledged")
    at: datetime


def ack_key(room: str, quantity: str, device: str, point: str, start: datetime) -> str:
    return f"{room}|{quantity}|{device}|{point}|{int(start.timestamp())}"


class AckBook:
    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._by_key: dict[str, AckOut] = {}
        if path is not None and path.is_file():
            for item in json.loads(path.read_text(encoding="utf-8")):
                a = AckOut.model_validate(item)
                self._by_key[ack_key(a.room, a.quantity, a.device, a.point, a.start)] = a

    def add(self, body: AckIn, by: str, at: datetime) -> AckOut:
        out = AckOut(**body.model_dump(), by=by, at=at)
        key = ack_key(body.room, body.quantity, body.device, body.point, body.start)
        with self._lock:
            self._by_key.pop(key, None)
            self._by_key[key] = out
            while len(self._by_key) > MAX_ACKS:
                self._by_key.pop(next(iter(self._by_key)))
            if self._path is not None:
                rows = [a.model_dump(mode="json") for a in self._by_key.values()]
                write_atomic(self._path, json.dumps(rows, ensure_ascii=False))
        return out

    def all(self) -> list[AckOut]:
        with self._lock:
            return list(self._by_key.values())
