"""Credentials and TLS files by reference, shared by every config of the project.

A config names an env var or a file, never the secret itself: `SecretRef` reads the value only
when a connection is made (`resolve()`), and the value is never stored on the model, so
`repr()`, logs and JSON dumps can only show the reference. Relative paths in a config are
relative to the config file's folder (`rebase`), so a config directory can be moved whole.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import overload

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SecretError(ValueError):
    """A referenced secret could not be read; the message names the reference, never the value."""


@overload
def rebase(path: Path, base: Path) -> Path: ...
@overload
def rebase(path: None, base: Path) -> None: ...
@overload
def rebase(path: Path | None, base: Path) -> Path | None: ...
def rebase(path: Path | None, base: Path) -> Path | None:
    """`path` relative to `base` (a config file's folder); absolute paths and None stay as they are."""
    return path if path is None or path.is_absolute() else base / path


class SecretRef(BaseModel):
    """Exactly one of `env` (environment variable name) or `file` (path; its first line is used)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = Field(default=None, min_length=1)
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    def describe(self) -> str:
        return f"env ${self.env}" if self.env is not None else f"file {self.file}"

    def resolve(self) -> str:
        """The secret's value, read now (env var, or the first line of the file)."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            lines = self.file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SecretError(f"cannot read secret file {self.file}: {exc.strerror or exc}") from None
        return lines[0] if lines else ""

    def rebased(self, base: Path) -> SecretRef:
        return self if self.file is None else self.model_copy(update={"file": rebase(self.file, base)})


def resolve_secret(ref: SecretRef | None) -> str | None:
    """`ref.resolve()`, or None when no secret is configured."""
    return None if ref is None else ref.resolve()


def rebase_secret(ref: SecretRef | None, base: Path) -> SecretRef | None:
    return None if ref is None else ref.rebased(base)


class TlsSettings(BaseModel):
    """PEM files for a TLS client. The key file is a secret by nature: only its path is in config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_file: Path | None = Field(default=None, description="CA bundle; default: the system's CAs")
    cert_file: Path | None = Field(default=None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(default=None, description="client key; default: inside cert_file")
    insecure: bool = Field(
        default=False, description="skip the host name check, still verify the chain (lab use only)"
    )

    def rebased(self, base: Path) -> TlsSettings:
        return self.model_copy(
            update={k: rebase(getattr(self, k), base) for k in ("ca_file", "cert_file", "key_file")}
        )

    def ssl_context(self) -> ssl.SSLContext:
        """A client context (paho: `tls_set_context`, aiomqtt: `tls_context=`).

        Raises OSError/ssl.SSLError naming nothing secret when a file is missing or bad."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
        if self.insecure:
            ctx.check_hostname = False
        return ctx


def rebase_tls(tls: TlsSettings | None, base: Path) -> TlsSettings | None:
    return None if tls is None else tls.rebased(base)
