"""Build aiomqtt clients from a `BrokerConfig`: credentials and TLS resolved here, never logged."""

from __future__ import annotations

import ssl
from typing import Any

import aiomqtt

from edge_agent.config import BrokerConfig


def tls_context(broker: BrokerConfig) -> ssl.SSLContext | None:
    t = broker.tls
    if t is None:
        return None
    ctx = ssl.create_default_context(cafile=str(t.ca_file) if t.ca_file else None)
    if t.cert_file:
        ctx.load_cert_chain(str(t.cert_file), str(t.key_file) if t.key_file else None)
    if t.insecure:
        ctx.check_hostname = False
    return ctx


def make_client(broker: BrokerConfig, identifier: str, **kwargs: Any) -> aiomqtt.Client:
    """May raise SecretError (names the reference only) or ssl errors for bad TLS files."""
    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=identifier,
        username=broker.username,
        password=broker.password.resolve() if broker.password else None,
        tls_context=tls_context(broker),
        keepalive=broker.keepalive_s,
        **kwargs,
    )


def describe(broker: BrokerConfig) -> str:
    """For logs: where, never who/how (no credentials)."""
    scheme = "mqtts" if broker.tls else "mqtt"
    return f"{scheme}://{broker.host}:{broker.port}"
