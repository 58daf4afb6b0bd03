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

__all__ = ["matched_sentences", "programme_overview", "summary_sentences"]


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


def _marker(outcomes: Mapping[str, Any], path: str, value: Any, fmt) -> str:
    """A published figure formatted, or the marker the report shows for it."""
    if value is not None:
        return fmt(value)
    return outcomes.get("withheld", {}).get(path, {}).get("marker", "")


def matched_sentences(
    outcomes: Mapping[str, Any], code: str, lang: str, name: str | None = None
) -> dict[str, list[str]]:
    """Sentences of one programme's matched comparisons, by analysis.

    The result first (the Justice Data Lab's wording: a significant
    difference "could" reduce or increase reoffending; a non-significant one
    needs more people and is not evidence of no effect), or why it is not
    shown; then the share matched and why the others were not; a balance
    caution when flagged. Built only from ``outcomes.json``.
    """
    programme = outcomes.get("programmes", {}).get(code, {})
    window = outcomes["reoffending"]["window_months"]
    name = name or label(code, lang)
    out: dict[str, list[str]] = {}
    for analysis, m in programme.get("matched", {}).items():
        path = f"programmes.{code}.matched.{analysis}"
        common = {
            "name": name,
            "analysis": label(analysis, lang),
            "who": label(f"who_{analysis}", lang),
            "window": window,
        }
        sentences: list[str] = []
        status = m["status"]
        if status == "not_computed":
            sentences.append(
                label(
                    f"matched_not_computed_{m['reason']}", lang, minimum=m["min_treated"], **common
                )
            )
        elif status == "withheld":
            sentences.append(
                label(
                    "matched_withheld",
                    lang,
                    limit=number(
                        outcomes["reoffending"]["matching_gates"]["balance_withhold"], lang, 2
                    ),
                    smd=_marker(
                        outcomes,
                        f"{path}.max_abs_smd_after",
                        m.get("max_abs_smd_after"),
                        lambda v: number(v, lang, 2),
                    ),
                    **common,
                )
            )
        elif _all_present(
            m, "rate_programme", "rate_comparison", "difference", "ci_low", "ci_high"
        ):
            low, high = m["ci_low"], m["ci_high"]
            rates = {
                "treated": number(100 * m["rate_programme"], lang),
                "control": number(100 * m["rate_comparison"], lang),
            }
            if high < 0 or low > 0:
                near, far = sorted((abs(100 * low), abs(100 * high)))
                sentences.append(
                    label(
                        "matched_significant",
                        lang,
                        direction=label("could_reduce" if high < 0 else "could_increase", lang),
                        low=number(near, lang, 1),
                        high=number(far, lang, 1),
                        **rates,
                        **common,
                    )
                )
            else:
                sentences.append(
                    label(
                        "matched_not_significant",
                        lang,
                        difference=number(100 * m["difference"], lang, 1),
                        low=number(100 * low, lang, 1),
                        high=number(100 * high, lang, 1),
                        **rates,
                        **common,
                    )
                )
        else:  # computed, but the disclosure gate withheld its figures
            sentences.append(
                label(
                    "matched_disclosure_withheld",
                    lang,
                    threshold=outcomes["disclosure"]["threshold"],
                    **common,
                )
            )
        if status != "not_computed" and "n_treated" in m:

            def fig(key: str, fmt=lambda v: number(v, lang)) -> str:
                return _marker(outcomes, f"{path}.{key}", m.get(key), fmt)  # noqa: B023

            sentences.append(
                label(
                    "matched_coverage",
                    lang,
                    share=fig("share_matched", lambda v: percent(v, lang, 1)),
                    matched=fig("n_matched"),
                    n=fig("n_treated"),
                    outside=fig("n_outside_common_support"),
                    caliper=fig("n_no_comparison_within_caliper"),
                    used=fig("n_comparisons_used_up"),
                    who=common["who"],
                )
            )
        if status == "flagged":
            sentences.append(
                label(
                    "matched_flagged",
                    lang,
                    smd=_marker(
                        outcomes,
                        f"{path}.max_abs_smd_after",
                        m.get("max_abs_smd_after"),
                        lambda v: number(v, lang, 2),
                    ),
                    flag=number(outcomes["reoffending"]["matching_gates"]["balance_flag"], lang, 2),
                )
            )
        out[analysis] = sentences
    return out


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
    return sentences


