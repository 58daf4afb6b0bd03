"""What the page wraps around figures: text alternatives and a legible minimum width."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from cdanalytics import charts
from cdanalytics.i18n import label
from cdanalytics.report.figures import Figure, accessible_svg, alt_text
from cdanalytics.report.page import LEGIBLE_PX, figure_html, report_title

SVG = (
    '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="360pt" height="180pt" '
    'viewBox="0 0 360 180" xmlns="http://www.w3.org/2000/svg" version="1.1">\n'
    "<g/></svg>\n"
)


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    ax.set_title("Covariate balance", loc="left")
    yield ax
    plt.close(fig)


def test_a_figure_with_a_description_gets_it(ax):
    assert alt_text("completion", ax, "nl") == label("alt_completion", "nl")


def test_a_figure_per_programme_gets_its_kinds_description(ax):
    assert alt_text("love_plot_caring_dads", ax, "en") == label("alt_love_plot", "en")


def test_a_figure_without_a_description_is_named_by_its_title(ax):
    assert alt_text("a_new_chart", ax, "en") == label("alt_figure", "en", title="Covariate balance")


def test_the_svg_carries_its_text_alternative_as_title():
    svg = accessible_svg(SVG, 'Bars & "whiskers" <95%>')
    opening = svg[: svg.index(">") + 1]
    assert 'role="img"' in opening
    title = re.search(r"<title>(.*?)</title>", svg).group(1)
    assert title == "Bars &amp; &quot;whiskers&quot; &lt;95%&gt;"
    assert svg.index("<title>") == len(opening) + 1  # the first child


@pytest.mark.parametrize(("font_pt", "width_px"), [(9.0, 360), (7.5, 432), (12.0, 270)])
def test_the_figure_box_keeps_its_smallest_text_legible(font_pt, width_px):
    figure = Figure(name="x", section="s", svg=SVG, png=b"", alt="x", font_pt=font_pt)
    assert figure.width_pt == 360.0
    html = figure_html(figure)
    shown = int(re.search(r"--min-width: (\d+)px", html).group(1))
    assert shown == width_px
    # at that width, text of font_pt points shows at font_pt * px per SVG unit
    assert font_pt * shown / figure.width_pt >= LEGIBLE_PX


def test_the_charts_draw_no_text_below_the_minimum():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "programme": ["borg", "caring_dads"],
            "n_started": [120, 90],
            "n_potential": [100, 80],
            "n_completed": [50, 60],
            "completion_rate": [0.5, 0.75],
            "completion_ci_low": [0.4, 0.64],
            "completion_ci_high": [0.6, 0.84],
        }
    )
    ax = charts.completion_chart(frame, lang="nl")
    assert charts.smallest_font(ax) >= charts.MIN_FONT_PT
    assert ax.figure.get_size_inches()[0] <= 4.8
    plt.close(ax.figure)


def test_a_title_left_at_its_default_reads_in_the_reports_language():
    assert report_title("Programme evaluation", "nl") == "Programma-evaluatie"
    assert report_title(None, "en") == "Programme evaluation"
    assert report_title("Evaluatie Caring Dads Utrecht", "en") == "Evaluatie Caring Dads Utrecht"
