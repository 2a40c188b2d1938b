"""Bearer tokens with roles (viewer, admin).

Tokens are kept as SHA-256 hashes only: the file holds `sha256:<hex>` (preferred) or a plain
token that is hashed on load. A presented token is hashed and compared against *every* known
hash with `hmac.compare_digest`, so neither the match position nor a prefix leaks through timing.

Token file (YAML or JSON)::

    tokens:
      - {name: facilities-desk, role: viewer, sha256: 9f86d0…}
      - {name: ops, role: admin, sha256: …}

Env var (default CAMPUS_TWIN_API_TOKENS): `role:secret` items separated by commas, where secret
is `sha256:<hex>` or the token itself, e.g. `admin:sha256:ab12…,viewer:s3cret`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
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

    @model_validator(mode="after")
    def _one_secret(self) -> TokenEntry:
        if (self.sha256 is None) == (self.token is None):
            raise ValueError("give exactly one of 'sha256' or 'token'")
        return self


class TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[TokenEntry] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role

    def can(self, needed: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenRegistry:
    def __init__(self, entries: list[tuple[bytes, Principal]]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str) -> Principal | None:
        presented = hash_token(token)
        found: Principal | None = None
        for digest, principal in self._entries:  # no early exit: constant work per request
            if hmac.compare_digest(presented, digest) and found is None:
                found = principal
        return found


def _parse_env(name: str, value: str) -> list[tuple[bytes, Principal]]:
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
        out.append((digest, Principal(f"env#{i + 1}", Role(role_s))))
    return out


def load_tokens(cfg: TokensConfig, environ: dict[str, str] | None = None) -> TokenRegistry:
    env = os.environ if environ is None else environ
    entries: list[tuple[bytes, Principal]] = []
    if cfg.file is not None:
        tf = load_model(TokenFile, Path(cfg.file))
        for e in tf.tokens:
            digest = bytes.fromhex(e.sha256) if e.sha256 else hash_token(e.token or "")
            entries.append((digest, Principal(e.name, e.role)))
    if cfg.env and env.get(cfg.env):
        entries += _parse_env(cfg.env, env[cfg.env])
    return TokenRegistry(entries)
