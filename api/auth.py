"""Bearer tokens with roles (viewer, admin).

Tokens are kept as SHA-256 hashes only: the file holds `sha256:<hex>` (preferred) or a plain
token that is hashed on load. A presented token is hashed and compared against *every* known
hash with `hmac.compare_digest`, so neither the match position nor a prefix leaks through timing.

Token file (YAML or JSON), managed with `campus-twin api token add|list|revoke`::

    tokens:
      - {name: facilities-desk, role: viewer, sha256: 9f86d0…}
      - {name: ops, role: admin, sha256: …, expires: 2027-07-01T00:00:00+08:00}
      - {name: no1-desk, role: viewer, campuses: [no1-middle], sha256: …}

`campuses` is the token's scope: absent = the whole district (every campus; how every token
written before scopes existed keeps working), else only these campus ids (api/scope.py
enforces it on every route). Sessions re-check their token, so they carry its scope.

The registry re-reads the file when it changes (checked at most once a second), so a token
added or revoked takes effect without a restart; an unreadable or invalid new version is
reported on stderr and the last good one is kept (a typo must not lock every user out).

Env var (default CAMPUS_TWIN_API_TOKENS): `role:secret` items separated by commas, where secret
is `sha256:<hex>` or the token itself, e.g. `admin:sha256:ab12…,viewer:s3cret`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.settings import TokensConfig
from contract.yamlio import ConfigError, load_model


class Role(StrEnum):
    VIEWER = "viewer"
    ADMIN = "admin"


ROLE_RANK = {Role.VIEWER: 0, Role.ADMIN: 1}
_HEX64 = r"^[0-9a-fA-F]{64}$"


class TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    role: Role
    sha256: str | None = Field(default=None, pattern=_HEX64)
    token: str | None = Field(default=None, min_length=16, description="plain token (hashed on load)")
    expires: datetime | None = Field(
        default=None, description="with an offset; after it the token is refused"
    )
    created: datetime | None = None
    campuses: list[str] | None = Field(
        default=None, min_length=1, description="scope: these campus ids only; absent = district"
    )

    @model_validator(mode="after")
    def _aware(self) -> TokenEntry:
        for name in ("expires", "created"):
            v = getattr(self, name)
            if v is not None and v.tzinfo is None:
                raise ValueError(f"{name} needs a UTC offset, e.g. 2027-07-01T00:00:00+08:00")
        return self

    @model_validator(mode="after")
    def _one_secret(self) -> TokenEntry:
        if (self.sha256 is None) == (self.token is None):
            raise ValueError("give exactly one of 'sha256' or 'token'")
        return self


class TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[TokenEntry] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    campuses: frozenset[str] | None = None  # None = district (every campus)

    def can(self, needed: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]

    def sees(self, campus: str) -> bool:
        return self.campuses is None or campus in self.campuses

    @property
    def scope(self) -> str:
        """`district` or the campus ids joined by `+` (logs, `token list`, `GET /session`)."""
        return "district" if self.campuses is None else "+".join(sorted(self.campuses))


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class TokenRecord:
    digest: bytes
    principal: Principal
    expires_s: float | None = None  # unix seconds; None = never

    def live(self, now_s: float) -> bool:
        return self.expires_s is None or now_s < self.expires_s


class TokenRegistry:
    """Known token digests. `reload` (optional) re-reads the source when `changed()` says so."""

    def __init__(
        self,
        records: list[TokenRecord],
        *,
        reload: Callable[[], list[TokenRecord]] | None = None,
        changed: Callable[[], bool] | None = None,
    ) -> None:
        self._records = records
        self._reload = reload
        self._changed = changed
        self._checked = 0.0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def _current(self) -> list[TokenRecord]:
        if self._reload is None or self._changed is None:
            return self._records
        now = time.monotonic()
        if now - self._checked < 1.0:
            return self._records
        with self._lock:
            if now - self._checked >= 1.0:
                self._checked = now
                if self._changed():
                    try:
                        self._records = self._reload()
                    except (ValueError, OSError) as exc:  # keep the last good set
                        print(f"tokens not reloaded, keeping the previous set: {exc}", file=sys.stderr)
        return self._records

    def authenticate(self, token: str) -> Principal | None:
        return self.authenticate_digest(hash_token(token))

    def authenticate_digest(self, presented: bytes) -> Principal | None:
        """The principal of a live token with this digest (sessions re-check on every request)."""
        now_s = time.time()
        found: Principal | None = None
        for rec in self._current():  # no early exit: constant work per request
            if hmac.compare_digest(presented, rec.digest) and found is None and rec.live(now_s):
                found = rec.principal
        return found


def _parse_env(name: str, value: str) -> list[TokenRecord]:
    out = []
    for i, item in enumerate(p.strip() for p in value.split(",")):
        if not item:
            continue
        role_s, sep, secret = item.partition(":")
        if not sep or role_s not in Role.__members__.values() or not secret:
            raise ConfigError(
                f"${name}",
                [
                    f"${name}: item {i + 1}: expected 'viewer:<token>' or 'admin:sha256:<hex>' (value not shown)"
                ],
            )
        if secret.startswith("sha256:"):
            hexd = secret.removeprefix("sha256:")
            if len(hexd) != 64 or any(c not in "0123456789abcdefABCDEF" for c in hexd):
                raise ConfigError(f"${name}", [f"${name}: item {i + 1}: sha256 must be 64 hex digits"])
            digest = bytes.fromhex(hexd)
        else:
            if len(secret) < 16:
                raise ConfigError(f"${name}", [f"${name}: item {i + 1}: token shorter than 16 characters"])
            digest = hash_token(secret)
        out.append(TokenRecord(digest, Principal(f"env#{i + 1}", Role(role_s))))
    return out


def file_records(path: Path) -> list[TokenRecord]:
    tf = load_model(TokenFile, path)
    return [
        TokenRecord(
            bytes.fromhex(e.sha256) if e.sha256 else hash_token(e.token or ""),
            Principal(e.name, e.role, frozenset(e.campuses) if e.campuses else None),
            e.expires.timestamp() if e.expires else None,
        )
        for e in tf.tokens
    ]


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def load_tokens(cfg: TokensConfig, environ: dict[str, str] | None = None) -> TokenRegistry:
    """File + env tokens; the file is watched so `api token add|revoke` apply without a restart."""
    env = os.environ if environ is None else environ
    from_env = _parse_env(cfg.env, env[cfg.env]) if cfg.env and env.get(cfg.env) else []
    path = cfg.file
    if path is None:
        return TokenRegistry(from_env)
    seen = [_stamp(path)]
    first = file_records(path) + from_env

    def changed() -> bool:
        now = _stamp(path)
        if now == seen[0]:
            return False
        seen[0] = now
        return True

    return TokenRegistry(first, reload=lambda: file_records(path) + from_env, changed=changed)
