"""Generated malformed YAML configs through every loader: only `ConfigError`, naming the file.

Each example is a valid config with a value replaced by anything, a key renamed, or the text
corrupted (a character inserted, a line cut, a tab). A loader may accept the result (some
mutations stay valid) or raise `ConfigError`; any other exception fails. Every problem starts
with `file:line:col:` — except the documented line-less cases: an empty file, a document that
is not a mapping, and YAML errors ruamel raises without a position.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.settings import load_settings
from contract.campus import CampusSpec
from contract.yamlio import ConfigError, load_model
from device_profiles.loader import LIBRARY_DIR, load_profile
from edge_agent.config import load_agent_config
from ingest.config import load_config as load_ingest_config

REPO = Path(__file__).resolve().parents[2]
WORK = Path(tempfile.mkdtemp(prefix="fuzz-configs-"))
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
AGENT = """site: sz-demo
agent: gw-A
modbus:
  - {id: A-201-th, profile: renke-rs-ws-n01, unit_id: 1, poll_interval_s: 10,
     transport: {type: tcp, host: 127.0.0.1, port: 5020}}
mqtt:
  broker: {host: 127.0.0.1, port: 1883}
  subscriptions:
    - {format: zigbee2mqtt}
upstream:
  broker: {host: 127.0.0.1, port: 1883}
  batch_size: 500
buffer: {path: buf/queue.sqlite, max_bytes: 1048576, overflow: drop_oldest}
metrics: {listen: "127.0.0.1:9108"}
"""
INGEST = """broker: {host: 127.0.0.1, port: 1883, client_id: ingest-1}
share_group: ingest
site: "+"
store: {type: sqlite, path: campus-ts.db}
quarantine: {path: quarantine.sqlite, max_records: 1000}
metrics: {listen: "127.0.0.1:9111"}
batch: {max_points: 5000, max_messages: 100, max_delay_s: 0.5}
"""
LOCATED = re.compile(r"^.+:\d+:\d+: ")
LINELESS = ("file is empty", ": YAML: ", "cannot read")


def _api_text() -> str:
    return "{}\n"


BASES: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "agent": (AGENT, load_agent_config),
    "ingest": (INGEST, load_ingest_config),
    "profile": ((LIBRARY_DIR / "renke-rs-ws-n01.yaml").read_text(encoding="utf-8"), load_profile),
    "campus": (
        (REPO / "examples" / "campus" / "demo-campus.yaml").read_text(encoding="utf-8"),
        lambda p: load_model(CampusSpec, p),
    ),
    "api": ("twin_config: twin.yaml\nstore: {type: sqlite, path: ts.db}\n", load_settings),
}
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    lines = text.splitlines()
    kind = draw(st.sampled_from(["value", "key", "insert", "cut", "tab", "indent", "garbage"]))
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    if kind == "value" and ":" in line:
        head, _, _ = line.partition(":")
        lines[i] = f"{head}: {json.dumps(draw(VALUES))}"  # JSON is YAML flow syntax
    elif kind == "key" and ":" in line:
        head, sep, tail = line.partition(":")
        lines[i] = head.rstrip() + draw(st.text(min_size=1, max_size=3)) + sep + tail
    elif kind == "insert":
        at = draw(st.integers(0, len(line)))
        lines[i] = (
            line[:at] + draw(st.sampled_from([*"{}[]:,-&*!|>'\"#%@`\t", "\x00", "ü", "  "])) + line[at:]
        )
    elif kind == "cut":
        lines[i] = line[: draw(st.integers(0, len(line)))]
    elif kind == "tab":
        lines[i] = "\t" + line
    elif kind == "indent":
        lines[i] = " " * draw(st.integers(1, 5)) + line
    else:
        return draw(st.text(max_size=60))
    return "\n".join(lines) + "\n"


def check(name: str, text: str) -> None:
    loader = BASES[name][1]
    path = WORK / f"{name}.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        loader(path)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError lists its problems"
        for problem in exc.problems:
            assert problem.startswith(str(path)), f"problem does not name the file: {problem!r}"
            assert (
                LOCATED.match(problem)
                or any(s in problem for s in LINELESS)
                or "field <root>" in problem
                or (": field " in problem and problem.startswith(f"{path}: field"))
            ), f"problem without file:line:col: {problem!r}"


def test_valid_bases_load() -> None:
    """The mutations start from configs that load (else every example would be a reject)."""
    for name in BASES:
        if name != "api":
            check(name, BASES[name][0])
            BASES[name][1](WORK / f"{name}.yaml")


@FUZZ
@given(mutated(AGENT))
def test_agent_config(text: str) -> None:
    check("agent", text)


@FUZZ
@given(mutated(INGEST))
def test_ingest_config(text: str) -> None:
    check("ingest", text)


@FUZZ
@given(mutated(BASES["profile"][0]))
def test_device_profile(text: str) -> None:
    check("profile", text)


@FUZZ
@given(mutated(BASES["campus"][0]))
def test_campus_spec(text: str) -> None:
    check("campus", text)


@FUZZ
@given(mutated(BASES["api"][0]))
def test_api_settings(text: str) -> None:
    check("api", text)
