"""The example production configs in examples/production/ load with the real loaders (so the
README's production layout cannot drift from the code), and the demo campus spec is valid."""

from __future__ import annotations

from pathlib import Path

from api.settings import load_settings
from contract.campus import CampusSpec
from contract.yamlio import load_model
from edge_agent.config import load_agent_config
from ingest.config import load_config as load_ingest_config
from twin.config import load_config as load_twin_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_production_examples_load() -> None:
    agent = load_agent_config(EXAMPLES / "production" / "agent.yaml")
    assert {d.transport.type for d in agent.modbus} == {"rtu", "rtu-over-tcp", "tcp"}
    assert agent.upstream.broker.tls is not None and agent.upstream.broker.password is not None
    ingest = load_ingest_config(EXAMPLES / "production" / "ingest.yaml")
    assert ingest.share_group is None and ingest.store.type == "influxdb"
    twin, _ = load_twin_config(EXAMPLES / "production" / "twin.yaml")
    assert twin.campuses[0].overrides == {"A-305": "recording_classroom"}
    api = load_settings(EXAMPLES / "production" / "api.yaml")
    assert api.twin_config == (EXAMPLES / "production" / "twin.yaml").resolve()
    assert api.agent_health.type == "mqtt"


def test_secrets_are_references_not_values() -> None:
    text = (EXAMPLES / "production" / "ingest.yaml").read_text()
    cfg = load_ingest_config(EXAMPLES / "production" / "ingest.yaml")
    assert "INFLUX_PASSWORD" in text and "INFLUX_PASSWORD" in repr(cfg.store)
    assert "password='" not in repr(cfg.store)


def test_demo_campus_spec_is_valid() -> None:
    spec = load_model(CampusSpec, EXAMPLES / "campus" / "demo-campus.yaml")
    assert spec.site == "sz-demo-school"
