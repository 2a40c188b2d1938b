"""Room-status latency of the API on a campus of ≥10k rooms, under a loopback load generator.

The campus is built in memory from a campus spec (the twin's dataclasses, no IFC: generating
and tessellating 10k IFC spaces would measure the generator, not the API), with a real SQLite
store holding the last hour of CO2/temperature/occupancy per room. uvicorn serves the real app
in a child process; N client threads with keep-alive connections request the status of random
rooms. Baseline in the same run: `/api/v1/health` (routing + JSON, no store, no auth).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from contract.campus import BuildingSpec, CampusSpec, RoomTemplate, expand
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from store.base import StoredPoint
from twin.model import Building, Campus, Space, Storey

NS = 1_000_000_000
TOKEN = "bench-viewer-token-0123456789"
QUANTITIES = ("co2", "temperature", "occupancy")


def synthetic_campus(rooms_wanted: int) -> Campus:
    per_floor, floors = 25, 10
    n_buildings = -(-rooms_wanted // (per_floor * floors))
    spec = CampusSpec(
        site="bench-campus",
        name="bench",
        buildings=[
            BuildingSpec(
                id=f"B{i:02d}",
                name=f"B{i:02d}",
                floors=floors,
                rooms_per_floor=[RoomTemplate(type="general_classroom", name_zh="普通教室", count=per_floor)],
            )
            for i in range(n_buildings)
        ],
    )
    campus = Campus(id=spec.site, name=spec.name)
    storeys: dict[tuple[str, int], Storey] = {}
    buildings: dict[str, Building] = {}
    for r in expand(spec):
        b = buildings.get(r.building)
        if b is None:
            b = buildings[r.building] = Building(f"bld-{r.building}", r.building, campus.id, "")
            campus.buildings.append(b)
        st = storeys.get((r.building, r.floor))
        if st is None:
            st = storeys[(r.building, r.floor)] = Storey(
                f"st-{r.building}-{r.floor}", f"{r.floor}F", r.elevation_m, b.global_id
            )
            b.storeys.append(st)
        x, y = r.x_m, r.y_m
        st.spaces.append(
            Space(
                global_id=f"sp-{r.number}",
                name=r.number,
                long_name=r.name_zh,
                storey_id=st.global_id,
                building_id=b.global_id,
                area_m2=r.area_m2,
                room_type=r.type,
                footprint=[(x, y), (x + r.width_m, y), (x + r.width_m, y + r.depth_m), (x, y + r.depth_m)],
            )
        )
    return campus


def seed(path: Path, campus: Campus, now_ns: int, minutes: int = 60, step_s: int = 300) -> int:
    from store.sqlite import SQLiteStore

    store = SQLiteStore(path)
    batch: list[StoredPoint] = []
    n = 0
    rng = random.Random(1)
    for sp in campus.spaces():
        tags = {"campus": campus.id, "room": sp.global_id, "room_number": sp.room_number}
        for q in QUANTITIES:
            base = {"co2": 800.0, "temperature": 23.0, "occupancy": 30.0}[q]
            for i in range(minutes * 60 // step_s):
                batch.append(
                    StoredPoint(
                        SeriesKey(campus.id, f"{sp.room_number}-env", q),
                        now_ns - i * step_s * NS,
                        base * (0.8 + 0.4 * rng.random()),
                        q,
                        CANONICAL_UNITS[q],
                        agent="gw-bench",
                        tags=tags,
                    )
                )
        if len(batch) >= 20_000:
            store.write(batch)
            n += len(batch)
            batch = []
    store.write(batch)
    n += len(batch)
    store.close()
    return n


def _signal_live_ready(app: Any, ready: Any) -> None:
    """Set `ready` once the API's live state holds every room (its first background pass)."""
    while getattr(app.state, "campus", None) is None or app.state.campus.live.sweeps < 1:
        time.sleep(0.1)
    ready.set()


def _serve(app: Any, port: int, ready: Any = None) -> None:
    if ready is not None:
        threading.Thread(target=_signal_live_ready, args=(app, ready), daemon=True).start()
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _load(port: int, paths: list[str], threads: int, deadline_s: float) -> tuple[list[float], int]:
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()
    it = iter(paths)
    stop_at = time.monotonic() + deadline_s

    def worker() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        while time.monotonic() < stop_at:
            with lock:
                path = next(it, None)
            if path is None:
                break
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t0)
            bad += resp.status != 200
        conn.close()
        with lock:
            lat.extend(mine)
            errors += bad

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, errors


