"""Build aiomqtt clients from a `BrokerConfig`: credentials and TLS resolved here, never logged."""

from __future__ import annotations

from typing import Any

import aiomqtt

from edge_agent.config import BrokerConfig


def make_client(broker: BrokerConfig, identifier: str, **kwargs: Any) -> aiomqtt.Client:
    """May raise SecretError (names the reference only) or ssl errors for bad TLS files."""
    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=identifier,
        username=broker.username,
        password=broker.password_value(),
        tls_context=broker.tls.ssl_context() if broker.tls else None,
        keepalive=broker.keepalive_s,
        **kwargs,
    )
