"""Swagger UI and ReDoc from the installed `fastapi-offline` package: no CDN, works offline,
and no inline script (the init code is /static/swagger-init.js), so the CSP stays strict.

ReDoc's bundle draws its "API docs by Redocly" logo from `https://cdn.redoc.ly/…` (blocked by
the CSP: a console error and a broken image, and a request leaving the site). The bundle is
served from `/docs-assets/redoc.js` with that address pointed at a local copy of the logo
(`/static/redoc-logo.svg`); nothing else in it fetches from outside."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def assets_dir() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    d = Path(fastapi_offline.__file__).with_name("static")
    return d if (d / "swagger-ui-bundle.js").is_file() else None


SWAGGER = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>campus-twin API 接口文档</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css"></head>
<body><div id="swagger-ui" data-spec="{spec}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>
"""
REDOC = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>campus-twin API 接口文档 (ReDoc)</title></head>
<body><redoc spec-url="{spec}"></redoc><script src="{assets}/redoc.js"></script></body></html>
"""
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = "/static/redoc-logo.svg"


def redoc_bundle(d: Path) -> str:
    """ReDoc's bundle with its one external request (the logo) pointed at the local copy."""
    return (d / "redoc.standalone.js").read_text(encoding="utf-8").replace(REDOC_CDN_LOGO, LOCAL_LOGO)


def install(app: FastAPI, prefix: str, openapi_url: str) -> frozenset[str]:
    """Add `{prefix}/docs` and `{prefix}/redoc`; returns their paths (for the relaxed CSP)."""
    d = assets_dir()
    if d is None:
        return frozenset()
    bundle = redoc_bundle(d)

    @app.get(f"{ASSETS}/redoc.js", include_in_schema=False)
    def redoc_js() -> Response:  # before the mount: a route wins over the mounted directory
        return Response(bundle, media_type="text/javascript; charset=utf-8")

    app.mount(ASSETS, StaticFiles(directory=d), name="docs-assets")
    swagger = SWAGGER.format(assets=ASSETS, spec=openapi_url)
    redoc = REDOC.format(assets=ASSETS, spec=openapi_url)

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(swagger)

    @app.get(f"{prefix}/redoc", include_in_schema=False)
    def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc)

    return frozenset({f"{prefix}/docs", f"{prefix}/redoc"})
