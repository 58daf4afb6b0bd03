"""What ``report.html`` shows in words: tables as HTML, figures with their text
alternatives, the methods text and the registries' definitions, in the
report's language.

Every string comes from the locale files (:mod:`cdanalytics.i18n`) or from a
registry's ``{en, nl}`` texts; every number and date is written the reader's
way (:func:`~cdanalytics.i18n.number`, :func:`~cdanalytics.i18n.date`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup

from ..config import EvaluationConfig
from ..i18n import LANGUAGES, category, has_label, label, localised, number
from ..registry import completion_rule_text
from .figures import Figure
from .published import PublishedTable

__all__ = [
    "LEGIBLE_PX",
    "completion_rules",
    "figure_html",
    "html_table",
    "instrument_lines",
    "methods_paragraphs",
    "report_title",
    "table_caption",
    "unreliable_scales",
]

#: Smallest text, in CSS pixels, a figure is ever shown at: below it, the
#: figure keeps its width and scrolls sideways inside its own box.
LEGIBLE_PX = 9.0


def report_title(title: str | None, lang: str) -> str:
    """The config's title; a title left at its default reads in ``lang``."""
    defaults = {label("report_title", other) for other in LANGUAGES}
    return label("report_title", lang) if not title or title in defaults else title


def table_caption(name: str, lang: str) -> str:
    """The caption of published table ``name`` (``table_<name>`` in the locale files)."""
    key = f"table_{name}"
    return label(key if has_label(key, lang) else name, lang)


def html_table(
    table: PublishedTable, lang: str, caption: str | None = None, anchor: str | None = None
) -> str:
    """A published table as an HTML ``<table>`` with a ``<caption>``, in a box
    that scrolls sideways when the table is wider than the page.

    ``caption`` defaults to :func:`table_caption` of the table's name and
    ``anchor`` (the ``id`` suffix) to the name: a table shown more than once,
    say once per programme, needs its own caption and anchor each time.
    """
    caption = caption if caption is not None else table_caption(table.name, lang)
    display = table.display(lang)
    keys = table.key_columns
    for key in keys:
        display[key] = display[key].map(lambda v: category(v, lang))
    head = "".join(
        f'<th scope="col" class="{"key" if c in keys else ""}">'
        f"{html.escape(label(str(c), lang))}</th>"
        for c in display.columns
    )
    cells = [f'<td class="{"key" if c in keys else ""}">' for c in display.columns]
    body = "".join(
        "<tr>"
        + "".join(f"{cell}{html.escape(str(v))}</td>" for cell, v in zip(cells, row, strict=True))
        + "</tr>"
        for row in display.to_numpy(dtype=object)
    )
    note = ""
    protected = table.protected
    if protected.mask.to_numpy().any():
        legend = label("withheld_legend", lang, threshold=protected.policy.threshold)
        note = f'<p class="note table-note">{html.escape(legend)}</p>'
    name = html.escape(anchor or table.name)
    return (
        f'<div class="table-scroll" role="region" tabindex="0" aria-labelledby="caption-{name}">'
        f'<table id="table-{name}"><caption id="caption-{name}">{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}"
    )


def figure_html(figure: Figure) -> str:
    """The figure's SVG in a box no narrower than keeps its smallest text at
    :data:`LEGIBLE_PX` (on a narrower screen the box scrolls sideways)."""
    min_width = math.ceil(LEGIBLE_PX * figure.width_pt / figure.font_pt)
    return (
        f'<div class="figure-scroll" style="--min-width: {min_width}px"'
        f' data-font-pt="{figure.font_pt:g}">{figure.svg}</div>'
    )


def completion_rules(programmes: Mapping[str, Any], present: Iterable[str], lang: str):
    """(programme name, completion rule in words) of each programme present."""
    return [
        (localised(programmes[p]["name"], lang), completion_rule_text(programmes[p], lang))
        for p in present
        if p in programmes
    ]


def _words(values: Iterable[object], lang: str) -> str:
    return ", ".join(label(str(v), lang) for v in values) or label("none", lang)


