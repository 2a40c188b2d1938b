"""The HTML report in headless Chromium: at a 1280 px screen and at A4 print width nothing runs
off the page and no cell cuts its text, missing form cells are highlighted with their reason,
and each school's 附件2 starts a printed page. Screenshots go to test-artifacts/ to look at."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from campus_twin.cli import main

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CASE = REPO / "tests" / "cases" / "indicators" / "guangxi-district-roster"

# elements right of the viewport, and cells whose content is wider than the cell
OVERFLOW_JS = """
const w = document.documentElement.clientWidth;
const out = [...document.querySelectorAll('body *')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w + 1; })
  .map(e => e.tagName + ' ' + (e.textContent || '').slice(0, 30));
const cut = [...document.querySelectorAll('td, th')].filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.textContent || '').slice(0, 30) + ' ' + e.scrollWidth + '>' + e.clientWidth);
return [document.documentElement.scrollWidth, w, out.slice(0, 10), cut.slice(0, 10)];
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
        "--no-first-run",
    ):
        opts.add_argument(arg)
    opts.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _report(tmp_path: Path) -> Path:
    out = tmp_path / "report.html"
    argv = ["report", "--roster", str(CASE / "roster.yaml"), "--inputs", str(CASE / "inputs.csv")]
    assert main([*argv, "--period", "2026-09-01..2026-12-31", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(("width", "media"), [(1280, "screen"), (718, "print")])
def test_nothing_runs_off_the_page(browser: webdriver.Chrome, tmp_path: Path, width: int, media: str) -> None:
    """718 px: an A4 page (210 mm at 96 dpi) less 12 mm margins, plus the scroll bar."""
    page = _report(tmp_path)
    browser.set_window_size(width, 1000)
    browser.get(page.as_uri())
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})
    scroll_w, w, off, cut = browser.execute_script(OVERFLOW_JS)
    assert scroll_w <= w and not off and not cut, (scroll_w, w, off, cut)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"indicator-report-{width}-{media}.png"))
    browser.execute_script("document.getElementById('form_school_qx-03').scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / f"indicator-report-form-{width}-{media}.png"))


def test_forms_are_pages_and_missing_cells_say_why(browser: webdriver.Chrome, tmp_path: Path) -> None:
    page = _report(tmp_path)
    browser.set_window_size(1280, 1000)
    browser.get(page.as_uri())
    pages = browser.execute_script("return [...document.querySelectorAll('section.page h2')].map(h => h.id)")
    assert pages == ["form_district_types", "form_school_qx-01", "form_school_qx-02", "form_school_qx-03"]
    breaks = browser.execute_script(
        "return getComputedStyle(document.querySelector('section.page')).breakBefore"
    )
    assert breaks == "page"
    # 青秀区 entered no address for its schools: the cells are red and say what to enter
    missing = browser.execute_script(
        "return [...document.querySelectorAll('#form_school_qx-01 ~ table td.miss')].map(e => e.innerText)"
    )
    assert [m.split("在填报文件中填写")[-1].strip() for m in missing] == ["address", "postcode"], missing
    assert all(m.startswith("【缺项 missing】") and "未填报" in m for m in missing), missing
