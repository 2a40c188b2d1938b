"""Config regression cases (tests/cases/config/): a config file and the errors it must produce.

The loader is chosen by the file's name (`ingest.yaml`, `api.yaml`, `agent.yaml`,
`indicators.yaml`); the expected
errors are the `file:line:col: field …: message` lines, with the case folder stripped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contract.yamlio import ConfigError
from tests.support.cases import Case, case_params


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


@pytest.mark.parametrize("case", case_params("config"))
def test_config_case(case: Case) -> None:
    loaders = _loaders()
    (config,) = [p for p in case.dir.iterdir() if p.name in loaders]
    with pytest.raises(ConfigError) as info:
        loaders[config.name](config)
    got = sorted(line.replace(f"{case.dir}/", "") for line in str(info.value).splitlines())
    assert got == case.text("expected-errors.txt").splitlines(), case.summary
