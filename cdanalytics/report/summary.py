"""The managers' summary: headline figures in plain language.

Sentences are built from ``outcomes.json`` (so from published, protected
figures only) with the "for every 100 men" framing and, for the matched
comparison, the Justice Data Lab's wording: a non-significant result says
that more people would be needed and that it is not evidence of no effect.
A sentence whose figures were withheld is left out; one line then says that
some figures are withheld.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..i18n import label, number, percent
from .wording import prepost_summary

__all__ = ["summary_sentences"]


def _all_present(figures: Mapping[str, Any], *keys: str) -> bool:
    return all(figures.get(k) is not None for k in keys)


def _engagement(eng: Mapping[str, Any], lang: str) -> list[str]:
    sentences = []
    if _all_present(eng, "referred", "started", "completed"):
        sentences.append(
            label(
                "summary_flow",
                lang,
                referred=number(eng["referred"], lang),
                started=number(eng["started"], lang),
                completed=number(eng["completed"], lang),
            )
        )
    completion = eng.get("completion", {})
    if _all_present(completion, "rate", "ci_low", "ci_high"):
        sentences.append(
            label(
                "summary_completion",
                lang,
                rate=percent(completion["rate"], lang, 1),
                ci_low=percent(completion["ci_low"], lang, 1),
                ci_high=percent(completion["ci_high"], lang, 1),
                per_100=number(100 * completion["rate"], lang),
            )
        )
    return sentences


def _matched(reo: Mapping[str, Any], lang: str) -> list[str]:
    matched = reo.get("matched_difference", {})
    keys = ("difference_pp", "ci_low_pp", "ci_high_pp", "rate_programme_pct", "rate_comparison_pct")
    if not _all_present(matched, *keys):
        return []
    low, high = matched["ci_low_pp"], matched["ci_high_pp"]
    common = {
        "window": reo["window_months"],
        "treated_per_100": number(matched["rate_programme_pct"], lang),
        "control_per_100": number(matched["rate_comparison_pct"], lang),
    }
    if high < 0 or low > 0:
        bounds = sorted((abs(low), abs(high)))
        return [
            label(
                "summary_matched_significant",
                lang,
                direction=label("reduced" if high < 0 else "increased", lang),
                low=number(bounds[0], lang, 1),
                high=number(bounds[1], lang, 1),
                **common,
            )
        ]
    return [
        label(
            "summary_matched_not_significant",
            lang,
            difference=number(matched["difference_pp"], lang, 1),
            low=number(low, lang, 1),
            high=number(high, lang, 1),
            **common,
        )
    ]


def _reoffending(reo: Mapping[str, Any], lang: str) -> list[str]:
    sentences = []
    prog, comp = reo.get("programme", {}), reo.get("comparison", {})
    if prog.get("per_100") is not None and comp.get("per_100") is not None:
        sentences.append(
            label(
                "summary_reoffending",
                lang,
                window=reo["window_months"],
                programme_per_100=number(prog["per_100"], lang),
                comparison_per_100=number(comp["per_100"], lang),
            )
        )
    sentences += _matched(reo, lang)
    hazard = reo.get("matched_hazard_ratio")
    if hazard:
        sentences.append(
            label(
                "summary_hazard",
                lang,
                hr=number(hazard["hazard_ratio"], lang, 2),
                low=number(hazard["ci_low"], lang, 2),
                high=number(hazard["ci_high"], lang, 2),
            )
        )
    return sentences


def _prepost(prepost: Mapping[str, Any], lang: str) -> list[str]:
    return prepost_summary(prepost, lang)


def _has_withheld(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_withheld(v) for v in value.values())
    return value is None


def summary_sentences(outcomes: Mapping[str, Any], lang: str = "en") -> list[str]:
    """Plain-language sentences of the headline figures, in ``lang``.

    Parameters
    ----------
    outcomes
        The content of ``outcomes.json`` (:func:`headline_figures`).
    lang
        ``"en"`` or ``"nl"``.

    Returns
    -------
    list of str
        One sentence per headline that could be published.
    """
    sentences = [
        *_engagement(outcomes["engagement"], lang),
        *_reoffending(outcomes["reoffending"], lang),
        *_prepost(outcomes["prepost"], lang),
    ]
    withheld = any(
        _has_withheld(outcomes[section]) for section in ("engagement", "reoffending", "prepost")
    )
    if withheld:
        sentences.append(
            label("summary_withheld", lang, threshold=outcomes["disclosure"]["threshold"])
        )
    return sentences