def methods_paragraphs(config: EvaluationConfig, lang: str) -> list[str]:
    """The methods text: definitions as the config sets them, in ``lang``."""
    reo = config.reoffending
    matching = reo.matching
    caliper = matching.caliper
    return [
        label(
            "methods_reoffending",
            lang,
            types=_words(reo.event_types, lang),
            window=number(reo.window_months, lang),
            index=label(reo.index, lang),
            waiting=number(reo.waiting_months, lang),
        ),
        label("methods_km", lang),
        label("methods_cox", lang, covariates=_words(["group", *reo.cox_covariates], lang)),
        label(
            "methods_matching",
            lang,
            covariates=_words(matching.covariates, lang),
            ratio=number(matching.ratio, lang),
            replace=label("with_replacement" if matching.replace else "without_replacement", lang),
            caliper=label("none", lang) if caliper is None else number(caliper, lang, None),
            exact=_words(matching.exact or [], lang),
        ),
        label(
            "methods_gates",
            lang,
            minimum=number(matching.min_treated, lang),
            flag=number(matching.balance_flag, lang, None),
            limit=number(matching.balance_withhold, lang, None),
            pools="; ".join(
                f"{label(code, lang)}: {_words([pool] if isinstance(pool, str) else pool, lang)}"
                for code, pool in matching.comparison_pools.items()
            )
            or label("shared_pool", lang),
        ),
        label("methods_prepost", lang),
        label("methods_disclosure", lang, threshold=number(config.disclosure.threshold, lang)),
    ]


def _in(entry: Mapping[str, Any], field: str, lang: str) -> str:
    """A registry text in ``lang``: ``field`` (English) or ``field_nl`` (Dutch), or a
    ``{en, nl}`` mapping; English with a warning when the Dutch is missing."""
    value = entry.get(field)
    if lang != "en" and not isinstance(value, Mapping) and value is not None:
        value = {"en": value, lang: entry.get(f"{field}_{lang}")}
    return localised(value, lang)


def instrument_lines(instruments: Mapping[str, Any], lang: str) -> list[tuple[str, str, str]]:
    """(name, ``code.scale``, definition) of every scale of the instrument registry."""
    lines = []
    for code, entry in instruments.items():
        for scale, info in entry["scales"].items():
            reliability = info.get("reliability")
            if reliability is None:
                rel = label("instrument_reliability_missing", lang)
            else:
                rel = label(
                    "instrument_reliability",
                    lang,
                    value=number(reliability, lang, 2),
                    kind=label(str(info.get("reliability_type") or "unknown"), lang),
                    source=localised(info.get("reliability_source"), lang),
                )
                note = _in(info, "reliability_note", lang)
                rel = f"{rel}: {note}" if note else rel
            name = f"{_in(entry, 'name', lang)}, {_in(info, 'label', lang)}"
            text = label(
                "instrument_line",
                lang,
                min=number(info["min"], lang, None),
                max=number(info["max"], lang, None),
                direction=label(info["direction"], lang),
                reliability=rel,
            )
            lines.append((name, f"{code}.{scale}", text))
    return lines


def unreliable_scales(
    instruments: Mapping[str, Any], present: Iterable[str], lang: str
) -> list[Markup]:
    """Why reliable change is not computed for the instruments present without a
    reliability (as HTML: the config setting to fill in is ``<code>``)."""
    registry = instruments
    out = []
    for code in present:
        entry = registry.get(code)
        if entry is None:
            continue
        missing = [s for s, info in entry["scales"].items() if info.get("reliability") is None]
        if not missing:
            continue
        text = label(
            "reliable_change_not_computed",
            lang,
            instrument=_in(entry, "name", lang),
            scales=", ".join(_in(entry["scales"][s], "label", lang) for s in missing),
            setting="\0",
        )
        setting = f"<code>instruments.{code}.scales.{missing[0]}.reliability</code>"
        out.append(Markup(html.escape(text).replace("\0", setting)))
    return out
