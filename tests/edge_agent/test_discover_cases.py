"""Register dumps of real situations (tests/cases/discover/<case>/answers.yaml: what a unit
answered to every fingerprint read of the library) → the verdict (expected.json). Regenerate
after a deliberate change of a fingerprint with CT_UPDATE_CASES=1 and review the diff."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from device_profiles.loader import load_library
from device_profiles.schema import Table
from edge_agent.discover.fingerprint import Answer, Observation, verdict
from tests.support.cases import Case, case_params


def observation(doc: dict[str, Any]) -> Observation:
    obs = Observation(int(doc["unit_id"]), doc.get("baudrate"))
    if doc.get("device_id"):
        obs.device_id = {int(k): str(v) for k, v in doc["device_id"].items()}
        obs.device_id_status = "answered"
    else:
        obs.device_id_status = "exception 1"
    obs.server_id_status = "exception 1"
    for r in doc["reads"]:
        key = (Table(r["table"]), int(r["address"]), int(r["count"]))
        obs.reads[key] = (
            Answer(words=tuple(r["words"])) if "words" in r else Answer(exception=int(r["exception"]))
        )
    return obs


@pytest.mark.parametrize("case", case_params("discover"))
def test_discover_case(case: Case) -> None:
    v = verdict(load_library(), observation(case.yaml("answers.yaml")))
    got = {
        "status": v.status,
        "profile": v.profile,
        "consistent": [c.profile for c in v.candidates if not c.contradicted],
        "tell_apart": v.tell_apart,
        "answered": v.answered,
    }
    if os.environ.get("CT_UPDATE_CASES") == "1":
        (case.dir / "expected.json").write_text(
            json.dumps(got, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    assert got == case.json("expected.json"), case.summary
