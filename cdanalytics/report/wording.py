"""Sentences of the managers' summary about questionnaire change.

A change is told as the reader needs it: *improved* or *worsened* by the
instrument's direction (``higher_worse`` or ``higher_better`` in the instrument
registry), with its 95% confidence interval; a change whose interval includes
no change is "no clear change". The reliable-change classes (Jacobson and
Truax) follow where they are published. The summary gives at most one such
sentence per programme (:func:`headline_measure` picks it); the rest are in
the report's pre/post section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..i18n import category, label, number

__all__ = ["headline_measure", "prepost_sentences", "prepost_summary"]

_NEEDED = ("mean_change", "ci_low", "ci_high", "g_av")


def _complete(figures: Mapping[str, Any]) -> bool:
    return all(figures.get(k) is not None for k in _NEEDED) and figures.get("direction") in (
        "higher_worse",
        "higher_better",
    )


def headline_measure(prepost: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The measure the summary tells: the largest published standardised change (|g_av|)."""
    shown = {key: figures for key, figures in prepost.items() if _complete(figures)}
    if not shown:
        return None
    return max(shown, key=lambda key: abs(float(shown[key]["g_av"])))


def prepost_sentences(key: str, figures: Mapping[str, Any], lang: str = "en") -> list[str]:
    """The change on one measure (``instrument.scale.informant``) in words.

    Parameters
    ----------
    key
        The measure's key in ``outcomes.json`` (``prepost.<key>``).
    figures
        Its figures: ``mean_change``, ``ci_low``, ``ci_high``, ``g_av``,
        ``direction`` and, where published, ``reliable_change``.
    lang
        ``"en"`` or ``"nl"``.

    Returns
    -------
    list of str
        The change, and the reliable-change classes where published; empty
        when a figure needed is withheld.
    """
    if not _complete(figures):
        return []
    instrument, scale, informant = key.split(".")
    better_if_higher = figures["direction"] == "higher_better"
    change, low, high = (float(figures[k]) for k in ("mean_change", "ci_low", "ci_high"))
    common = {
        "label": (
            f"{category(instrument, lang)} {category(scale, lang)} ({category(informant, lang)})"
        ),
        "g": number(figures["g_av"], lang, 2),
        "direction": label(figures["direction"], lang),
    }
    if low <= 0 <= high:
        text = label(
            "summary_prepost_unclear",
            lang,
            change=number(change, lang, 2),
            low=number(low, lang, 2),
            high=number(high, lang, 2),
            **common,
        )
    else:
        improved = (change > 0) == better_if_higher
        size = sorted((abs(low), abs(high)))
        text = label(
            "summary_prepost_better" if improved else "summary_prepost_worse",
            lang,
            change=number(abs(change), lang, 2),
            low=number(size[0], lang, 2),
            high=number(size[1], lang, 2),
            **common,
        )
    sentences = [text]
    classes = figures.get("reliable_change")
    if classes:
        sentences.append(
            label(
                "summary_reliable_change",
                lang,
                **{name: number(value, lang) for name, value in classes.items()},
            )
        )
    return sentences


def prepost_summary(prepost: Mapping[str, Mapping[str, Any]], lang: str = "en") -> list[str]:
    """One summary bullet (or none): the headline measure's sentences, and a
    pointer to the pre/post section for the other measures."""
    key = headline_measure(prepost)
    if key is None:
        return []
    sentences = prepost_sentences(key, prepost[key], lang)
    if len(prepost) > 1:
        sentences.append(label("summary_prepost_more", lang))
    return [" ".join(sentences)]
