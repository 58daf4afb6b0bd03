"""``report.html`` in a real browser (headless Chromium), in English and Dutch.

Every figure must be rendered with a non-zero size, the console must stay free
of errors and the managers' summary must be there. On a desktop window
(1280 px) and a phone (390 px, emulated with Chromium's device metrics) the
page must never scroll sideways (a wide table scrolls inside its own box),
every ``<svg>`` and ``<img>`` must have a text alternative, every ``<table>`` a
caption, and the smallest text of every figure must show at 9 CSS pixels or
more. A full-page screenshot of each report at each width is kept under
``reports/screenshots/`` (printed with ``-s``, and listed in the test's
report on failure).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them): skipped without them, except in CI (``CI`` set), where that fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cdanalytics.i18n import label
from cdanalytics.report import build_report

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = REPO / "reports" / "screenshots"
LANGS = ("en", "nl")


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    missing = _missing()
    if missing and os.environ.get("CI"):
        pytest.fail(f"browser test must run in CI: {missing}")
    if missing:
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    browser = webdriver.Chrome(service=Service(executable_path=path), options=options)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def reports(tmp_path_factory, sample_report) -> dict[str, Path]:
    """The sample report in each language: English is the session's (conftest.py)."""
    out = tmp_path_factory.mktemp("browser")
    built = {"en": sample_report[2]}
    for lang in LANGS:
        if lang not in built:
            built[lang] = build_report(SAMPLE, out / lang, lang=lang).out
    return built


@pytest.fixture(scope="module")
def pages(driver, reports) -> dict[str, dict]:
    """Each report opened in Chromium: what the page shows, its console and a screenshot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen = {}
    for lang, folder in reports.items():
        driver.get_log("browser")  # start with an empty console log
        driver.get((folder / "report.html").as_uri())
        state = driver.execute_script(
            """
            const box = el => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
            return {
              ready: document.readyState,
              lang: document.documentElement.lang,
              figures: Array.from(document.querySelectorAll('div.figure')).map(div => {
                const svg = div.querySelector('svg');
                return {id: div.id, size: svg ? box(svg) : [0, 0],
                        shapes: svg ? svg.querySelectorAll('path, use, rect').length : 0};
              }),
              summary: Array.from(document.querySelectorAll('#summary li')).map(li => li.innerText),
              heading: (document.querySelector('#summary h2') || {}).innerText,
              first_section: (document.querySelector('section') || {}).id,
              height: document.documentElement.scrollHeight,
            };
            """
        )
        state["console"] = driver.get_log("browser")
        driver.set_window_size(1280, min(state["height"], 16000))
        shot = SCREENSHOTS / f"report_{lang}.png"
        driver.save_screenshot(str(shot))
        driver.set_window_size(1280, 1000)
        print(f"screenshot of the {lang} report: {shot}")
        state["screenshot"] = shot
        seen[lang] = state
    return seen


@pytest.mark.parametrize("lang", LANGS)
def test_page_loads_in_its_language(pages, lang):
    assert pages[lang]["ready"] == "complete"
    assert pages[lang]["lang"] == lang


@pytest.mark.parametrize("lang", LANGS)
def test_every_figure_is_rendered_with_a_size(pages, reports, lang):
    figures = pages[lang]["figures"]
    expected = {f"figure-{p.stem}" for p in (reports[lang] / "figures").glob("*.svg")}
    assert {f["id"] for f in figures} == expected
    assert len(figures) >= 8
    for figure in figures:
        width, height = figure["size"]
        assert width > 50 and height > 50, figure
        assert figure["shapes"] > 10, figure  # something is drawn in it


@pytest.mark.parametrize("lang", LANGS)
def test_console_has_no_errors(pages, lang):
    errors = [entry for entry in pages[lang]["console"] if entry["level"] == "SEVERE"]
    assert errors == []


@pytest.mark.parametrize("lang", LANGS)
def test_summary_for_managers_comes_first_with_the_headlines(pages, lang):
    assert pages[lang]["first_section"] == "summary"
    assert pages[lang]["heading"] == label("summary", lang)
    assert len(pages[lang]["summary"]) >= 3


def test_dutch_report_reads_in_dutch(pages):
    assert pages["nl"]["heading"] == "Samenvatting voor managers"
    assert pages["en"]["heading"] == "Summary for managers"
    assert any("van elke 100" in sentence for sentence in pages["nl"]["summary"])


@pytest.mark.parametrize("lang", LANGS)
def test_a_screenshot_is_kept(pages, lang):
    shot = pages[lang]["screenshot"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000


# ------------------------------------------------------------ any screen: 1280 px and 390 px

WIDTHS = (1280, 390)
#: Smallest text a figure may show, in CSS pixels.
LEGIBLE_PX = 9.0

LAYOUT = """
const alt = el => {
  if (el.tagName.toLowerCase() === 'img') return (el.getAttribute('alt') || '').trim();
  const title = el.querySelector(':scope > title');
  return ((el.getAttribute('aria-label') || '') || (title ? title.textContent : '')).trim();
};
return {
  inner: window.innerWidth,
  scroll: document.documentElement.scrollWidth,
  body_scroll: document.body.scrollWidth,
  images: Array.from(document.querySelectorAll('svg, img')).map(el => ({
    id: (el.closest('[id]') || {}).id, alt: alt(el),
    role: el.getAttribute('role'),
  })),
  tables: Array.from(document.querySelectorAll('table')).map(t => ({
    id: t.id, caption: t.caption ? t.caption.textContent.trim() : '',
    width: t.getBoundingClientRect().width,
    box: t.parentElement.classList.contains('table-scroll') ? t.parentElement.clientWidth : null,
    box_scroll: t.parentElement.scrollWidth,
  })),
  figures: Array.from(document.querySelectorAll('.figure-scroll svg')).map(svg => ({
    id: svg.closest('.figure').id,
    rendered: svg.getBoundingClientRect().width,
    viewbox: svg.viewBox.baseVal.width,
    font_pt: parseFloat(svg.parentElement.dataset.fontPt),
  })),
  height: document.documentElement.scrollHeight,
};
"""


@pytest.fixture(scope="module")
def layouts(driver, reports) -> dict[tuple[str, int], dict]:
    """Each report at each width: its layout, console and a full-page screenshot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen = {}
    try:
        for lang, folder in reports.items():
            for width in WIDTHS:
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
                )
                driver.get_log("browser")
                driver.get((folder / "report.html").as_uri())
                state = driver.execute_script(LAYOUT)
                state["console"] = driver.get_log("browser")
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride",
                    {
                        "width": width,
                        "height": min(state["height"], 16000),
                        "deviceScaleFactor": 1,
                        "mobile": width < 600,
                    },
                )
                shot = SCREENSHOTS / f"report_{lang}_{width}px.png"
                driver.save_screenshot(str(shot))
                print(f"screenshot of the {lang} report at {width} px: {shot}")
                state["screenshot"] = shot
                seen[lang, width] = state
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return seen


