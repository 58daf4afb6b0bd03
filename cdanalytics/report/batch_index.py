"""The index page of a batch: one row per export with its status and headline figures.

Every word on the page comes from the locale files (keys ``batch_*``), in the
batch's language. The page holds nothing that changes from run to run on the
same inputs (no times, no process ids), so a parallel batch writes the same
bytes as a serial one.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from ..i18n import label, number, percent
from .batch_funnel import funnel_section

__all__ = ["STATUS_KEYS", "index_page"]

#: Locale key of each batch status as the index shows it.
STATUS_KEYS = {
    "written": "batch_status_written",
    "skipped": "batch_status_up_to_date",
    "invalid": "batch_status_invalid",
    "failed": "batch_status_failed",
    "error": "batch_status_error",
}

_COLUMNS = (
    "batch_col_export",
    "batch_col_status",
    "batch_col_extract_date",
    "batch_col_referred",
    "batch_col_completion",
    "batch_col_reoffending",
    "batch_col_matched",
    "batch_col_message",
)


class _Entry(Protocol):
    export: str
    status: str
    message: str
    report: str
    problems: str

    @property
    def failed(self) -> bool: ...


def _signed(value: float, lang: str) -> str:
    text = f"{value:+.1f}"  # percentage points, never 1,000 or more
    return label("batch_pp", lang, value=text.replace(".", ",") if lang == "nl" else text)


def _headline_cells(out: Path, entry: _Entry, lang: str) -> list[str]:
    outcomes_file = out / entry.report / "outcomes.json"
    if entry.failed or not outcomes_file.exists():
        return [""] * 5
    outcomes = json.loads(outcomes_file.read_text(encoding="utf-8"))
    eng, reo = outcomes["engagement"], outcomes["reoffending"]
    withheld = outcomes.get("withheld", {})

    def shown(key: str, value: Any, fmt: Callable[[Any], str]) -> str:
        """The figure as the report publishes it: its marker when withheld."""
        if value is not None:
            return fmt(value)
        return withheld.get(key, {}).get("marker", "")

    def share(value: float) -> str:
        return percent(value, lang, digits=1)

    def matched(code: str, itt: dict[str, Any]) -> str:
        """A programme's matched difference (all starters), or why there is none."""
        value = itt.get("difference")
        if value is not None:
            return f"{code} {_signed(100 * value, lang)}"
        key = f"programmes.{code}.matched.all_starters.difference"
        return f"{code} " + withheld.get(key, {}).get("marker", itt.get("status", ""))

    return [
        outcomes["extract_date"],
        shown("engagement.referred", eng.get("referred"), lambda v: number(v, lang)),
        shown("engagement.completion.rate", eng.get("completion", {}).get("rate"), share),
        shown("reoffending.programme.rate", reo.get("programme", {}).get("rate"), share),
        "; ".join(
            matched(code, programme["matched"]["all_starters"])
            for code, programme in outcomes.get("programmes", {}).items()
            if "all_starters" in programme.get("matched", {})
        ),
    ]


def _first_cell(entry: _Entry, lang: str) -> str:
    name = html.escape(entry.export)
    if not entry.failed:
        return f'<a href="{html.escape(entry.report)}/report.html">{name}</a>'
    if entry.problems:
        link = html.escape(label("batch_problem_list", lang))
        return f'{name} (<a href="{html.escape(entry.problems)}">{link}</a>)'
    return name


def index_page(out: Path, entries: Iterable[_Entry], title: str, lang: str = "en") -> str:
    """The HTML of ``OUT/index.html``.

    Parameters
    ----------
    out
        The batch output folder (each report's ``outcomes.json`` is read from it).
    entries
        The batch's entries (:class:`~cdanalytics.report.batch.BatchEntry`), in
        the order shown.
    title
        The evaluation's title (config ``title``).
    lang
        Language of the page's words and numbers.

    Returns
    -------
    str
        A complete, self-contained HTML page.
    """
    entries = list(entries)
    rows = []
    for entry in entries:
        cells = [
            _first_cell(entry, lang),
            html.escape(label(STATUS_KEYS.get(entry.status, entry.status), lang)),
            *map(html.escape, _headline_cells(out, entry, lang)),
            html.escape(entry.message),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{html.escape(label(key, lang))}</th>" for key in _COLUMNS)
    failed = sum(e.failed for e in entries)
    heading = html.escape(label("batch_heading", lang, title=title))
    summary = html.escape(
        label(
            "batch_summary", lang, reported=len(entries) - failed, total=len(entries), failed=failed
        )
    )
    return f"""<!DOCTYPE html>
<html lang="{html.escape(lang)}"><head><meta charset="utf-8"><title>{heading}</title>
<style>body{{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em}}
th{{background:#eef2f5}}</style></head><body>
<h1>{heading}</h1>
<p>{summary}</p>
<table><thead><tr>{header}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
{funnel_section(out, entries, lang)}</body></html>
"""
