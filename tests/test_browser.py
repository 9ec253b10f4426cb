"""Open every pack in headless Chromium, run axe-core, and take screenshots.

Needs Debian's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (apt packages
``chromium`` and ``chromium-driver``) and the ``selenium`` Python package. axe-core is read
from ``$AXE_CORE_JS``, else ``node_modules/axe-core/axe.min.js`` at the repository root
(``npm install axe-core@4``), else the copy shipped by the ``axe-selenium-python`` package.
No browser or script is downloaded by the test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bsol_analytics import packs
from bsol_analytics.paths import REPO_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)


def _axe_script() -> Path | None:
    candidates = [
        os.environ.get("AXE_CORE_JS"),
        REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js",
    ]
    try:
        import axe_selenium_python

        candidates.append(
            Path(axe_selenium_python.__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
        )
    except ImportError:
        pass
    for path in candidates:
        if path and Path(path).is_file():
            return Path(path)
    return None


@pytest.fixture(scope="module")
def driver():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt install chromium)")
    if not CHROMEDRIVER.exists():
        pytest.skip("chromedriver is not installed (apt install chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    browser = webdriver.Chrome(options=options, service=service)
    browser.set_script_timeout(120)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tables = packs.write_demo_tables(
        tmp_path_factory.mktemp("t") / "t", "2025-03-31", patients=6000
    )
    out = tmp_path_factory.mktemp("reports")
    result = packs.run_packs(
        None, out, "2025-03-31", "East,BSOL", jobs=2, tables_dir=tables, progress=False
    )
    assert result.exit_code == 0
    return result.folder


def _axe(driver, script: Path) -> list[dict]:
    driver.execute_script(script.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', description: String(e),"
        " nodes: []}]));"
    )
    return list(result)


@pytest.mark.parametrize("page", ["index.html", "east.html", "bsol.html"])
def test_pack_has_no_serious_accessibility_violations(driver, published, page, tmp_path):
    script = _axe_script()
    if script is None:
        pytest.skip("axe-core not found: npm install axe-core@4 or pip install axe-selenium-python")
    driver.get((published / page).as_uri())
    assert driver.execute_script("return document.documentElement.lang") == "en-GB"
    assert driver.title
    violations = _axe(driver, script)
    bad = [v for v in violations if v.get("impact") in ("serious", "critical")]
    details = "; ".join(f"{v['id']}: {v.get('description')} ({len(v['nodes'])} nodes)" for v in bad)
    assert not bad, details
    shot = tmp_path / f"{Path(page).stem}.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_pack_makes_no_request_to_another_host(driver, published):
    driver.get((published / "east.html").as_uri())
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in urls if not u.startswith(("data:", "file:"))] == []


def test_details_open_and_show_the_data(driver, published):
    from selenium.webdriver.common.by import By

    driver.get((published / "east.html").as_uri())
    summary = driver.find_element(By.CSS_SELECTOR, "details summary")
    summary.click()
    table = driver.find_element(By.CSS_SELECTOR, "details[open] table.data")
    assert table.is_displayed()
