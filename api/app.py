"""`create_app(settings)`: the FastAPI app with the versioned API, auth and the web UI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import docs_pages, errors
from api.access_log import AccessLog
from api.agent_health import AgentHealthBook, MqttAgentHealth
from api.auth import TokenRegistry, load_tokens
from api.deps import get_state
from api.etag import ETags
from api.expensive import ProcessBuilds
from api.head_requests import HeadAsGet
from api.metrics import install_metrics
from api.routes import acks, admin, hierarchy, indicators, ops, rooms, session
from api.schemas import HealthOut, QuantityOut
from api.security_headers import SecurityHeaders
from api.settings import ApiSettings
from api.state import AppState, TwinLoader
from contract.clock import Clock, WallClock
from ops.version import package_version
from store.base import Store
from store.factory import open_store
from twin.live_engine import LiveEngine

PREFIX = "/api/v1"
STATIC = Path(__file__).with_name("static")
VERSION = package_version()


def create_app(
    settings: ApiSettings,
    *,
    store: Store | None = None,
    loader: TwinLoader | None = None,
    tokens: TokenRegistry | None = None,
    clock: Clock | None = None,
    agent_health: AgentHealthBook | None = None,
) -> FastAPI:
    """The app. Everything the settings name can be injected instead (tests, demo, bench)."""
    if loader is None:
        from api.twin_loader import load_from_config

        def loader() -> object:  # type: ignore[misc]
            return load_from_config(settings.twin_config)

    own_store = store is None
    the_store = store if store is not None else open_store(settings.store)
    book = agent_health
    mqtt: MqttAgentHealth | None = None
    if book is None and settings.agent_health.type == "mqtt":
        book = AgentHealthBook()
        mqtt = MqttAgentHealth(settings.agent_health, book)
    state = AppState(
        settings,
        the_store,
        tokens if tokens is not None else load_tokens(settings.tokens),
        loader,  # type: ignore[arg-type]
        clock or WallClock(),
        LiveEngine(the_store, settings.verdict_cache_s, settings.standards_file, settings.timetable_file),
        book,
    )

    if own_store:  # a worker process can open the same store from the settings
        state.builds = ProcessBuilds()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if mqtt is not None:
            mqtt.start()
        state.live.start(state.live_inputs)
        try:
            yield
        finally:
            state.live.stop()
            if state.builds is not None:
                state.builds.close()
            if mqtt is not None:
                mqtt.stop()
            if own_store:
                the_store.close()

    app = FastAPI(
        title="campus-twin API (数字孪生校园)",
        version=VERSION,
        description="Campus hierarchy, live room status and compliance, history, alerts, device and "
        "agent health, indicators. Every endpoint except /health needs `Authorization: Bearer <token>`.",
        lifespan=lifespan,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # served from local assets by api/docs_pages.py
        redoc_url=None,
    )
    app.state.campus = state
    errors.install(app)
    install_metrics(app, state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type"],
        )

    public = APIRouter(tags=["meta"])

    @public.get("/health", operation_id="getHealth")
    def health(st: Annotated[AppState, Depends(get_state)]) -> HealthOut:
        """Liveness, no token needed."""
        return HealthOut(
            status="ok",
            version=VERSION,
            campuses=len(st.twin.campuses),
            rooms=len(st.twin.spaces),
            time=st.to_dt(st.now_ns()),
        )

    api = APIRouter(prefix=PREFIX)
    api.include_router(public)
    api.include_router(session.router)
    api.include_router(hierarchy.router)
    api.include_router(rooms.router)
    api.include_router(acks.router)  # before ops: /alerts/acks is not an alert
    api.include_router(ops.router)
    api.include_router(indicators.router)
    api.include_router(admin.router)
    api.include_router(quantities_router())
    app.include_router(api)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    docs_paths = docs_pages.install(app, PREFIX, f"{PREFIX}/openapi.json")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/ui", include_in_schema=False)
    def ui() -> RedirectResponse:
        return RedirectResponse("/")

    # outermost last: access log ← security headers ← 500 envelope ← ETags ← HEAD-as-GET ← the app
    app.add_middleware(HeadAsGet)
    app.add_middleware(ETags, prefix=PREFIX)
    app.add_middleware(errors.InternalErrors)
    app.add_middleware(SecurityHeaders, docs_paths=docs_paths, api_prefix=PREFIX)
    app.add_middleware(AccessLog)
    return app


def quantities_router() -> APIRouter:
    from api.deps import viewer
    from api.errors import ERROR_RESPONSES
    from api.labels import quantity_label
    from contract.quantities import catalogue
    from contract.telemetry import CANONICAL_UNITS

    r = APIRouter(dependencies=[Depends(viewer)], responses=ERROR_RESPONSES, tags=["meta"])

    @r.get("/quantities", operation_id="listQuantities")
    def quantities() -> list[QuantityOut]:
        """Every quantity with its zh/en label, canonical unit and display decimals (catalogue)."""
        specs = catalogue().quantities
        return [
            QuantityOut(
                quantity=q,
                label=quantity_label(q),
                unit=u,
                decimals=specs[q].decimals if q in specs else None,
            )
            for q, u in CANONICAL_UNITS.items()
        ]

    return r
