"""The web UI in headless Chromium: storey floor plan with coloured rooms, click → room chart."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_seed import HOT_ROOM, VIEWER_TOKEN, FixedClock, make_settings
from api_server import serve
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from api.app import create_app
from store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
GREY = "#c3cbd3"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="ct-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
        "--lang=zh-CN",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_storey_plan_coloured_click_room_shows_chart(
    browser: webdriver.Chrome, twin_dir: Path, sqlite_store: SQLiteStore
) -> None:
    app = create_app(make_settings(twin_dir), store=sqlite_store, clock=FixedClock())
    state = app.state.campus
    hot = next(p for p in state.twin.spaces.values() if p.space.room_number == HOT_ROOM)
    assert hot.storey is not None
    wait = WebDriverWait(browser, 20)
    with serve(app) as base:
        browser.get(base + "/")
        wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
        browser.find_element(By.ID, "token").send_keys(VIEWER_TOKEN)
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a.card"))
        browser.get(f"{base}/#/storey/{hot.storey.global_id}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plan polygon.room[data-status]"))
        # colour by CO2: the hot room must be red-ish, rooms with readings coloured, not grey
        browser.execute_script(
            "const s=document.getElementById('colour-by'); s.value='co2'; s.dispatchEvent(new Event('change'));"
        )
        wait.until(lambda d: "二氧化碳" in d.find_element(By.ID, "legend").text)
        polys = browser.find_elements(By.CSS_SELECTOR, "#plan polygon.room")
        fills = {p.get_attribute("data-room"): p.get_attribute("fill") for p in polys}
        assert len(fills) == len(hot.storey.spaces)
        coloured = [f for f in fills.values() if f and f != GREY]
        assert len(coloured) >= 3, fills
        hues = {gid: float(f[4:].split(",")[0]) for gid, f in fills.items() if f and f.startswith("hsl(")}
        assert hues[hot.space.global_id] < 20, fills  # red end of the ramp (≈1470 ppm)
        assert max(hues.values()) > 60, fills  # rooms at ≈700 ppm are on the green side
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "floorplan.png"))
        # click the hot room → its page with a drawn chart
        target = next(p for p in polys if p.get_attribute("data-room") == hot.space.global_id)
        browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", target)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#room-chart polyline"))
        line = browser.find_element(By.CSS_SELECTOR, "#room-chart polyline")
        assert len(line.get_attribute("points").split()) > 50  # a day of 10-min windows
        assert HOT_ROOM in browser.find_element(By.TAG_NAME, "h1").text
        assert "不达标" in browser.find_element(By.ID, "verdicts").text
        browser.save_screenshot(str(ARTIFACTS / "room.png"))
