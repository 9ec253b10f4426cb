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
def published(tmp_path_factory: pytest.TempPathFactory, pack_tables: Path) -> Path:
    out = tmp_path_factory.mktemp("reports")
    result = packs.run_packs(
        None, out, "2025-03-31", "East,BSOL", jobs=2, tables_dir=pack_tables, progress=False
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


_SPINE = "document.querySelector('.at-a-glance-print figure img')"


@pytest.mark.parametrize("page", ["east.html", "bsol.html"])
def test_key_messages_then_spine_chart_above_the_fold(driver, published, page):
    """At 1366x768 the key-messages box and, under it, the spine chart start on screen."""
    metrics = {"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # the viewport
    try:
        driver.get((published / page).as_uri())
        box, spine, height = driver.execute_script(
            "const box = document.querySelector('.key-messages');"
            f"return [box.getBoundingClientRect().top, {_SPINE}.getBoundingClientRect().top,"
            " window.innerHeight];"
        )
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert height == 768 and 0 <= box < spine < 768
    items = driver.execute_script("return document.querySelectorAll('.key-messages li').length")
    assert 1 <= items <= 5


def test_spine_chart_prints_at_its_own_size(driver, published):
    """In print the spine chart is not scaled down, so its 8 pt words stay 8 pt on paper."""
    driver.set_window_size(794, 1123)  # an A4 page at 96 px per inch
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        driver.get((published / "east.html").as_uri())
        shown, natural = driver.execute_script(
            f"const i = {_SPINE}; return [i.getBoundingClientRect().width, i.naturalWidth];"
        )
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        driver.set_window_size(1280, 900)
    assert natural > 0 and shown >= 0.99 * natural


#: The printable width of the pack's A4 page (210 mm less 10 mm margins) in CSS pixels.
PRINT_WIDTH_PX = round(190 / 25.4 * 96)

#: For every chart shown in print: its printed width, its own (drawn) width and, for an
#: SVG, the smallest font size written in it (points as drawn).
_CHART_SIZES = """
return [...document.querySelectorAll('main figure img')].filter(i => i.offsetParent !== null)
  .map(i => {
    const src = i.getAttribute('src');
    const svg = src.startsWith('data:image/svg+xml') ? atob(src.split(',')[1]) : '';
    const sizes = [...svg.matchAll(/font[:-][^;"]*?([\\d.]+)px/g)].map(m => +m[1]);
    const own = svg ? i.naturalWidth : +(i.getAttribute('width') || i.naturalWidth);
    return [i.getBoundingClientRect().width, own, sizes.length ? Math.min(...sizes) : 99,
            i.alt.slice(0, 60)];
  });
"""


@pytest.mark.parametrize("page", ["east.html", "bsol.html"])
def test_every_chart_prints_at_its_own_size_with_words_of_7pt_or_more(driver, published, page):
    """In print every chart (spine charts, bars, trends, funnels, heatmaps, maps, pyramids)
    shows at its own size, so its words (at least 7 pt as drawn) are at least 7 pt on A4."""
    metrics = {"width": PRINT_WIDTH_PX, "height": 1123, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    driver.execute_cdp_cmd("Emulation.setScrollbarsHidden", {"hidden": True})  # as on paper
    try:
        driver.get((published / page).as_uri())
        charts = driver.execute_script(_CHART_SIZES)
        # Nothing wider than the page: else the browser shrinks every printed page to fit.
        width = driver.execute_script("return document.documentElement.scrollWidth")
    finally:
        driver.execute_cdp_cmd("Emulation.setScrollbarsHidden", {"hidden": False})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert width <= PRINT_WIDTH_PX
    assert len(charts) >= 20
    shrunk = [(alt, round(shown / own, 3)) for shown, own, _, alt in charts
              if own <= 0 or shown < 0.99 * own]  # fmt: skip
    assert not shrunk, shrunk
    small = [(alt, size) for _, _, size, alt in charts if size < 7.0]
    assert not small, small


def _print_to_pdf(page: Path, pdf: Path) -> None:
    import subprocess

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt install chromium)")
    subprocess.run(
        [str(CHROMIUM), *FLAGS, "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
         page.as_uri()],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip


def _pdf_pages(pdf: Path) -> list[bytes]:
    """The page objects of a PDF written by Chromium (each with its content stream)."""
    import re

    data = pdf.read_bytes()
    return re.findall(rb"/Type\s*/Page[^s]", data)


@pytest.mark.parametrize(("page", "most"), [("east.html", 30), ("bsol.html", 40)])
def test_printed_pack_fits_its_page_budget_and_no_page_is_blank(published, tmp_path, page,
                                                                most):  # fmt: skip
    pdf = tmp_path / f"{Path(page).stem}.pdf"
    _print_to_pdf(published / page, pdf)
    pages = _pdf_pages(pdf)
    assert 3 <= len(pages) <= most
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        return  # poppler-utils absent: the page count is still checked
    import subprocess

    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    sheets = text.split("\f")[: len(pages)]
    banner = "SYNTHETIC DATA: not real patients. Every figure is invented."
    blank = [i + 1 for i, s in enumerate(sheets) if len(s.replace(banner, "").split()) < 5]
    assert not blank, f"pages with (almost) no text besides the banner: {blank}"
    assert all("SYNTHETIC DATA" in sheet for sheet in sheets)  # the banner on every page
