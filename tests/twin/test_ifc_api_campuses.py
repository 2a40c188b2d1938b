"""`campus-twin api serve` over a district whose IFC files include every container fault the
field produced (tests/cases/ifc): a zip without a model, a model truncated inside a zip, a
GlobalId used twice in one file, a file that crashes the IFC library natively (a stand-in that
kills the reading child with SIGSEGV), and one model registered for two campuses. The server
starts, each bad file is one listed problem, and every good file and campus is served in full."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from campus_twin.servers import ManagedServer
from tests.twin.ifc_variants import CASES, SHARED_IFC, load_case, materialise
from twin.ifc_loader import load_ifc
from twin.isolate import CRASH_ENV

V1 = "/api/v1"
ADMIN = "admin-token-district-0123456789abcdef"
GOOD = SHARED_IFC / "AC20-FZK-Haus.ifc"
BAD_CASES = ["zip-without-ifc", "zip-truncated", "native-crash"]


class ApiProcess(ManagedServer):
    config: Path = Path()

    def _cmd(self) -> list[str]:
        listen = f"{self.host}:{self.port}"
        return [sys.executable, "-m", "campus_twin.cli", "api", "serve", str(self.config), "--listen", listen]

    def _ready(self) -> None:
        self._wait_http("campus-twin api", f"{V1}/health", 200, timeout=180)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
def district(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ApiProcess, dict[str, Path]]]:
    bad = {name: materialise(CASES / name, tmp_path) for name in BAD_CASES}
    dup = materialise(CASES / "duplicated-global-id", tmp_path)
    shared = load_case(CASES / "two-campuses-one-model")["campus_set"]
    lines = [
        "campuses:",
        f"  - {{id: mixed, name: 混合, ifc: ['{GOOD}', '{dup}', {', '.join(repr(str(p)) for p in bad.values())}]}}",
    ]
    lines += [
        f"  - {{id: {cid}, name: {cid}, ifc: [{', '.join(repr(str(SHARED_IFC / f)) for f in files)}]}}"
        for cid, files in shared.items()
    ]
    (tmp_path / "twin.yaml").write_text(
        "\n".join(lines) + f"\ncache_dir: {tmp_path / 'cache'}\n", encoding="utf-8"
    )
    (tmp_path / "tokens.yaml").write_text(
        f"tokens:\n  - {{name: ops, role: admin, sha256: {hashlib.sha256(ADMIN.encode()).hexdigest()}}}\n",
        encoding="utf-8",
    )
    cfg = tmp_path / "api.yaml"
    cfg.write_text(
        f"twin_config: {tmp_path / 'twin.yaml'}\n"
        f"store: {{type: sqlite, path: {tmp_path / 'store.sqlite'}}}\n"
        "tokens: {file: tokens.yaml, env: null}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(CRASH_ENV, str(bad["native-crash"]))  # the server's reading child dies on it
    proc = ApiProcess(tmp_path / "api")
    proc.config = cfg
    with proc:
        yield proc, {**bad, "duplicated-global-id": dup}


def _rooms_of(c: httpx.Client, campus: str) -> list[dict[str, object]]:
    r = c.get(f"{V1}/rooms", params={"campus": campus, "limit": 1000})
    assert r.status_code == 200, r.text
    body = r.json()
    return list(body["items"] if isinstance(body, dict) else body)


@pytest.mark.integration
def test_bad_containers_are_listed_and_every_good_file_and_campus_is_served(
    district: tuple[ApiProcess, dict[str, Path]],
) -> None:
    api, files = district
    with httpx.Client(base_url=api.url, timeout=60, headers={"Authorization": f"Bearer {ADMIN}"}) as c:
        first = c.get(f"{V1}/health").json()
        reload = c.post(f"{V1}/admin/reload")  # warm now: the plan cache holds the good files
        assert reload.status_code == 200, reload.text
        kinds = {p["file"]: p["kind"] for p in reload.json()["problems"]}
        want = {str(files[name]): load_case(CASES / name)["expect"]["kind"] for name in BAD_CASES}
        assert {f: k for f, k in kinds.items() if f in want} == want
        assert "SIGSEGV" in next(p["message"] for p in reload.json()["problems"] if p["kind"] == "crashed")

        expect = load_case(CASES / "two-campuses-one-model")["expect"]
        campuses = {x["id"]: x for x in c.get(f"{V1}/campuses").json()["items"]}
        for cid, n in expect["rooms"].items():
            assert campuses[cid]["rooms"] == n
            rooms = _rooms_of(c, cid)
            assert len(rooms) == n and len({r["id"] for r in rooms}) == n
            storeys = c.get(f"{V1}/storeys", params={"campus": cid}).json()["items"]
            assert len(storeys) == expect["storeys"][cid]
            one = c.get(f"{V1}/rooms/{rooms[0]['id']}").json()
            assert one["campus"] == cid  # the id names this campus's room, not the other's
        mixed = _rooms_of(c, "mixed")
        # FZK-Haus (7 rooms), the file with a duplicated id (3 spaces, 2 ids) and what the truncated
        # zip member holds (loaded in part, behind its problem) are served
        partial = load_ifc(files["zip-truncated"], "x")
        assert len(mixed) == 7 + 2 + sum(len(b.all_spaces()) for b in partial.buildings)
        assert first["rooms"] == reload.json()["rooms"] == sum(expect["rooms"].values()) + len(mixed)
        assert first["campuses"] == 3


@pytest.mark.integration
def test_a_native_crash_in_the_reading_child_is_the_files_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands read heavy files in a child too: the loader and the plans answer a child killed
    by SIGSEGV with a `crashed` problem, and this process goes on."""
    from twin.floorplan import floor_plans
    from twin.ifc_open import IfcFileError

    crash = materialise(CASES / "native-crash", tmp_path)
    monkeypatch.setenv(CRASH_ENV, str(crash))
    lf = load_ifc(crash, "x", isolate=True)
    assert [p.kind for p in lf.problems] == ["crashed"] and "SIGSEGV" in lf.problems[0].message
    with pytest.raises(IfcFileError) as exc:
        floor_plans(crash, tmp_path / "cache", isolate=True)
    assert exc.value.problem.kind == "crashed"
    good = load_ifc(GOOD, "x", isolate=True)  # the same path through the child, answered whole
    assert sum(len(b.all_spaces()) for b in good.buildings) == 7 and not [p for p in good.problems if p.kind]
