"""Sentences about questionnaire change and about a matched effect.

A change is told as the reader needs it: *improved* or *worsened* by the
instrument's direction (``higher_worse`` or ``higher_better`` in the instrument
registry), with its 95% confidence interval; a change whose interval includes
no change is "no clear change". The reliable-change classes (Jacobson and
Truax) follow where they are published. The summary gives at most one such
sentence per programme (:func:`headline_measure` picks it); the rest are in
the report's pre/post section.

A matched effect (:func:`cdanalytics.matching.matched_effect`) or hazard ratio
(:func:`cdanalytics.matching.matched_cox`) is told in the Justice Data Lab's
manner by :func:`matched_effect_statement` and :func:`matched_cox_statement`:
a significant result "could" reduce or increase the outcome; a
non-significant one needs more people and is not evidence of no effect. The
analyses give the numbers; the words are here, in the locale files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..i18n import category, label, number, percent

if TYPE_CHECKING:  # the results only; the wording needs no analysis loaded
    from ..matching import MatchedCox, MatchedEffect

__all__ = [
    "headline_measure",
    "matched_cox_statement",
    "matched_effect_statement",
    "prepost_sentences",
    "prepost_summary",
]

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


def _level(alpha: float, lang: str) -> str:
    """The confidence level, for example ``"95%"``."""
    return f"{number(100 * (1 - alpha), lang, None)}%"


def _people(row: Mapping[str, Any], lang: str) -> str:
    return label(
        "statement_people",
        lang,
        treated=number(row["n_treated"], lang),
        control=number(row["n_control"], lang),
    )


def matched_effect_statement(
    effect: MatchedEffect,
    lang: str = "en",
    outcome: str | None = None,
    *,
    window: int | None = None,
) -> str:
    """A matched effect in words, in the Justice Data Lab's manner.

    Both groups' figures (of any 100 typical people for a binary outcome,
    means for a numeric one), the difference with its confidence interval,
    and what it does (a significant difference "could" reduce or increase the
    outcome) or does not show (more people would be needed; not evidence of
    no effect).

    Parameters
    ----------
    effect
        From :func:`cdanalytics.matching.matched_effect`.
    lang
        ``"en"`` or ``"nl"``.
    outcome
        Words for the outcome (default: "proven reoffending within
        ``window`` months" when ``window`` is given, else the outcome's
        column name).
    window
        Months of the fixed reoffending window, for the default words.

    Returns
    -------
    str
    """
    row = effect.summary.iloc[0]
    if outcome is not None:
        words = outcome
    elif window is not None:
        words = label("statement_reoffending_within", lang, window=number(window, lang))
    else:
        words = str(row["outcome"])
    binary = row["kind"] == "binary"
    scale, digits = (100.0, 1) if binary else (1.0, 2)
    low, high = scale * float(row["ci_low"]), scale * float(row["ci_high"])
    kind = "binary" if binary else "numeric"
    figures = (
        {"treated": row["per_100_treated"], "control": row["per_100_control"]}
        if binary
        else {
            "treated": number(row["mean_treated"], lang, 2),
            "control": number(row["mean_control"], lang, 2),
        }
    )
    text = label(
        f"statement_effect_{kind}",
        lang,
        outcome=words,
        people=_people(row, lang),
        difference=number(scale * float(row["difference"]), lang, digits),
        level=_level(effect.alpha, lang),
        low=number(low, lang, digits),
        high=number(high, lang, digits),
        **figures,
    )
    if row["p_value"] < effect.alpha:
        near, far = sorted((abs(low), abs(high)))
        verdict = label(
            f"statement_effect_significant_{kind}",
            lang,
            direction=label("reduced" if row["difference"] < 0 else "increased", lang),
            outcome=words,
            near=number(near, lang, digits),
            far=number(far, lang, digits),
        )
    else:
        verdict = label("statement_effect_not_significant", lang, outcome=words)
    return f"{text} {verdict}"


def matched_cox_statement(cox: MatchedCox, lang: str = "en", outcome: str | None = None) -> str:
    """A matched hazard ratio in words: the rate of the event relative to
    similar people who did not take part, with its confidence interval, and
    whether the difference is significant (then as a percentage lower or
    higher rate).

    Parameters
    ----------
    cox
        From :func:`cdanalytics.matching.matched_cox`.
    lang
        ``"en"`` or ``"nl"``.
    outcome
        Words for the event (default: proven reoffending).

    Returns
    -------
    str
    """
    row = cox.summary.iloc[0]
    words = outcome or label("statement_proven_reoffending", lang)
    text = label(
        "statement_cox",
        lang,
        hr=number(row["hr"], lang, 2),
        outcome=words,
        level=_level(cox.alpha, lang),
        low=number(row["ci_low"], lang, 2),
        high=number(row["ci_high"], lang, 2),
        people=_people(row, lang),
    )
    if row["p_value"] < cox.alpha:
        key = "statement_cox_lower" if row["hr"] < 1 else "statement_cox_higher"
        verdict = label(key, lang, change=percent(abs(1 - float(row["hr"])), lang))
    else:
        verdict = label("statement_cox_not_significant", lang, outcome=words)
    return f"{text} {verdict}"
