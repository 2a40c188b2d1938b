"""`campus-twin config migrate` and the removed-command alias: upgrades never strand a user.

The rename table (contract/config_renames.yaml) is applied to the previous release's shipped
configs (taken from git history, kept here verbatim); each change is made on the text, so
comments and layout stay, and the result loads without a warning. `agent quarantine` (removed
in 825c0d6) still answers, naming `quarantine show --agent`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from campus_twin.cli import main
from campus_twin.config_migrate import apply_text_edits
from contract.config_renames import TextEdit, apply_renames, renames
from contract.yamlio import loads_yaml

# examples/production/ingest.yaml and api.yaml as the previous release shipped them (9110bcf)
OLD_INGEST = """# ingest on the district server
broker: {host: 127.0.0.1, port: 1883, client_id: ingest-1}
store: {type: sqlite, path: ts.db}
state_db: /var/lib/campus-twin/ingest-state.sqlite   # agent health (gone)
metrics: {host: 127.0.0.1, port: 9109}
"""
OLD_API = """twin_config: twin.yaml
store: {type: sqlite, path: ts.db}
agent_health:
  kind: mqtt      # the district broker
  host: iot.district.example
host: 127.0.0.1
port: 8000        # behind nginx
"""


def test_every_row_of_the_table_names_its_release_and_a_new_key_or_a_reason() -> None:
    for row in renames().renames:
        assert row.since and (row.new is not None or row.note), row


def test_old_ingest_and_api_keys_become_the_current_ones_on_the_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = tmp_path / "api.yaml"
    api.write_text(OLD_API, encoding="utf-8")
    assert main(["config", "migrate", str(api)]) == 0
    assert api.read_text(encoding="utf-8") == OLD_API.replace("  kind: mqtt", "  type: mqtt").replace(
        "host: 127.0.0.1\nport: 8000        # behind nginx\n", 'listen: "127.0.0.1:8000"\n'
    )
    out = capsys.readouterr().out
    assert f"{api}:4:3: agent_health.kind → agent_health.type" in out
    assert "original kept as" in out and (tmp_path / "api.yaml.bak").read_text(encoding="utf-8") == OLD_API
    assert "comments NOT kept (1)" in out and "# behind nginx" in out  # the removed line's comment is named

    ingest = tmp_path / "ingest.yaml"
    ingest.write_text(OLD_INGEST, encoding="utf-8")
    main(["config", "migrate", str(ingest)])
    assert ingest.read_text(encoding="utf-8") == (
        "# ingest on the district server\n"
        "broker: {host: 127.0.0.1, port: 1883, client_id: ingest-1}\n"
        "store: {type: sqlite, path: ts.db}\n"
        'metrics: {listen: "127.0.0.1:9109"}\n'
    )


def test_a_dry_run_writes_nothing_and_an_unknown_file_is_refused(tmp_path: Path) -> None:
    api = tmp_path / "api.yaml"
    api.write_text(OLD_API, encoding="utf-8")
    assert main(["config", "migrate", str(api), "--dry-run"]) == 0
    assert api.read_text(encoding="utf-8") == OLD_API and not (tmp_path / "api.yaml.bak").exists()
    other = tmp_path / "x.yaml"
    other.write_text("a: 1\n", encoding="utf-8")
    assert main(["config", "migrate", str(other)]) == 2


@pytest.mark.parametrize(
    ("text", "edit", "expected"),
    [
        ("m: {a: 1, port: 2, b: 3}\n", TextEdit(0, 10, "port", None), "m: {a: 1, b: 3}\n"),
        ("m: {a: 1, port: 2}\n", TextEdit(0, 10, "port", None), "m: {a: 1}\n"),
        ("m:\n  a: 1\n  port: 2\n", TextEdit(2, 2, "port", None), "m:\n  a: 1\n"),
        ("t: {kind: tcp}\n", TextEdit(0, 4, "kind", "type"), "t: {type: tcp}\n"),
        ("t: {kind: tcp}\n", TextEdit(0, 5, "kind", "type"), None),  # not at its position: refused
    ],
)
def test_text_edits(text: str, edit: TextEdit, expected: str | None) -> None:
    assert apply_text_edits(text, [edit]) == expected


def test_both_spellings_keep_the_new_key() -> None:
    doc = loads_yaml(
        "site: s\nagent: a\nmodbus:\n  - {id: x, profile: p, transport: {kind: tcp, type: rtu}}\n"
    )
    (dep,) = apply_renames("agent", doc, "agent.yaml")
    assert dict(doc["modbus"][0]["transport"]) == {"type": "rtu"}
    assert dep.old == "modbus[0].transport.kind" and dep.where == "agent.yaml:4:37"


def test_agent_quarantine_is_an_alias_naming_the_new_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"site: s\nagent: a\nbuffer: {{path: {tmp_path / 'q.sqlite'}}}\n", encoding="utf-8")
    assert main(["agent", "quarantine", str(cfg), "--json"]) == 0
    got = capsys.readouterr()
    assert f"use `campus-twin quarantine show --agent {cfg} --json`" in got.err and "deprecated" in got.err
    assert main(["quarantine", "show", "--agent", str(cfg), "--json"]) == 0
    assert json.loads(got.out) == json.loads(capsys.readouterr().out)


def test_ingest_quarantine_is_an_alias_of_quarantine_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text("store: {type: sqlite, path: ts.db}\nquarantine: {path: q.sqlite}\n", encoding="utf-8")
    assert main(["ingest", "quarantine", str(cfg), "--json"]) == 0
    got = capsys.readouterr()
    assert f"use `campus-twin quarantine count --ingest {cfg} --json`" in got.err
    assert main(["quarantine", "count", "--ingest", str(cfg), "--json"]) == 0
    assert json.loads(got.out) == json.loads(capsys.readouterr().out)
