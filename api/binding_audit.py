"""The binding audit: one line per rebinding (who, when, which device, from which room to which).

Append-only JSON Lines in `binding_audit_file` when configured (a restart keeps the history;
an audit is never rewritten), else kept in memory only. The newest `MAX_KEPT` lines are held
in memory for the API; the file keeps everything.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

MAX_KEPT = 20_000


class BindingAuditOut(BaseModel):
    at: datetime
    by: str = Field(description="name of the token that rebound")
    site: str
    device: str
    point: str | None
    room: str = Field(description="IfcSpace GlobalId bound to")
    room_number: str
    previous_room: str | None = Field(default=None, description="where it was bound before; null: unbound")
    previous_room_number: str | None = None
    role: str | None = None
    ifc_files: list[str] = Field(default_factory=list, description="IFC exports rewritten (ifc_export)")


class BindingAudit:
    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._lines: deque[BindingAuditOut] = deque(maxlen=MAX_KEPT)
        if path is not None and path.is_file():
            with path.open(encoding="utf-8") as f:
                for n, raw in enumerate(f, 1):
                    if not raw.strip():
                        continue
                    try:
                        self._lines.append(BindingAuditOut.model_validate_json(raw))
                    except ValidationError as exc:  # reported, never fatal: the rest is still history
                        print(f"{path}:{n}: audit line skipped: {exc.errors()[0]['msg']}", file=sys.stderr)

    def add(self, line: BindingAuditOut) -> BindingAuditOut:
        with self._lock:
            self._lines.append(line)
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with self._path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(line.model_dump(mode="json"), ensure_ascii=False) + "\n")
        return line

    def newest_first(self) -> list[BindingAuditOut]:
        with self._lock:
            return list(reversed(self._lines))
