"""Labels in English and Dutch for charts and the report.

The labels are data files with the same keys in each language: chart and
table labels in ``cdanalytics/locales/en.yaml`` and ``nl.yaml``, the report's
sentences in ``report_en.yaml`` and ``report_nl.yaml``. :func:`label` looks one
up and fills in its placeholders.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from .errors import ConfigError

__all__ = ["LANGUAGES", "label", "labels", "number", "percent"]

LANGUAGES: tuple[str, ...] = ("en", "nl")


@cache
def labels(lang: str = "en") -> dict[str, str]:
    """All labels of one language."""
    if lang not in LANGUAGES:
        raise ConfigError(f"Language {lang!r} is not available; choose one of {LANGUAGES}.")
    folder = resources.files("cdanalytics").joinpath("locales")
    merged: dict[str, str] = {}
    for name in (f"{lang}.yaml", f"report_{lang}.yaml"):
        merged.update(yaml.safe_load(folder.joinpath(name).read_text("utf-8")))
    return merged


def label(key: str, lang: str = "en", **values: object) -> str:
    """One label, with ``{placeholders}`` filled from ``values``.

    A key without a label falls back to the key itself with underscores as
    spaces, so a category value such as ``caring_dads`` still reads well.
    """
    text = labels(lang).get(key)
    if text is None:
        return key.replace("_", " ")
    return text.format(**values) if values else text


def number(value: float, lang: str = "en", digits: int = 0) -> str:
    """A number with thousands separators in the reader's convention (nl: 1.234,5)."""
    text = f"{value:,.{digits}f}"
    if lang == "nl":
        text = text.translate(str.maketrans(",.", ".,"))
    return text


def percent(value: float, lang: str = "en", digits: int = 0) -> str:
    """A share (0-1) as a percentage, for example ``"45%"`` (nl: ``"4,5%"``)."""
    return f"{number(100 * value, lang, digits)}%"
