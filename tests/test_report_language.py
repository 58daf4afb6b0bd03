"""The report of ``data/sample`` reads wholly in its language, and runs without a warning.

The Dutch report must contain none of the English words of
``tests/data/english_words.yaml`` (the English report must contain them, so
the list and the text extraction can tell the two apart). Visible text is the
page's text outside ``<style>``, ``<pre>`` and ``<code>``, the figures'
text alternatives (SVG ``<title>``) and the text drawn in the figures (which
matplotlib writes, line by line, as a comment beside its glyphs).
"""

from __future__ import annotations

import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

import cdanalytics.matching
from cdanalytics.report import build_report

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
WORDS = yaml.safe_load((REPO / "tests" / "data" / "english_words.yaml").read_text("utf-8"))["words"]
HIDDEN = {"style", "script", "pre", "code"}


class VisibleText(HTMLParser):
    """Text a reader sees or hears: see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.in_svg = 0
        self.in_title = False
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self.hidden += 1
        elif tag == "svg":
            self.in_svg += 1
        elif tag == "title":
            self.in_title = True

    def handle_endtag(self, tag):
        if tag in HIDDEN:
            self.hidden -= 1
        elif tag == "svg":
            self.in_svg -= 1
        elif tag == "title":
            self.in_title = False

    def handle_data(self, data):
        if self.hidden:
            return
        if not self.in_svg or self.in_title:
            self.parts.append(data)

    def handle_comment(self, data):
        if self.in_svg:  # a line of text drawn in a figure
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = VisibleText()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def english_words(text: str) -> dict[str, list[str]]:
    """Each listed word found in ``text``, with a little of the text around it."""
    found = {}
    for word in WORDS:
        pattern = re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", re.IGNORECASE)
        hits = [text[max(m.start() - 40, 0) : m.end() + 40] for m in pattern.finditer(text)]
        if hits:
            found[word] = hits[:3]
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample report in each language, with the warnings each run gave."""
    out = tmp_path_factory.mktemp("language")
    runs = {}
    for lang in ("en", "nl"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = build_report(SAMPLE, out / lang, lang=lang)
        text = visible_text(run.html.read_text(encoding="utf-8"))
        runs[lang] = {"text": text, "warnings": [str(w.message) for w in caught]}
    return runs


def test_dutch_report_has_no_english_words(built):
    assert english_words(built["nl"]["text"]) == {}


def test_the_word_list_finds_the_english_report(built):
    found = english_words(built["en"]["text"])
    assert len(found) >= 0.6 * len(WORDS), sorted(set(WORDS) - set(found))


@pytest.mark.xfail(
    not hasattr(cdanalytics.matching, "gated_comparison"),
    reason="the pooled matching of this branch warns that the comparison pool is smaller "
    "than the programme group; the per-programme gated comparison states it as coverage",
    strict=True,
)
@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_sample_report_gives_no_warning(built, lang):
    assert built[lang]["warnings"] == []


def test_dutch_numbers_and_dates_are_written_the_dutch_way(built):
    text = built["nl"]["text"]
    assert "30 juni 2025" in text  # the sample's extract date
    assert "1.400" in text  # referrals, thousands separated by a point
    assert "maximale afstand van 0,2 standaarddeviaties" in text  # the caliper, methods text
    assert not re.search(r"\d\.\d{1,2}%", text)  # no decimal point in a percentage
    assert "2025-06-30" not in text
