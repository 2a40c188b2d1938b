"""The web UI in headless Chromium at desktop (1440×900) and phone (390×844) sizes, under the
real CSP: every page renders with roll-ups, reasons for a failing and an n/a room, live values
changing without a reload, nothing wider than a phone screen, Chinese on every piece of chrome.
Screenshots of the plan, a room and the alerts page go to docs/img/."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from api.app import create_app
from api.rollup import compute as compute_rollup
from api.state import LoadedTwin
from store.base import StoredPoint
from store.sqlite import SQLiteStore
from tests.api.api_seed import HOT_ROOM, NOW_NS, STEP_NS, VIEWER_TOKEN, FixedClock, make_settings, seed_store
from tests.api.api_server import serve

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
# docs/img/ is rewritten only on request (CAMPUS_TWIN_DOCS_IMG=1), so a test run leaves the tree clean
DOCS_IMG = REPO / "docs" / "img" if os.environ.get("CAMPUS_TWIN_DOCS_IMG") else ARTIFACTS
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
CJK = re.compile(r"[\u4e00-\u9fff]")

# every element wider than the viewport (phone layout), ignoring the SVG internals
OVERFLOW_JS = """
const w = document.documentElement.clientWidth;
const bad = [...document.querySelectorAll('body *')].filter(e => !(e.ownerSVGElement))
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > w + 1 || r.left < -1); })
  .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
return [document.documentElement.scrollWidth, w, bad.slice(0, 10)];
"""
# the pages' chrome: navigation, headings, column heads, controls
CHROME_JS = """
return [...document.querySelectorAll('header a, header button, h1, h2, th, label, button, option, .stamp')]
  .filter(e => e.offsetParent !== null || e.tagName === 'OPTION').map(e => e.textContent.trim()).filter(t => t);
