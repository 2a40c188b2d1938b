"""Room tags from the twin's binding table, reloaded when the file changes or on SIGHUP.

Ingest cannot import the twin, so the twin exports `contract.bindings.BindingTable` as JSON.
A reload that fails (half-written file, bad JSON) keeps the previous table and is counted, so
a twin export in progress never strips tags from live data. The twin should still write the
file atomically (write + rename).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from pydantic import ValidationError

from contract.bindings import BindingIndex, BindingTable, RoomTags
from contract.device_names import device_name

log = logging.getLogger(__name__)


def room_tags(tags: RoomTags | None) -> dict[str, str]:
    """The tag dict written with each point; room_type omitted when unknown."""
    if tags is None:
        return {}
    out = {
        "campus": tags.campus,
        "building": tags.building,
        "storey": tags.storey,
        "room": tags.room,
        "room_number": tags.room_number,
    }
    if tags.room_type:
        out["room_type"] = tags.room_type
    return out


class RoomTagTable(dict[tuple[str, str, str], dict[str, str]]):
    """Room tags per (site, device, point) of one binding-table generation, filled on first use.

    A reload makes a new table and never changes an entry of an old one, so a store may keep
    what it derived from a table (line-protocol prefixes) for as long as it is handed the same
    object, and ingest's hot path looks each series up once per process, not once per batch."""

    def __init__(self, index: BindingIndex) -> None:
        super().__init__()
        self._index = index

    def __missing__(self, key: tuple[str, str, str]) -> dict[str, str]:
        tags = room_tags(self._index.lookup(*key))
        name = device_name(key[1])
        if name != key[1]:  # an escaped friendly name (`三楼:20走廊`): the display name as a tag
            tags = {**tags, "name": name}
        self[key] = tags
        return tags


class BindingWatcher:
    """Current `BindingIndex`; checks the file's mtime at most every `check_s` seconds."""

    def __init__(self, path: Path | None, check_s: float = 2.0) -> None:
        self.path = path
        self.check_s = check_s
        self.index = BindingIndex()
        self.table = RoomTagTable(self.index)
        self.loads_total = 0
        self.errors_total = 0
        self._stamp: tuple[int, int] | None = None
        self._next_check = 0.0
        self._force = threading.Event()
        self.maybe_reload()

    def request_reload(self) -> None:
        """Called from the SIGHUP handler: reload at the next batch even if mtime is unchanged."""
        self._force.set()

    def maybe_reload(self) -> bool:
        if self.path is None:
            return False
        now = time.monotonic()
        forced = self._force.is_set()
        if not forced and now < self._next_check:
            return False
        self._next_check = now + self.check_s
        self._force.clear()
        try:
            st = self.path.stat()
        except OSError:
            if self._stamp is None and not self.loads_total:
                log.warning("binding table %s not found yet: points are written without room tags", self.path)
                self._stamp = (0, 0)
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp and not forced:
            return False
        self._stamp = stamp
        try:
            table = BindingTable.load(self.path)
        except (OSError, ValueError, ValidationError) as exc:
            self.errors_total += 1
            log.error("binding table %s not reloaded (keeping the previous one): %s", self.path, exc)
            return False
        self.index = BindingIndex(table)
        self.table = RoomTagTable(self.index)
        self.loads_total += 1
        log.info("binding table %s loaded: %d bindings", self.path, len(self.index))
        return True

    def tags(self, site: str, device: str, point: str) -> dict[str, str]:
        return self.table[(site, device, point)]
