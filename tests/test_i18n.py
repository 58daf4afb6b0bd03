"""Chart and report labels exist in both languages; numbers and dates read the reader's way."""

import ast
import datetime as dt
import re
import warnings
from pathlib import Path

import pytest
import yaml

from cdanalytics.errors import ConfigError, MissingTranslationWarning
from cdanalytics.i18n import category, date, datetime, label, labels, localised, number, percent
from cdanalytics.registry import completion_rule_text, instrument_registry, programme_registry


def test_english_and_dutch_have_the_same_keys():
    assert set(labels("en")) == set(labels("nl"))


def test_dutch_labels_are_translated():
    assert label("completed", "nl") == "Afgerond"
    assert label("completed", "en") == "Completed"


def test_placeholders_are_filled():
    text = label("suppressed_note", "en", threshold=10, groups="Leeds")
    assert "fewer than 10" in text and text.endswith("Leeds")


def test_unknown_key_reads_as_words():
    assert label("caring_dads") == "Caring Dads"
    with pytest.warns(MissingTranslationWarning, match="awaiting_risk_review"):
        assert label("awaiting_risk_review") == "awaiting risk review"


def test_unknown_language_is_refused():
    with pytest.raises(ConfigError, match="choose one of"):
        labels("fr")


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_chart_and_report_label_files_do_not_override_each_other(lang):
    from importlib import resources

    import yaml

    folder = resources.files("cdanalytics").joinpath("locales")
    charts = yaml.safe_load(folder.joinpath(f"{lang}.yaml").read_text("utf-8"))
    report = yaml.safe_load(folder.joinpath(f"report_{lang}.yaml").read_text("utf-8"))
    assert not set(charts) & set(report)


# ---------------------------------------------------------------- every key used exists