"""


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
        "--window-size=1440,900",
        "--lang=zh-CN",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def live_store(tmp_path: Path, loaded: LoadedTwin) -> Iterator[SQLiteStore]:
    """A store of its own: the test writes new readings into it while the pages are open."""
    store = SQLiteStore(tmp_path / "live.sqlite")
    seed_store(store, loaded.campuses[0])
    yield store
    store.close()


def text_of(d: webdriver.Chrome, css: str) -> str:
    """Text read in one script call: live pages re-render, so a found element may go stale."""
    return str(
        d.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", css)
    )


def _check_page(d: webdriver.Chrome, size: str) -> None:
    if size == "phone":
        scroll_w, w, bad = d.execute_script(OVERFLOW_JS)
        assert scroll_w <= w and not bad, (d.current_url, scroll_w, w, bad)
        header_h = d.execute_script("return document.querySelector('header').getBoundingClientRect().height")
        assert header_h <= 60, header_h  # compact: was ~190 of 844 px
    english_only = [
        t for t in d.execute_script(CHROME_JS) if not CJK.search(t) and re.search("[A-Za-z]{3}", t)
    ]
    assert not english_only, (d.current_url, english_only)
    csp = [e["message"] for e in d.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not csp, csp


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_at_desktop_and_phone_size(
    browser: webdriver.Chrome, twin_dir: Path, live_store: SQLiteStore, size: str
) -> None:
    clock = FixedClock()
    app = create_app(make_settings(twin_dir, verdict_cache_s=0), store=live_store, clock=clock)
    state = app.state.campus
    hot = next(p for p in state.twin.spaces.values() if p.space.room_number == HOT_ROOM)
    assert hot.storey is not None
    campus = hot.campus
    width, height = SIZES[size]
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"},
    )
    wait = WebDriverWait(browser, 25)
    with serve(app) as base:
        browser.get(base + "/")
        wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
        _check_page(browser, size)
        browser.find_element(By.ID, "token").send_keys(VIEWER_TOKEN)
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        # home: roll-up per campus (rooms by status, open alerts, model problems)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a.card .rollup [data-role=open-alerts]"))
        assert browser.execute_script("return document.cookie") == ""  # HttpOnly: invisible to scripts
        assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0
        expected = compute_rollup(state, campus.id).total
        failing = expected.by_status.get("non_compliant", 0)
        assert failing > 0
        wait.until(lambda d: f"不达标 {failing}" in text_of(d, "a.card"))
        home = text_of(browser, "a.card")
        assert f"进行中告警 {expected.open_alerts}" in home, home
        _check_page(browser, size)
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / f"home-{size}.png"))
        # campus: its name (not the slug) in the breadcrumb, building roll-ups
        browser.get(f"{base}/#/campus/{campus.id}")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".cards .rollup")) == len(campus.buildings))
        assert campus.name in browser.find_element(By.CSS_SELECTOR, ".crumbs").text
        assert campus.id not in browser.find_element(By.CSS_SELECTOR, ".crumbs").text
        _check_page(browser, size)
        browser.save_screenshot(str(ARTIFACTS / f"campus-{size}.png"))
        # building: storey roll-ups
        browser.get(f"{base}/#/building/{hot.building.global_id}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".cards .rollup [data-status]"))
        _check_page(browser, size)
        # storey plan: a failing room shows its reason, an n/a room its cause
        browser.get(f"{base}/#/storey/{hot.storey.global_id}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plan polygon.room[data-status]"))
        polys = browser.find_elements(By.CSS_SELECTOR, "#plan polygon.room")
        statuses = {p.get_attribute("data-room"): p.get_attribute("data-status") for p in polys}
        assert statuses[hot.space.global_id] == "non_compliant", statuses
        browser.execute_script(
            "document.querySelector(`#plan polygon[data-room='${arguments[0]}']`)"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true}))",
            hot.space.global_id,
        )
        wait.until(lambda d: "不达标" in text_of(d, "#room-info"))
        assert HOT_ROOM in text_of(browser, "#room-info")
        wait.until(lambda d: text_of(d, "#room-info-reason").strip() not in ("", "…"))
        na = next((gid for gid, s in statuses.items() if s != "non_compliant" and s != "compliant"), None)
        if na is None:  # this storey has no n/a room: go to one that has (from the roll-up)
            rollup = compute_rollup(state, campus.id)
            na_storey = next(
                sid
                for sid, r in rollup.storeys.items()
                if set(r.by_status) - {"ok", "fail", "compliant", "non_compliant"}
            )
            browser.get(f"{base}/#/storey/{na_storey}")
            first = state.twin.storeys[na_storey][2].spaces[0].global_id
            wait.until(
                lambda d: d.find_elements(By.CSS_SELECTOR, f"#plan polygon[data-room='{first}'][data-status]")
            )
            statuses = {
                p.get_attribute("data-room"): p.get_attribute("data-status")
                for p in browser.find_elements(By.CSS_SELECTOR, "#plan polygon.room")
            }
            na = next(gid for gid, s in statuses.items() if s not in ("non_compliant", "compliant"))
        browser.execute_script(
            "document.querySelector(`#plan polygon[data-room='${arguments[0]}']`)"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true}))",
            na,
        )
        wait.until(lambda d: d.find_elements(By.ID, "room-info-reason"))
        assert CJK.search(text_of(browser, "#room-info-reason"))
        # colour by CO2: the ramp carries the 1000 ppm limit mark, values carry their unit
        browser.get(f"{base}/#/storey/{hot.storey.global_id}")
        hot_poly = f"#plan polygon[data-room='{hot.space.global_id}'][data-status]"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, hot_poly))
        browser.execute_script(
            "const s=document.getElementById('colour-by'); s.value='co2'; s.dispatchEvent(new Event('change'));"
        )
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#legend .limit-mark"))
        assert "1,000 ppm" in browser.find_element(By.ID, "legend-limit").text
        assert any("ppm" in t.text for t in browser.find_elements(By.CSS_SELECTOR, "#plan text.val"))
        _check_page(browser, size)
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(DOCS_IMG / f"plan-{size}.png"))
        if size == "desktop":
            browser.save_screenshot(str(DOCS_IMG / "floorplan.png"))
        browser.execute_script(
            "const s=document.getElementById('colour-by'); s.value=''; s.dispatchEvent(new Event('change'));"
        )
        # room: chart with limit line and a legend; a new reading shows without reload
        browser.get(f"{base}/#/room/{hot.space.global_id}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#room-chart polyline"))
        assert browser.find_elements(By.CSS_SELECTOR, "#room-chart line.limit")
        assert browser.find_elements(By.CSS_SELECTOR, "#chart-legend .legend-item")
        assert "不达标" in text_of(browser, "#verdicts")
        assert text_of(browser, "#room-reason").strip()
        before = text_of(browser, ".value[data-quantity=co2]")
        clock.ns = NOW_NS + STEP_NS
        dev = next(
            k
            for k in live_store.series()
            if k.tags.get("room") == hot.space.global_id and k.quantity == "co2"
        )
        live_store.write(
            [
                StoredPoint(
                    key=dev.key,
                    ts=clock.ns,
                    value=2345.0,
                    quantity="co2",
                    unit="ppm",
                    agent=None,
                    tags=dict(dev.tags),
                )
            ]
        )
        wait.until(lambda d: text_of(d, ".value[data-quantity=co2]") == "2,345 ppm")
        assert before != "2,345 ppm"
        _check_page(browser, size)
        browser.save_screenshot(str(DOCS_IMG / f"room-{size}.png"))
        # alerts: device and point, worst value updating live
        browser.get(f"{base}/#/alerts")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts tbody tr"))
        text = text_of(browser, "#alerts")
        assert HOT_ROOM in text and dev.key.device in text, text
        clock.ns = NOW_NS + 2 * STEP_NS
        live_store.write(
            [
                StoredPoint(
                    key=dev.key,
                    ts=clock.ns - 10 * 10**9,  # inside the last 5-min window before 'now'
                    value=3456.0,
                    quantity="co2",
                    unit="ppm",
                    agent=None,
                    tags=dict(dev.tags),
                )
            ]
        )
        # the open CO2 episode's worst value (and the clock) moved: the page shows it unprompted
        wait.until(lambda d: text_of(d, "#alerts") not in ("", text))
        _check_page(browser, size)
        browser.save_screenshot(str(DOCS_IMG / f"alerts-{size}.png"))
        # devices and indicators
        browser.get(f"{base}/#/health")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#devices tbody tr"))
        _check_page(browser, size)
        browser.save_screenshot(str(ARTIFACTS / f"devices-{size}.png"))
        browser.get(f"{base}/#/indicators/{campus.id}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#indicators tbody tr"), "indicators")
        _check_page(browser, size)
        browser.save_screenshot(str(ARTIFACTS / f"indicators-{size}.png"))
        # sign-out ends the session on the server
        browser.find_element(By.ID, "logout").click()
        wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
        browser.refresh()
        wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