def _background(
    port: int, path: str, clients: int, stop: threading.Event
) -> tuple[list[threading.Thread], list[float], list[int]]:
    """`clients` connections requesting `path` back to back until `stop` (the expensive load);
    latencies and the statuses of failed requests."""
    lat: list[float] = []
    errors: list[int] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:  # an error answered fast is not a build: fail the bench
                    errors.append(resp.status)
                lat.append(time.perf_counter() - t0)
        except OSError:  # the server stopped while a build was in flight: the phase is over
            pass
        finally:
            conn.close()

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in ts:
        t.start()
    return ts, lat, errors


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000 if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="campus-twin bench api")
    ap.add_argument("--rooms", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=2000, help="status requests (bounded)")
    ap.add_argument("--threads", type=int, default=8, help="concurrent keep-alive connections")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time bound per phase")
    ap.add_argument("--indicator-clients", type=int, default=30, help="concurrent indicator requests")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from api.app import create_app
    from api.auth import Principal, Role, TokenRecord, TokenRegistry, hash_token
    from api.settings import ApiSettings
    from api.state import LoadedTwin
    from campus_twin.servers import free_port
    from contract.clock import WallClock

    now = time.time_ns()
    campus = synthetic_campus(args.rooms)
    rooms = [s.global_id for s in campus.spaces()]
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        db = Path(tmp) / "store.sqlite"
        t0 = time.perf_counter()
        points = seed(db, campus, now)
        seed_s = time.perf_counter() - t0
        settings = ApiSettings.model_validate(
            {
                "twin_config": Path(tmp) / "unused.yaml",
                "store": {"type": "sqlite", "path": db},
                "tokens": {"env": None},
            }
        )
        tokens = TokenRegistry([TokenRecord(hash_token(TOKEN), Principal("bench", Role.VIEWER))])
        app = create_app(settings, loader=lambda: LoadedTwin([campus]), tokens=tokens, clock=WallClock())
        port = free_port()
        ctx = multiprocessing.get_context("fork")
        live_ready = ctx.Event()
        # not daemonic: the API runs indicator builds in a worker process of its own
        proc = ctx.Process(target=_serve, args=(app, port, live_ready), daemon=False)
        proc.start()
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/v1/health")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("server did not start") from None
                    time.sleep(0.05)
            # the live state is kept in memory: measure once it holds every room (like a server
            # that has finished starting), and report how long that first pass took
            t_live = time.perf_counter()
            if not live_ready.wait(timeout=600):
                raise RuntimeError("the API's live state did not fill within 600 s")
            live_fill_s = time.perf_counter() - t_live
            rng = random.Random(7)
            warm = [f"/api/v1/rooms/{rng.choice(rooms)}/status" for _ in range(50)]
            _load(port, warm, args.threads, args.max_seconds)  # builds the room→series index once
            base_lat, base_err = _load(
                port, ["/api/v1/health"] * args.requests, args.threads, args.max_seconds
            )
            paths = [f"/api/v1/rooms/{rng.choice(rooms)}/status" for _ in range(args.requests)]
            t1 = time.perf_counter()
            lat, err = _load(port, paths, args.threads, args.max_seconds)
            wall = time.perf_counter() - t1
            # room status while `indicator-clients` viewers keep asking for the campus indicators
            stop = threading.Event()
            ind_threads, ind_lat, ind_err = _background(
                port, f"/api/v1/campuses/{campus.id}/indicators?days=7", args.indicator_clients, stop
            )
            paths2 = [f"/api/v1/rooms/{rng.choice(rooms)}/status" for _ in range(args.requests)]
            loaded_lat, loaded_err = _load(port, paths2, args.threads, args.max_seconds)
            stop.set()
            for t in ind_threads:
                t.join(timeout=120)
        finally:
            proc.terminate()
            proc.join(10)
    result = {
        "rooms": len(rooms),
        "stored_points": points,
        "seed_s": round(seed_s, 2),
        "live_state_fill_s": round(live_fill_s, 2),
        "threads": args.threads,
        "status_requests": len(lat),
        "status_errors": err,
        "status_p50_ms": round(_pct(lat, 50), 2),
        "status_p99_ms": round(_pct(lat, 99), 2),
        "status_mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
        "status_rps": round(len(lat) / wall, 1) if wall else None,
        "health_requests": len(base_lat),
        "health_errors": base_err,
        "health_p50_ms": round(_pct(base_lat, 50), 2),
        "health_p99_ms": round(_pct(base_lat, 99), 2),
        "ratio_status_vs_health_p50": round(_pct(lat, 50) / _pct(base_lat, 50), 2)
        if base_lat and lat
        else None,
        "ratio_status_vs_health_p99": round(_pct(lat, 99) / _pct(base_lat, 99), 2)
        if base_lat and lat
        else None,
        "indicator_clients": args.indicator_clients,
        "indicator_requests": len(ind_lat),
        "indicator_errors": len(ind_err),
        "indicator_p50_ms": round(_pct(ind_lat, 50), 2),
        "status_under_indicators_p50_ms": round(_pct(loaded_lat, 50), 2),
        "status_under_indicators_p99_ms": round(_pct(loaded_lat, 99), 2),
        "status_under_indicators_errors": loaded_err,
        "ratio_status_p99_loaded_vs_idle": round(_pct(loaded_lat, 99) / _pct(lat, 99), 2)
        if lat and loaded_lat
        else None,
    }
    for k, v in result.items():
        print(f"{k:32s} {v}")
    if args.json:
        print(json.dumps(result))
    return 0 if not err and not base_err and not loaded_err and not ind_err else 1


if __name__ == "__main__":
    raise SystemExit(main())
