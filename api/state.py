"""The app's live state: the loaded twin, the binding table, the store and the room→series map.

Reload swaps everything in one assignment under a lock, so a request sees either the old or
the new twin, never half of each. The room→series map is refreshed at most every
`series_refresh_s`, because new series appear as devices come online.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from api.acks import AckBook
from api.agent_health import AgentHealthBook
from api.auth import TokenRegistry
from api.binding_audit import BindingAudit
from api.expensive import Expensive, ProcessBuilds
from api.ratelimit import FailureLimiter
from api.series_index import SeriesIndex
from api.sessions import SessionBook
from api.settings import ApiSettings
from contract.bindings import BindingIndex, BindingTable
from contract.clock import Clock
from store.base import Store
from twin.index import TwinIndex
from twin.live_engine import LiveEngine, LiveInputs
from twin.model import Campus


@dataclass
class LoadedTwin:
    campuses: list[Campus]
    bindings: BindingTable = field(default_factory=BindingTable)
    binding_files: dict[str, Path] = field(default_factory=dict)  # campus → binding YAML (rebinding)


TwinLoader = Callable[[], LoadedTwin]


@dataclass
class _Snapshot:
    loaded: LoadedTwin
    twin: TwinIndex
    bindings: BindingIndex


class AppState:
    def __init__(
        self,
        settings: ApiSettings,
        store: Store,
        tokens: TokenRegistry,
        loader: TwinLoader,
        clock: Clock,
        live: LiveEngine,
        agent_health: AgentHealthBook | None = None,
    ) -> None:
        self.live = live
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.sessions = SessionBook(settings.sessions_file)
        self.auth_failures = FailureLimiter(  # per client address (api/ratelimit.py)
            max_failures=settings.auth_limit.max_failures, window_s=settings.auth_limit.window_s
        )
        self.rollups = Expensive(ttl_s=settings.verdict_cache_s, concurrency=1)
        self.acks = AckBook(settings.acks_file)
        self.binding_audit = BindingAudit(settings.binding_audit_file)
        self.expensive = Expensive(ttl_s=60.0, concurrency=1)
        self.alerts = Expensive(ttl_s=settings.verdict_cache_s, concurrency=2)
        self.builds: ProcessBuilds | None = None  # worker process for long builds (create_app sets it)
        self.clock = clock
        self.tz: ZoneInfo = settings.tz
        self.agent_health = agent_health
        self._loader = loader
        self._lock = threading.Lock()
        self._series: SeriesIndex | None = None
        self._series_at = 0.0
        self._refreshing = False
        self._snap = self._load()

    # ------------------------------------------------------------ twin
    def _load(self) -> _Snapshot:
        loaded = self._loader()
        return _Snapshot(loaded, TwinIndex.build(loaded.campuses), BindingIndex(loaded.bindings))

    @property
    def twin(self) -> TwinIndex:
        return self._snap.twin

    @property
    def loaded(self) -> LoadedTwin:
        return self._snap.loaded

    @property
    def binding_index(self) -> BindingIndex:
        return self._snap.bindings

    def reload(self) -> None:
        snap = self._load()
        with self._lock:
            self._snap = snap
            self._series = None
        self.live.clear()
        self.rollups.clear()
        self.expensive.clear()
        self.alerts.clear()

    def set_bindings(self, table: BindingTable) -> None:
        with self._lock:
            loaded = LoadedTwin(self._snap.loaded.campuses, table, self._snap.loaded.binding_files)
            self._snap = _Snapshot(loaded, self._snap.twin, BindingIndex(table))
            self._series = None
        self.live.clear()
        self.rollups.clear()
        self.expensive.clear()
        self.alerts.clear()

    # ------------------------------------------------------------ series
    def series_index(self) -> SeriesIndex:
        """The room→series map. Only the first build blocks a request: later refreshes run in a
        background thread while requests keep the current map (a rebuild over 10k rooms takes
        about a second and used to land inside some unlucky request: the bench's p99)."""
        now = time.monotonic()
        current = self._series
        if current is None:
            return self._build_series(now)
        if now - self._series_at >= self.settings.series_refresh_s and not self._refreshing:
            with self._lock:
                start = not self._refreshing
                self._refreshing = True
            if start:
                threading.Thread(target=self._refresh_series, name="series-index", daemon=True).start()
        return current

    def _refresh_series(self) -> None:
        try:
            self._build_series(time.monotonic())
        finally:
            self._refreshing = False

    def _build_series(self, now: float) -> SeriesIndex:
        snap = self._snap
        idx = SeriesIndex.build(self.store.series(), snap.twin, snap.bindings)
        idx.add_bound_devices(self._bound_devices(snap))
        with self._lock:
            if self._snap is snap:
                self._series, self._series_at = idx, now
        return idx

    @staticmethod
    def _bound_devices(snap: _Snapshot) -> list[tuple[str, str, str | None]]:
        out = []
        for b in snap.loaded.bindings.bindings:
            place = snap.twin.space_by_tags(b.tags.campus, b.tags.room, b.tags.room_number)
            out.append((b.site, b.device, place.space.global_id if place else None))
        return out

    def live_inputs(self, now: int | None = None) -> LiveInputs:
        """What the twin's live state reads besides the store, as this app has it now."""
        snap = self._snap
        return LiveInputs(
            snap.twin, self.series_index().by_room, snap.bindings, self.now_ns() if now is None else now
        )

    # ------------------------------------------------------------ time
    def now_ns(self) -> int:
        return self.clock.now_ns()

    def to_dt(self, ns: int) -> datetime:
        return datetime.fromtimestamp(ns / 1e9, self.tz)
