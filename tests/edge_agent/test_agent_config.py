"""Agent config: valid files load with paths resolved; errors name file:line:col and the field."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from contract.secrets import SecretError
from contract.yamlio import ConfigError
from edge_agent.config import load_agent_config
from edge_agent.sources import PLUGINS

GOOD = """site: sz-demo-school
agent: gw-A
upstream:
  broker:
    host: 127.0.0.1
    port: 1883
    username: gw-a
    password: {env: CT_TEST_UP_PASSWORD}
buffer: {path: data/q.sqlite, overflow: refuse_newest}
mqtt:
  subscriptions:
    - format: zigbee2mqtt
    - format: custom
      topic: sensors/+/state
      device: "{1}"
      points:
        - {path: env.t, point: temperature, quantity: temperature, unit: "°F"}
"""


def test_good_config_resolves_paths_and_defaults(tmp_path: Path) -> None:
    p = tmp_path / "agent.yaml"
    p.write_text(GOOD, encoding="utf-8")
    cfg = load_agent_config(p)
    assert cfg.buffer.path == tmp_path / "data" / "q.sqlite"
    assert cfg.quarantine_path == tmp_path / "data" / "q.sqlite.quarantine.sqlite"
    assert cfg.mqtt is not None
    assert [s.topic_filter for s in cfg.mqtt.subscriptions] == [
        "zigbee2mqtt/#",
        "sensors/+/state",
    ]  # whole Z2M tree (names with /)
    assert cfg.client_id("up") == "campus-twin-sz-demo-school-gw-A"


def test_secret_by_reference_never_in_repr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "agent.yaml"
    p.write_text(GOOD, encoding="utf-8")
    cfg = load_agent_config(p)
    ref = cfg.upstream.broker.password
    assert ref is not None
    with pytest.raises(SecretError, match="CT_TEST_UP_PASSWORD is not set"):
        ref.resolve()
    monkeypatch.setenv("CT_TEST_UP_PASSWORD", "s3cr3t-value")
    assert ref.resolve() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(cfg) and "s3cr3t-value" not in cfg.model_dump_json()


def test_secret_from_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("filepw\n")
    p = tmp_path / "agent.yaml"
    p.write_text("site: s\nagent: a\nupstream:\n  broker: {password: {file: pw}}\n")
    cfg = load_agent_config(p)
    assert cfg.upstream.broker.password is not None
    assert cfg.upstream.broker.password.resolve() == "filepw"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("site: s\nagent: a\nbuffer:\n  overflow: drop_newest\n", ":4:3: field buffer.overflow"),
        (
            "site: s\nagent: a\nupstream:\n  batch_sise: 10\n",
            ":4:3: field upstream.batch_sise: unknown field",
        ),
        ("site: s\nagent: a\ntimezone: Mars/Olympus\n", ":3:1: field timezone"),
        ("site: 's/x'\nagent: a\n", ":1:1: field site"),
        (
            "site: s\nagent: a\nmqtt:\n  subscriptions:\n    - format: custom\n      topic: t/+\n"
            "      device: '{1}'\n      points:\n        - {path: x, point: p, quantity: warmth, unit: C}\n",
            ":9:31: field mqtt.subscriptions[0].points[0].quantity",
        ),
        (
            "site: s\nagent: a\nmqtt:\n  subscriptions:\n    - format: custom\n",
            ":5:7: field mqtt.subscriptions[0]",
        ),
        (
            "site: s\nagent: a\nupstream:\n  broker: {password: {env: X, file: y}}\n",
            ":4:12: field upstream.broker.password",
        ),
        ("site: s\nagent: a\nmetrics: {listen: 'nohost'}\n", ":3:11: field metrics.listen"),
        ("site: s\nagent: [a\n", ":3:1: YAML syntax"),
        (  # the old transport key is accepted (a warning); a wrong value still fails at its line
            "site: s\nagent: a\nmodbus:\n  - {id: A-1, profile: p,\n     transport: {kind: serial, port: /dev/ttyUSB0}}\n",
            ":5:6: field modbus[0].transport: Input tag 'serial' found using 'type' does not match",
        ),
    ],
)
def test_errors_name_file_line_col_and_field(tmp_path: Path, text: str, expected: str) -> None:
    p = tmp_path / "agent.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_agent_config(p)
    assert f"{p}{expected}" in str(err.value), str(err.value)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_each_source_sample_config_loads(tmp_path: Path, plugin: str) -> None:
    """Each registered source plugin ships a sample of its config section
    (edge_agent/sources/<name>/sample.yaml) that loads and configures it."""
    folder = plugin.split(".")[-2]
    key = importlib.import_module(plugin).PLUGIN.key
    sample = Path(__file__).resolve().parents[2] / "edge_agent" / "sources" / folder / "sample.yaml"
    p = tmp_path / "agent.yaml"
    p.write_text("site: s\nagent: a\n" + sample.read_text(encoding="utf-8"), encoding="utf-8")
    cfg = load_agent_config(p)
    section = getattr(cfg, key)
    assert section if key != "mqtt" else section.subscriptions