CASES = [(lang, width) for lang in LANGS for width in WIDTHS]


@pytest.mark.parametrize(("lang", "width"), CASES)
def test_the_page_never_scrolls_sideways(layouts, lang, width):
    state = layouts[lang, width]
    assert state["inner"] == width
    assert state["scroll"] <= state["inner"], state["scroll"]
    assert state["body_scroll"] <= state["inner"]


@pytest.mark.parametrize(("lang", "width"), CASES)
def test_a_wide_table_scrolls_inside_its_own_box(layouts, lang, width):
    tables = {t["id"]: t for t in layouts[lang, width]["tables"]}
    assert all(t["box"] is not None for t in tables.values())  # every table is in a box
    change = tables["table-change"]  # the pre/post table: 19 columns
    assert change["width"] > change["box"]  # wider than the page ...
    assert change["box_scroll"] > change["box"]  # ... so its box scrolls


@pytest.mark.parametrize(("lang", "width"), CASES)
def test_every_svg_and_img_has_a_text_alternative(layouts, lang, width):
    images = layouts[lang, width]["images"]
    assert len(images) >= 8
    missing = [image for image in images if len(image["alt"]) < 20]
    assert missing == []
    assert all(image["role"] == "img" for image in images if image["id"].startswith("figure"))


@pytest.mark.parametrize(("lang", "width"), CASES)
def test_every_table_has_a_caption(layouts, lang, width):
    tables = layouts[lang, width]["tables"]
    assert len(tables) >= 10
    assert [t["id"] for t in tables if not t["caption"]] == []
    assert len({t["caption"] for t in tables}) == len(tables)  # each says which table it is


@pytest.mark.parametrize(("lang", "width"), CASES)
def test_figure_text_stays_legible(layouts, lang, width):
    figures = layouts[lang, width]["figures"]
    assert len(figures) >= 8
    for figure in figures:
        # the SVG's user unit is a point: text of font_pt points shows at
        # font_pt * (rendered CSS px / viewBox width) CSS pixels
        shown_px = figure["font_pt"] * figure["rendered"] / figure["viewbox"]
        assert shown_px >= LEGIBLE_PX, figure


@pytest.mark.parametrize(("lang", "width"), CASES)
def test_console_has_no_errors_at_either_width(layouts, lang, width):
    errors = [e for e in layouts[lang, width]["console"] if e["level"] == "SEVERE"]
    assert errors == []


@pytest.mark.parametrize(("lang", "width"), CASES)
def test_a_screenshot_is_kept_at_each_width(layouts, lang, width):
    shot = layouts[lang, width]["screenshot"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000