REPO = Path(__file__).resolve().parents[1]
#: Functions whose first argument is a label key.
LOOKUPS = {"label", "has_label", "t"}
TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([^"']+)["']\s*[,)]""")


def _keys_in_code() -> dict[str, set[str]]:
    """Literal label keys of every lookup call in the package and its templates -> files."""
    used: dict[str, set[str]] = {}
    package = REPO / "cdanalytics"
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            first = node.args[0]
            if name in LOOKUPS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                used.setdefault(first.value, set()).add(path.name)
    for path in package.rglob("*.j2"):
        for key in TEMPLATE_KEY.findall(path.read_text("utf-8")):
            used.setdefault(key, set()).add(path.name)
    return used


def test_the_key_scan_finds_the_lookups():
    used = _keys_in_code()
    assert {"summary_flow", "withheld_legend", "methods_potential", "title_forest"} <= set(used)
    assert len(used) > 80


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_every_key_used_in_code_has_a_label(lang):
    missing = {key: files for key, files in _keys_in_code().items() if key not in labels(lang)}
    assert missing == {}


def test_placeholders_are_the_same_in_both_languages():
    fields = re.compile(r"{(\w+)}")
    differ = {
        key: text
        for key, text in labels("en").items()
        if set(fields.findall(text)) != set(fields.findall(labels("nl")[key]))
    }
    assert differ == {}


def test_a_missing_key_warns_and_reads_as_words():
    with pytest.warns(MissingTranslationWarning, match="no_such_label"):
        assert label("no_such_label", "nl") == "no such label"


def test_a_data_value_without_a_label_is_shown_as_it_is():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert label("Leeds") == "Leeds"
        assert label("35-44", "nl") == "35-44"
        assert category("site_07", "nl") == "site 07"
        assert category("caring_dads", "nl") == "Caring Dads"


def test_all_row_and_title_read_in_dutch():
    assert label("All", "nl") == "Totaal"
    assert label("report_title", "nl") == "Programma-evaluatie"


# ------------------------------------------------------------ numbers and dates (by hand)


@pytest.mark.parametrize(
    ("value", "lang", "digits", "text"),
    [
        (1234.5, "en", 1, "1,234.5"),
        (1234.5, "nl", 1, "1.234,5"),
        (-7.804, "nl", 2, "-7,80"),
        (1400, "nl", 0, "1.400"),
        (1234567.891, "en", 2, "1,234,567.89"),
        (0.2, "nl", None, "0,2"),
        (0.125, "en", None, "0.125"),
        (12.0, "nl", None, "12"),
    ],
)
def test_numbers_in_the_readers_convention(value, lang, digits, text):
    assert number(value, lang, digits) == text


@pytest.mark.parametrize(
    ("share", "lang", "digits", "text"),
    [
        (0.484, "en", 1, "48.4%"),
        (0.484, "nl", 1, "48,4%"),
        (0.5, "nl", 0, "50%"),
        (1, "en", 0, "100%"),
    ],
)
def test_percentages_in_the_readers_convention(share, lang, digits, text):
    assert percent(share, lang, digits) == text


def test_rounding_is_pythons_in_both_languages():
    # the decimals shown are those of f"{x:.2f}"; only the separators differ
    for value in (2.675, 0.125, 1.005, 17.345, -0.045):
        english = number(value, "en", 2)
        assert english == f"{value:,.2f}"
        assert number(value, "nl", 2) == english.replace(",", " ").replace(".", ",").replace(
            " ", "."
        )


def test_dates_in_words():
    assert date("2025-06-30", "en") == "30 June 2025"
    assert date(dt.date(2025, 3, 1), "nl") == "1 maart 2025"
    moment = dt.datetime(2026, 12, 7, 9, 5, tzinfo=dt.UTC)
    assert datetime(moment, "nl") == "7 december 2026 09:05 UTC"


def test_registry_texts_in_the_readers_language():
    assert localised({"en": "Total stress", "nl": "Totale stress"}, "nl") == "Totale stress"
    assert localised("Goodman (2001)", "nl") == "Goodman (2001)"
    with pytest.warns(MissingTranslationWarning):
        assert localised({"en": "Only English"}, "nl") == "Only English"


def test_completion_rule_in_dutch():
    entry = {
        "core": {"group": 17},
        "completion_rule": {"min_core_share": 0.75, "require_last_core": True},
    }
    assert completion_rule_text(entry, "nl") == (
        "woonde ten minste 75% van de 17 kernbijeenkomsten bij (13 of meer), waaronder de laatste"
    )
    assert completion_rule_text(entry) == (
        "attended at least 75% of the 17 core sessions (13 or more), including the last"
    )


def _contract_codes() -> set[str]:
    """Every allowed value of the export contract written like a key (not "16-17")."""
    codes = set()
    for path in (REPO / "data" / "schemas").glob("*.yaml"):
        for column in yaml.safe_load(path.read_text("utf-8")).get("columns", []):
            allowed = column.get("allowed")
            if isinstance(allowed, list):
                codes |= {str(v) for v in allowed if re.fullmatch(r"[a-z][a-z0-9_]*", str(v))}
    return codes


def test_every_code_of_the_contract_and_registries_has_a_label():
    # category() shows a value without a label as written: only a site's own
    # names (sites, cohorts) may be shown so, never a code of the contract.
    codes = _contract_codes()
    assert {"dropped_out", "dv_offence", "attended", "probation"} <= codes
    for code, entry in instrument_registry().items():
        codes |= {code, *entry["scales"], *entry.get("informants", [])}
    codes |= set(programme_registry())
    for lang in ("en", "nl"):
        assert sorted(codes - set(labels(lang))) == []


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_kept_number_texts_are_babels_own(lang):
    """number/percent keep Babel's parsed locale and pattern and each rounded
    number's text; every text is what format_decimal/format_percent write,
    asked twice (the second time from what was kept), -0 apart from 0."""
    from decimal import Decimal

    from babel.numbers import format_decimal, format_percent

    from cdanalytics.i18n import LOCALES, number, percent

    locale = LOCALES[lang]
    values = [0.0, -0.0, -0.0004, 0.5, 2.5, -2.5, 0.125, 1234567.891, 1e-9, float("nan")]
    for _ in range(2):
        for value in values:
            for digits in (0, 1, 2):
                pattern = "#,##0" + ("." + "0" * digits if digits else "")
                rounded = f"{value:.{digits}f}"
                assert number(value, lang, digits) == format_decimal(
                    Decimal(rounded), format=pattern, locale=locale
                )
                shared = f"{100 * value:.{digits}f}"
                assert percent(value, lang, digits) == format_percent(
                    Decimal(shared) / 100, format=pattern + "%", locale=locale
                )
            assert number(value, lang, None) == format_decimal(
                Decimal(str(value)), format="#,##0.###", locale=locale
            )
    assert number(-0.0, "en") == "-0" and number(0.0, "en") == "0"
