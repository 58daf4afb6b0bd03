"""The report's "not computed" notes are worded in the page's language.

``outcomes.json`` and ``run.json`` keep each note in English (unchanged); the
page words it from the locale files (``note_*`` keys), so a Dutch report
shows no English note. An export without comparison rows and without
questionnaire scores triggers three notes (no comparison group for the Cox
model, none for the matched comparison, no pre/post change).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import pytest
import yaml

from cdanalytics.disclosure import DisclosurePolicy
from cdanalytics.errors import ConvergenceError, InsufficientDataError
from cdanalytics.io import load_export
from cdanalytics.report import build_report
from cdanalytics.report import practice as practice_module
from cdanalytics.report.compute import Outcomes
from cdanalytics.report.notes import Note, note_words
from cdanalytics.report.practice import practice_section
from cdanalytics.synth import write_synthetic_export

LOCALES = Path(__file__).resolve().parents[1] / "cdanalytics" / "locales"


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """A small export with no comparison rows and no questionnaire scores."""
    folder = tmp_path_factory.mktemp("notes") / "export"
    write_synthetic_export(folder, n_participants=400, seed=11, comparison_share=0.0)
    measures = folder / "measures.csv"
    header = measures.read_text(encoding="utf-8").splitlines()[0]
    measures.write_text(header + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def reports(export, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    return {
        lang: build_report(export, out / lang, lang=lang, figures=False).out
        for lang in ("en", "nl")
    }


def page_text(folder: Path) -> str:
    """The page's text, tags removed and entities decoded."""
    raw = (folder / "report.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def english_notes(folder: Path) -> list[str]:
    return json.loads((folder / "run.json").read_text(encoding="utf-8"))["not_computed"]


def test_the_export_triggers_the_notes(reports):
    notes = english_notes(reports["en"])
    assert "Comparison with a comparison group: the export has no comparison rows." in notes
    assert "Pre/post change: the export has no questionnaire scores." in notes
    assert len(notes) >= 3


def test_a_dutch_report_shows_no_english_note(reports):
    notes = english_notes(reports["nl"])
    assert notes == english_notes(reports["en"])  # the JSON keeps them in English
    dutch = page_text(reports["nl"])
    english = page_text(reports["en"])
    for note in notes:
        assert note in english  # the English page shows each note ...
        assert note not in dutch  # ... the Dutch one never
    nl = yaml.safe_load((LOCALES / "report_nl.yaml").read_text(encoding="utf-8"))
    assert nl["note_no_comparison_rows"] in dutch
    assert nl["note_no_scores"] in dutch
    assert "Niet berekend voor deze export:" in dutch


def test_outcomes_json_keeps_the_english_notes(reports):
    for lang in ("en", "nl"):
        outcomes = json.loads((reports[lang] / "outcomes.json").read_text(encoding="utf-8"))
        assert outcomes["not_computed"] == english_notes(reports["en"])


def failing(error: Exception):
    def fn():
        raise error

    return fn


def test_a_failed_analysis_keeps_its_english_note_and_is_worded_in_dutch():
    out = Outcomes(export=None, config=None)  # attempt reads neither
    message = "Nobody reoffended after the landmark."
    assert out.attempt("note_what_landmark", failing(InsufficientDataError(message))) is None
    out.attempt("note_what_cox_model", failing(ConvergenceError("did not converge in 50 steps")))
    first, second = out.notes
    assert first == f"Landmark analysis: not computed ({message})"
    assert second == "Cox model: not computed (did not converge in 50 steps)"
    assert first.words("en") == first
    assert first.words("nl") == "Landmarkanalyse: niet berekend (te weinig gegevens)"
    assert second.words("nl") == "Cox-model: niet berekend (het model convergeerde niet)"
    for note in out.notes:
        assert "not computed" not in note.words("nl")


def test_a_note_with_a_worded_value_and_its_copy():
    import pickle

    note = Note("note_what_casemix_comparison", unit=Note("referral_quarter", "referral_quarter"))
    assert note == "Case-mix comparison by referral_quarter"
    nl = yaml.safe_load((LOCALES / "report_nl.yaml").read_text(encoding="utf-8"))
    assert note.words("nl") == f"Vergelijking naar case-mix per {nl['referral_quarter']}"
    copy = pickle.loads(pickle.dumps(note))
    assert (copy, copy.key, copy.words("nl")) == (note, note.key, note.words("nl"))


def test_every_note_key_is_in_both_languages():
    en = yaml.safe_load((LOCALES / "report_en.yaml").read_text(encoding="utf-8"))
    nl = yaml.safe_load((LOCALES / "report_nl.yaml").read_text(encoding="utf-8"))
    keys = {k for k in en if k.startswith("note_")}
    assert keys == {k for k in nl if k.startswith("note_")}
    assert len(keys) >= 13
    used = set()
    for path in (Path(__file__).resolve().parents[1] / "cdanalytics" / "report").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'"(note_(?:what|reason|no|not|family)_[a-z_]+)"', text))
    assert len(used) >= 13
    assert used <= keys


def test_the_practice_sections_notes_are_worded_in_dutch(tmp_path):
    """Audits whose items no audit tool holds: the section's note, worded in Dutch."""
    folder = tmp_path / "audits"
    write_synthetic_export(folder, n_participants=300, seed=5, audits=True)
    export = load_export(folder)
    export = dataclasses.replace(
        export, registries=dataclasses.replace(export.registries, audit_tools={})
    )
    section = practice_section(export, DisclosurePolicy())
    assert section.tables == {}
    (note,) = section.notes
    nl = yaml.safe_load((LOCALES / "report_nl.yaml").read_text(encoding="utf-8"))
    en = yaml.safe_load((LOCALES / "report_en.yaml").read_text(encoding="utf-8"))
    assert note == en["note_practice_no_tool"]  # outcomes.json keeps the English
    assert note_words(note, "nl") == nl["note_practice_no_tool"]
    assert "Safe & Together" in note_words(note, "nl")


def test_a_failed_practice_analysis_is_worded_by_its_errors_class():
    def fails():
        raise InsufficientDataError("fewer than two readers")

    notes: list[str] = []
    assert practice_module._attempt(notes, "note_what_practice_agreement", fails) is None
    (note,) = notes
    assert note == "Agreement between readers: not computed (fewer than two readers)"
    nl = yaml.safe_load((LOCALES / "report_nl.yaml").read_text(encoding="utf-8"))
    assert note_words(note, "nl") == (
        f"{nl['note_what_practice_agreement']}: niet berekend "
        f"({nl['note_reason_insufficient_data']})"
    )
