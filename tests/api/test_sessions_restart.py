"""Browser sessions survive an API restart (`sessions_file`); expired and revoked ones do not.

The API runs as a real `campus-twin api serve` process, stopped and started again between
sign-in and use, exactly as an operator's `systemctl restart` would."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from api.auth import Role, hash_token
from api.sessions import COOKIE, SessionBook
from api.token_cli import add, end_sessions, revoke
from campus_twin.servers import ManagedServer
from store.sqlite import SQLiteStore

V1 = "/api/v1"


class ApiProcess(ManagedServer):
    config: Path = Path()

    def _cmd(self) -> list[str]:
        listen = f"{self.host}:{self.port}"
        return [sys.executable, "-m", "campus_twin.cli", "api", "serve", str(self.config), "--listen", listen]

    def _ready(self) -> None:
        self._wait_http("campus-twin api", f"{V1}/health", 200)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
def api(tmp_path: Path, twin_dir: Path, sqlite_store: SQLiteStore) -> Iterator[ApiProcess]:
    cfg = tmp_path / "api.yaml"
    cfg.write_text(
        f"twin_config: {twin_dir / 'twin.yaml'}\n"
        f"store: {{type: sqlite, path: {twin_dir / 'store.sqlite'}}}\n"
        "tokens: {file: tokens.yaml, env: null}\n"
        "sessions_file: state/sessions.sqlite\n",
        encoding="utf-8",
    )
    (tmp_path / "tokens.yaml").write_text("tokens: []\n", encoding="utf-8")
    proc = ApiProcess(tmp_path / "api")
    proc.config = cfg
    with proc:
        yield proc


def _sign_in(api: ApiProcess, token: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=api.url, timeout=30)
    r = c.post(f"{V1}/session", json={"token": token})
    assert r.status_code == 200, r.text
    return c, str(r.json()["csrf"])


@pytest.mark.integration
def test_session_survives_a_restart_expired_and_revoked_ones_do_not(tmp_path: Path, api: ApiProcess) -> None:
    tokens, store = tmp_path / "tokens.yaml", tmp_path / "state" / "sessions.sqlite"
    now = datetime.now(UTC)
    admin = add(tokens, "ops", Role.ADMIN, None, now)
    desk = add(tokens, "desk", Role.VIEWER, None, now)
    api.restart()  # the new tokens, without waiting for the file watch
    keep, csrf = _sign_in(api, admin)
    gone, _ = _sign_in(api, desk)
    sid = keep.cookies.get(COOKIE) or ""
    # only the hash of a session id is at rest
    wal = store.with_name(store.name + "-wal")
    raw = store.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert sid and sid.encode() not in raw
    assert oct(store.stat().st_mode)[-3:] == "600"

    api.stop()
    assert revoke(tokens, "desk")  # revoked while the API is down
    expired_sid, _ = SessionBook(store, ttl_s=0).open(hash_token(admin))  # expired at once
    api.start()

    assert keep.get(f"{V1}/campuses").status_code == 200  # still signed in after the restart
    assert keep.get(f"{V1}/session").json()["csrf"] == csrf  # same CSRF token
    assert keep.post(f"{V1}/admin/reload", headers={"X-CSRF-Token": csrf}).status_code == 200
    r = gone.get(f"{V1}/campuses")
    assert r.status_code == 401 and "revoked" in r.json()["detail"], r.text
    old = httpx.Client(base_url=api.url, cookies={COOKIE: expired_sid}, timeout=30)
    assert old.get(f"{V1}/campuses").status_code == 401
    rows = sqlite3.connect(store).execute("SELECT count(*) FROM sessions").fetchone()
    assert rows == (1,)  # the revoked and the expired session were deleted, the live one kept


def test_revoke_with_config_ends_the_tokens_sessions_in_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "api.yaml"
    cfg.write_text(
        "twin_config: twin.yaml\nstore: {type: sqlite, path: s.sqlite}\nsessions_file: sessions.sqlite\n",
        encoding="utf-8",
    )
    book = SessionBook(tmp_path / "sessions.sqlite")
    book.open(b"a" * 32)
    book.open(b"a" * 32)
    book.open(b"b" * 32)
    assert end_sessions(str(cfg), [b"a" * 32]) == 2 and len(book) == 1
    assert end_sessions(None, [b"b" * 32]) == 0 and len(book) == 1
