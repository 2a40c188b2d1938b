"""The demo end to end: `campus-twin demo` in the background, data in bound rooms, an
indicator report, a screenshot of the live floor plan, a clean stop with no stray processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from campus_twin.servers import free_port
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def _get(url: str, token: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{pid}: {cmd}")
    return found


@pytest.fixture
def demo(tmp_path: Path) -> Any:
    work = tmp_path / "demo"
    port = free_port()
    out = (tmp_path / "demo.out").open("w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "campus_twin.cli",
            "demo",
            "--workdir",
            str(work),
            "--port",
            str(port),
            "--speed",
            "60",
            "--duration",
            "240",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=REPO,
    )
    tokens: dict[str, str] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(tokens) < 2:
        assert proc.poll() is None, Path(out.name).read_text()
        text = Path(out.name).read_text()
        tokens = dict(re.findall(r"(admin|viewer) token:\s+(\S+)", text))
        time.sleep(0.5)
    assert len(tokens) == 2, "demo did not print its tokens:\n" + Path(out.name).read_text()
    yield {"proc": proc, "base": f"http://127.0.0.1:{port}", "tokens": tokens, "work": work, "out": out.name}
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_demo_serves_live_rooms_and_a_report_then_stops_cleanly(demo: dict[str, Any]) -> None:
    base, viewer, work = demo["base"], demo["tokens"]["viewer"], demo["work"]
    api = f"{base}/api/v1"
    rooms = _get(f"{api}/rooms?limit=200", viewer)["items"]
    bound = [r for r in rooms if r["devices"]]
    assert len(bound) >= 20, f"expected the demo campus's instrumented rooms, got {len(bound)}"

    # every bound room shows live values within a bounded wait (agents poll every 5 s)
    deadline = time.monotonic() + 120
    missing = {r["id"] for r in bound}
    while missing and time.monotonic() < deadline:
        for rid in sorted(missing):
            status = _get(f"{api}/rooms/{rid}/status", viewer)
            if any(v["value"] is not None and v["quality"] == "good" for v in status["values"]):
                missing.discard(rid)
        time.sleep(2)
    assert not missing, f"rooms without values after 120 s: {sorted(missing)}"

    co2 = [
        v
        for r in bound[:4]
        for v in _get(f"{api}/rooms/{r['id']}/status", viewer)["values"]
        if v["quantity"] == "co2"
    ]
    assert co2 and all(300 <= v["value"] <= 5000 for v in co2), co2

    # an indicator report from the live store, through the API and through the CLI
    campus = rooms[0]["campus"]
    ind = _get(f"{api}/campuses/{campus}/indicators?days=1", viewer)
    assert ind["indicators"], ind
    out = work / "report.json"
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    later = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "campus_twin.cli",
            "report",
            "--twin",
            str(work / "twin.yaml"),
            "--sqlite",
            str(work / "store.sqlite"),
            "--period",
            f"{day}..{later}",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report, "empty report"

    _screenshot(base, viewer, rooms)

    # clean stop: SIGTERM to the demo, which stops every child
    proc = demo["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, Path(demo["out"]).read_text()[-3000:]
    # children may take a moment to be reaped after the parent exits: wait, bounded, for none left
    try:
        wait_until(lambda: not _processes_mentioning(str(work)), 10, "every demo child gone", every=0.2)
    except AssertionError:
        stray = _processes_mentioning(str(work))
        raise AssertionError("stray processes after the demo stopped:\n" + "\n".join(stray)) from None


def _screenshot(base: str, token: str, rooms: list[dict[str, Any]]) -> None:
    """The live storey plan in headless Chromium, saved for the README (docs/img)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp(prefix="ct-demo-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,900", "--lang=zh-CN",
    ):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(base + "/")
        wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a.card"))
        storey = next(r["storey"] for r in rooms if r["number"].startswith("A-2"))
        driver.get(f"{base}/#/storey/{storey}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plan polygon.room[data-status]"))
        driver.execute_script(
            "const s=document.getElementById('colour-by'); s.value='co2'; s.dispatchEvent(new Event('change'));"
        )
        wait.until(lambda d: "二氧化碳" in d.find_element(By.ID, "legend").text)
        grey = "#c3cbd3"
        wait.until(
            lambda d: (
                sum(
                    p.get_attribute("fill") != grey
                    for p in d.find_elements(By.CSS_SELECTOR, "#plan polygon.room")
                )
                >= 4
            )
        )
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "demo-floorplan.png"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
