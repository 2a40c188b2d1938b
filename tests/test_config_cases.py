"""Config regression cases (tests/cases/config/): a config file and what loading it must produce.

The loader is chosen by the file's name (`ingest.yaml`, `api.yaml`, `agent.yaml`,
`indicators.yaml`). A case with `expected-errors.txt` is refused with exactly those
`file:line:col: field …: message` lines (case folder stripped). An upgrade case with
`expected-warnings.txt` loads, warning exactly those lines (a renamed key, contract/config_renames.yaml);
`campus-twin config migrate` on a copy must then give `expected-migrated.yaml` (backup kept) and a
file that loads without a warning. `CT_UPDATE_CASES=1` rewrites the expected files from the output.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from campus_twin.cli import main
from contract.yamlio import ConfigError
from tests.support.cases import Case, case_params

UPDATE = os.environ.get("CT_UPDATE_CASES") == "1"


def _loaders() -> dict[str, Callable[[Path], Any]]:
    from api.settings import load_settings
    from edge_agent.config import load_agent_config
    from ingest.config import load_config
    from twin.indicators import load_indicators

    return {
        "ingest.yaml": load_config,
        "api.yaml": load_settings,
        "agent.yaml": load_agent_config,
        "indicators.yaml": load_indicators,
    }


def _pin(case: Case, name: str, got: str) -> None:
    if UPDATE:
        (case.dir / name).write_text(got, encoding="utf-8")
    assert got == case.text(name), case.summary


@pytest.mark.parametrize("case", case_params("config"))
def test_config_case(case: Case, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    loaders = _loaders()
    (config,) = [p for p in case.dir.iterdir() if p.name in loaders]
    if not case.has("expected-warnings.txt"):
        with pytest.raises(ConfigError) as info:
            loaders[config.name](config)
        got = sorted(line.replace(f"{case.dir}/", "") for line in str(info.value).splitlines())
        assert got == case.text("expected-errors.txt").splitlines(), case.summary
        return
    with caplog.at_level(logging.WARNING):
        loaders[config.name](config)
    warned = [
        r.getMessage().replace(f"{case.dir}/", "") for r in caplog.records if r.levelno == logging.WARNING
    ]
    _pin(case, "expected-warnings.txt", "".join(f"{w}\n" for w in warned))

    copy = tmp_path / config.name
    shutil.copy(config, copy)
    assert main(["config", "migrate", str(copy)]) == 0
    assert (tmp_path / f"{config.name}.bak").read_text(encoding="utf-8") == config.read_text(encoding="utf-8")
    _pin(case, "expected-migrated.yaml", copy.read_text(encoding="utf-8"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        loaders[config.name](copy)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [], (
        "migrated: no warning"
    )
    assert main(["config", "migrate", str(copy)]) == 0
    assert not (tmp_path / f"{config.name}.bak.1").exists(), "a second migrate has nothing to do"
