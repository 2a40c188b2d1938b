"""Binding a sensor to its room in the web app (issue 32), in headless Chromium at 1366×768 and
390×844 under the real CSP: an admin sees a device that reports without a room, picks its room
on the floor plan (desktop: by keyboard; phone: by tapping) and the plan shows the sensor there,
with an audit line (who, when); the binding file, the IFC copy (twin/writeback through the API's
`ifc_export`) and `twin export` carry it; a viewer gets no controls and a 403 from the API."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import ifcopenshell
import ifcopenshell.util.element as ue
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from api.app import create_app
from api.state import LoadedTwin
from contract.telemetry import SeriesKey
from store.base import StoredPoint
from store.sqlite import SQLiteStore
from tests.api.api_seed import ADMIN_TOKEN, NOW_NS, VIEWER_TOKEN, FixedClock, make_settings, seed_store
from tests.api.api_server import serve
from tests.api.test_browser import ARTIFACTS, _check_page, browser, text_of

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the shared Chromium fixture

SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
SITE = "sz-demo-school"
NEW = "B-104-air-new"  # installed in the library, reporting, bound to nothing yet
LIBRARY = "B-104"


@pytest.fixture
def twin_copy(tmp_path: Path, twin_dir: Path) -> Path:
    d = tmp_path / "twin"  # rebinding edits the binding file: never the shared one
    shutil.copytree(twin_dir, d, ignore=shutil.ignore_patterns("*.sqlite*", "ifc"))
    return d


@pytest.fixture
def store(tmp_path: Path, loaded: LoadedTwin) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "live.sqlite")
    seed_store(s, loaded.campuses[0], hours=2)
    s.write(
        [
            StoredPoint(
                key=SeriesKey(SITE, NEW, q),
                ts=NOW_NS - i * 300 * 10**9,
                value=v,
                quantity=q,
                unit=u,
                agent="gw-B",
                tags={},
            )
            for q, v, u in (("co2", 760.0, "ppm"), ("temperature", 21.0, "°C"))
            for i in range(24)
        ]
    )
    yield s
    s.close()


def _sign_in(d: webdriver.Chrome, wait: WebDriverWait, token: str, base: str) -> None:
    d.get(base + "/#/")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a.card"))


@pytest.mark.parametrize("size", list(SIZES))
def test_admin_binds_on_the_plan_viewer_cannot(
    browser: webdriver.Chrome, twin_copy: Path, store: SQLiteStore, tmp_path: Path, size: str
) -> None:
    out = tmp_path / "ifc-out"
    app = create_app(
        make_settings(twin_copy, verdict_cache_s=0, ifc_export=out), store=store, clock=FixedClock()
    )
    state = app.state.campus
    lib = next(p for p in state.twin.spaces.values() if p.space.room_number == LIBRARY)
    assert lib.storey is not None
    width, height = SIZES[size]
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"},
    )
    wait = WebDriverWait(browser, 25)
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(app) as base:
        _sign_in(browser, wait, ADMIN_TOKEN, base)
        # the admin's navigation leads to the binding page: the device waits for a room, the
        # library is listed as a room without a sensor
        nav = browser.find_element(By.ID, "nav-bind")
        assert nav.is_displayed()
        nav.click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#unbound tr[data-device='{NEW}']"))
        assert "co2, temperature" in text_of(browser, f"#unbound tr[data-device='{NEW}']")
        assert LIBRARY in text_of(browser, "#rooms-without")
        assert "尚无绑定记录" in text_of(browser, "#audit-box")
        _check_page(browser, size)
        browser.save_screenshot(str(ARTIFACTS / f"bind-{size}.png"))
        # from the device's row to the plan; the library is chosen there
        plan_link = browser.find_element(By.CSS_SELECTOR, f"#unbound tr[data-device='{NEW}'] a.on-plan")
        assert lib.storey.global_id in unquote(plan_link.get_attribute("href") or "")
        plan_link.click()
        poly = f"#plan polygon[data-room='{lib.space.global_id}'][data-status]"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, poly))
        assert browser.find_element(By.CSS_SELECTOR, poly).get_attribute("data-status") == "no_sensor"
        assert NEW in text_of(browser, "#bind-banner")
        if size == "desktop":  # keyboard only: focus the room, Enter, the device, the button
            browser.execute_script("document.querySelector(arguments[0]).focus()", poly)
            browser.switch_to.active_element.send_keys(Keys.ENTER)
            wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "bind-device")
            assert (
                Select(browser.find_element(By.ID, "bind-device")).first_selected_option.get_attribute(
                    "value"
                )
                == f"{SITE}/{NEW}"
            )
            browser.switch_to.active_element.send_keys(Keys.TAB)
            assert browser.switch_to.active_element.get_attribute("id") == "bind-here"
            browser.switch_to.active_element.send_keys(Keys.ENTER)
        else:  # a tap on the room, then the bind button
            browser.find_element(By.CSS_SELECTOR, poly).click()
            wait.until(lambda d: d.find_elements(By.ID, "bind-here"))
            browser.find_element(By.ID, "bind-here").click()
        # the plan shows the sensor in its room, the room is no longer sensorless, the audit line
        mark = f"#plan .sensor-mark[data-room='{lib.space.global_id}'][data-devices~='{NEW}']"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, mark))
        wait.until(lambda d: "ops" in text_of(d, "#bind-result"))
        line = text_of(browser, "#bind-result")
        assert NEW in line and LIBRARY in line and "2026-11-23 10:20" in line, line
        assert NEW in text_of(browser, "#room-info-sensors")
        wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, poly).get_attribute("data-status") != "no_sensor"
        )
        _check_page(browser, size)
        browser.save_screenshot(str(ARTIFACTS / f"bind-plan-{size}.png"))
        # the binding page: nothing left unbound, the audit names who and when
        browser.get(f"{base}/#/bind")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audit tbody tr"))
        audit = text_of(browser, "#audit")
        assert NEW in audit and "ops" in audit and "2026-11-23 10:20" in audit and LIBRARY in audit
        assert "没有未绑定的设备" in text_of(browser, "#unbound-box")
        assert LIBRARY not in text_of(browser, "#rooms-without-box")
        _check_page(browser, size)
        browser.save_screenshot(str(ARTIFACTS / f"bind-done-{size}.png"))
        # written back: the binding file (who/when as its comment) and the IFC copy
        text = (twin_copy / "bindings.yaml").read_text(encoding="utf-8")
        assert f"device: {NEW}" in text and f"space: {lib.space.ifc_id}" in text and "bound by ops" in text
        f = ifcopenshell.open(str(out / SITE / Path(lib.building.source_file).name))
        sensors = [s for s in f.by_type("IfcSensor") if s.Tag == NEW]
        assert {ue.get_container(s).GlobalId for s in sensors} == {lib.space.ifc_id}
        assert {ue.get_psets(s)["CampusTwin_Sensor"]["Point"] for s in sensors} == {"co2", "temperature"}
        # a viewer: no binding link, no controls on the plan, refused by the API
        browser.find_element(By.ID, "logout").click()
        wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
        _sign_in(browser, wait, VIEWER_TOKEN, base)
        assert not browser.find_element(By.ID, "nav-bind").is_displayed()
        browser.get(f"{base}/#/storey/{lib.storey.global_id}")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, poly))
        browser.execute_script(
            "document.querySelector(arguments[0]).dispatchEvent(new MouseEvent('click', {bubbles: true}))",
            poly,
        )
        wait.until(lambda d: d.find_elements(By.ID, "open-room"))
        assert not browser.find_elements(By.ID, "bind-here")
        assert not browser.find_elements(By.ID, "bind-device")
        assert browser.find_elements(By.CSS_SELECTOR, mark)  # viewers see where sensors are
        browser.get(f"{base}/#/bind")
        wait.until(lambda d: d.find_elements(By.ID, "bind-refused"))
        statuses = browser.execute_async_script(
            """const done = arguments[arguments.length - 1];
            const s = await (await fetch('/api/v1/session')).json();
            const put = await fetch('/api/v1/admin/bindings/sz-demo-school/' + arguments[0], {method: 'PUT',
              headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf}, body: '{"room": "B-204"}'});
            const list = await fetch('/api/v1/admin/devices/unbound');
            done([put.status, list.status]);""",
            NEW,
        )
        assert statuses == [403, 403]
        _check_page(browser, size)
    assert "B-204" not in (twin_copy / "bindings.yaml").read_text(encoding="utf-8")
