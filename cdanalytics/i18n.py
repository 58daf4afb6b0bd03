"""Labels in English and Dutch for charts and the report, and numbers and dates
written the reader's way.

The labels are data files with the same keys in each language: chart and
table labels in ``cdanalytics/locales/en.yaml`` and ``nl.yaml``, the report's
sentences in ``report_en.yaml`` and ``report_nl.yaml``. :func:`label` looks one
up and fills in its placeholders.

Numbers, percentages and dates are formatted with Babel (the Unicode CLDR
conventions of ``en_GB`` and ``nl_NL``): ``1,234.5`` and ``30 June 2025`` in
English, ``1.234,5`` and ``30 juni 2025`` in Dutch. The rounding is Python's
own (``f"{value:.{digits}f}"``), so a number reads the same in both languages
apart from its separators.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Mapping
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources

import yaml
from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import NumberPattern, parse_pattern

from .errors import ConfigError, MissingTranslationWarning

# libyaml's parser when installed (the same safe loading, several times faster)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "LANGUAGES",
    "LOCALES",
    "category",
    "date",
    "datetime",
    "has_label",
    "label",
    "labels",
    "localised",
    "number",
    "percent",
]

LANGUAGES: tuple[str, ...] = ("en", "nl")
#: The CLDR locale whose conventions each language's numbers and dates follow.
LOCALES: dict[str, str] = {"en": "en_GB", "nl": "nl_NL"}

#: What a label key looks like: lower-case words joined by underscores. A
#: value that does not look like this (``"Leeds"``, ``"35-44"``) is data, shown
#: as it is when it has no label.
_KEY = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


@cache
def labels(lang: str = "en") -> dict[str, str]:
    """All labels of one language."""
    if lang not in LANGUAGES:
        raise ConfigError(f"Language {lang!r} is not available; choose one of {LANGUAGES}.")
    folder = resources.files("cdanalytics").joinpath("locales")
    merged: dict[str, str] = {}
    for name in (f"{lang}.yaml", f"report_{lang}.yaml"):
        merged.update(yaml.load(folder.joinpath(name).read_text("utf-8"), Loader=_LOADER))
    return merged


def has_label(key: str, lang: str = "en") -> bool:
    """Whether ``key`` has a label in ``lang``."""
    return key in labels(lang)


def label(key: str, lang: str = "en", **values: object) -> str:
    """One label, with ``{placeholders}`` filled from ``values``.

    ``key`` is a label key or a category value of the data. A category value
    that is not written like a key (a site called ``"Leeds"``, an age band
    ``"35-44"``) is shown as it is when no label exists. A key without a
    label in ``lang`` is shown in words (underscores as spaces) with a
    :class:`~cdanalytics.errors.MissingTranslationWarning`: it is a missing
    translation, never silently passed off as one.
    """
    text = labels(lang).get(key)
    if text is None:
        if _KEY.fullmatch(key):
            warnings.warn(
                f"No {lang!r} label for {key!r}; add it to cdanalytics/locales/.",
                MissingTranslationWarning,
                stacklevel=2,
            )
            return key.replace("_", " ")
        return key
    return text.format(**values) if values else text


def category(value: object, lang: str = "en") -> str:
    """A category value of the data in words: its label, or the value itself
    (underscores as spaces, so ``site_07`` reads "site 07").

    For values a site chooses (site and cohort names, its own codes), which
    have no label; codes of the export contract and
    the registries have labels in both languages (tested).
    """
    text = labels(lang).get(str(value))
    return str(value).replace("_", " ") if text is None else text


def localised(value: object, lang: str = "en") -> str:
    """A registry text in ``lang``: ``{en: ..., nl: ...}`` or one text for every language.

    A mapping without ``lang`` gives its English text with a
    :class:`~cdanalytics.errors.MissingTranslationWarning`.
    """
    if isinstance(value, Mapping):
        if lang in value and value[lang] is not None:
            return str(value[lang])
        warnings.warn(
            f"Registry text {dict(value)!r} has no {lang!r} version.",
            MissingTranslationWarning,
            stacklevel=2,
        )
        return str(value.get("en", next(iter(value.values()), "")))
    return "" if value is None else str(value)


def _rounded(value: float, digits: int) -> str:
    """``value`` rounded to ``digits`` decimals by Python's own rounding, as text."""
    return f"{float(value):.{digits}f}"


def _pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits > 0 else "")


# Babel's format_decimal and format_percent parse the locale and the pattern at
# every call; these keep both, and the text of each rounded number (a chart
# formats each tick label at every draw). The texts are kept by the rounded
# number's digits, which tell -0 from 0.
@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(LOCALES[lang])


@cache
def _number_pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


def number(value: float, lang: str = "en", digits: int | None = 0) -> str:
    """A number with thousands separators in the reader's convention (nl: 1.234,5).

    ``digits`` decimals are shown; ``None`` shows the number as it is (up to
    three decimals, no trailing zeros: a caliper of ``0.2`` reads ``0,2``).
    """
    labels(lang)
    if digits is None:
        return _number_pattern("#,##0.###").apply(Decimal(str(value)), _locale(lang))
    return _number(_rounded(value, digits), lang, digits)


@lru_cache(maxsize=4096)
def _number(rounded: str, lang: str, digits: int) -> str:
    return _number_pattern(_pattern(digits)).apply(Decimal(rounded), _locale(lang))


def percent(value: float, lang: str = "en", digits: int = 0) -> str:
    """A share (0-1) as a percentage, for example ``"45%"`` (nl: ``"4,5%"``)."""
    labels(lang)
    return _percent(_rounded(100 * float(value), digits), lang, digits)


@lru_cache(maxsize=4096)
def _percent(rounded: str, lang: str, digits: int) -> str:
    return _number_pattern(_pattern(digits) + "%").apply(Decimal(rounded) / 100, _locale(lang))


def date(value: dt.date | str, lang: str = "en") -> str:
    """A date in words, for example ``"30 June 2025"`` (nl: ``"30 juni 2025"``)."""
    labels(lang)
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return format_date(value, format="long", locale=LOCALES[lang])


def datetime(value: dt.datetime, lang: str = "en") -> str:
    """A moment in time, for example ``"30 June 2025 11:52 UTC"`` (timezone-aware)."""
    labels(lang)
    text = format_datetime(
        value, format="d MMMM y HH:mm", locale=LOCALES[lang], tzinfo=value.tzinfo
    )
    return f"{text} {value.tzname() or ''}".strip()
