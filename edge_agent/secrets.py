"""Credentials by reference: the config names an env var or a file, never holds the secret.

A `SecretRef` is resolved only when a connection is made, and its value is never part of
`repr()`/logs, so a config dump or a traceback cannot leak a password.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SecretError(ValueError):
    """A referenced secret could not be read; the message names the reference, not the value."""


class SecretRef(BaseModel):
    """Exactly one of `env` (environment variable name) or `file` (path, first line used)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env: str | None = Field(default=None, min_length=1)
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def describe(self) -> str:
        return f"env ${self.env}" if self.env else f"file {self.file}"

    def resolve(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            text = self.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretError(f"cannot read secret file {self.file}: {exc.strerror or exc}") from None
        lines = text.splitlines()
        return lines[0] if lines else ""
