"""Labels in English and Dutch for charts and the report.

The labels are data files (``cdanalytics/locales/en.yaml``, ``nl.yaml``) with
the same keys; :func:`label` looks one up and fills in its placeholders.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from .errors import ConfigError

__all__ = ["LANGUAGES", "label", "labels"]

LANGUAGES: tuple[str, ...] = ("en", "nl")


@cache
def labels(lang: str = "en") -> dict[str, str]:
    """All labels of one language."""
    if lang not in LANGUAGES:
        raise ConfigError(f"Language {lang!r} is not available; choose one of {LANGUAGES}.")
    text = resources.files("cdanalytics").joinpath("locales", f"{lang}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def label(key: str, lang: str = "en", **values: object) -> str:
    """One label, with ``{placeholders}`` filled from ``values``.

    A key without a label falls back to the key itself with underscores as
    spaces, so a category value such as ``caring_dads`` still reads well.
    """
    text = labels(lang).get(key)
    if text is None:
        return key.replace("_", " ")
    return text.format(**values) if values else text