def _prepost(prepost: Mapping[str, Any], lang: str) -> list[str]:
    return prepost_summary(prepost, lang)


def _has_withheld(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_withheld(v) for v in value.values())
    return value is None


def _programme_headlines(
    outcomes: Mapping[str, Any], lang: str, names: Mapping[str, str] | None
) -> list[str]:
    """One sentence per programme: its intention-to-treat matched result, or why not."""
    names = names or {}
    sentences = []
    for code in outcomes.get("programmes", {}):
        itt = matched_sentences(outcomes, code, lang, names.get(code)).get("all_starters")
        if itt:
            status = outcomes["programmes"][code]["matched"]["all_starters"]["status"]
            flag = f" {label('matched_flagged_short', lang)}" if status == "flagged" else ""
            sentences.append(itt[0] + flag)
    return sentences


def summary_sentences(
    outcomes: Mapping[str, Any], lang: str = "en", names: Mapping[str, str] | None = None
) -> list[str]:
    """Plain-language sentences of the headline figures, in ``lang``.

    Parameters
    ----------
    outcomes
        The content of ``outcomes.json`` (:func:`headline_figures`).
    lang
        ``"en"`` or ``"nl"``.
    names
        Programme code -> its name in ``lang`` (default: the code's label).

    Returns
    -------
    list of str
        One sentence per headline that could be published; per programme,
        its intention-to-treat matched comparison (or why it is not shown).
        There is no pooled matched figure: it would hide programmes whose
        effects differ in sign.
    """
    sentences = [
        *_engagement(outcomes["engagement"], lang),
        *_reoffending(outcomes["reoffending"], lang),
        *_programme_headlines(outcomes, lang, names),
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


def programme_overview(
    outcomes: Mapping[str, Any], lang: str = "en", names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """What the overview strip and each programme's section show, per programme.

    Returns
    -------
    list of dict
        ``code``, ``name``, the strip's formatted cells ``referred``,
        ``started``, ``completion``, ``reoffending`` (programme / matched
        comparison, intention to treat; a withheld figure shows its marker,
        a result the gates did not let through says "not published"), and
        ``sentences`` (analysis -> :func:`matched_sentences`).
    """
    names = names or {}
    rows = []
    for code, figures in outcomes.get("programmes", {}).items():
        path = f"programmes.{code}"

        def shown(key: str, fmt, figures=figures, path=path) -> str:
            if key not in figures:
                return ""
            return _marker(outcomes, f"{path}.{key}", figures[key], fmt)

        itt = figures.get("matched", {}).get("all_starters", {})
        pct = lambda v: percent(v, lang, 1)  # noqa: E731
        if itt.get("status") in ("computed", "flagged") and "rate_programme" in itt:
            where = f"{path}.matched.all_starters"
            treated = _marker(outcomes, f"{where}.rate_programme", itt["rate_programme"], pct)
            control = _marker(outcomes, f"{where}.rate_comparison", itt["rate_comparison"], pct)
            reoffending = f"{treated} / {control}"
        else:
            reoffending = label("strip_not_published", lang)
        rows.append(
            {
                "code": code,
                "name": names.get(code, label(code, lang)),
                "referred": shown("n_referred", lambda v: number(v, lang)),
                "started": shown("n_started", lambda v: number(v, lang)),
                "completion": shown("completion_rate", pct),
                "reoffending": reoffending,
                "flagged": itt.get("status") == "flagged",
                "sentences": matched_sentences(outcomes, code, lang, names.get(code)),
            }
        )
    return rows
