"""Where and how to reach an MQTT broker: the fields every MQTT client config of the project shares.

The agent, ingest, the API's agent-health listener and the simulators subclass `BrokerSettings`
and add only what is theirs (client id rules, protocol, session, reconnect timing), so YAML
keys and their meaning are the same everywhere:
`{host, port, username, password: {env|file}, tls: {ca_file, cert_file, key_file, insecure}, keepalive_s}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from contract.secrets import SecretRef, TlsSettings, rebase_secret, rebase_tls, resolve_secret


class BrokerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretRef | None = None
    tls: TlsSettings | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)

    def rebased(self, base: Path) -> Self:
        """Secret and TLS file paths relative to `base` (the config file's folder)."""
        return self.model_copy(
            update={"password": rebase_secret(self.password, base), "tls": rebase_tls(self.tls, base)}
        )

    def password_value(self) -> str | None:
        """Read now; raises SecretError naming the reference only."""
        return resolve_secret(self.password)

    def describe(self) -> str:
        """For logs: where, never who or how (no credentials)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"
