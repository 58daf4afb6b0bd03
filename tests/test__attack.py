"""The attacker itself (tests/_attack.py): it finds each leak that issue 10 names, on
small hand-written report folders, and claims nothing that the published numbers
leave open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _attack import (
    attack,
    attack_batch,
    attack_one_removed,
    parse_number,
    read_published,
    svg_texts,
    true_counts,
)


def write_report(
    folder: Path,
    tables: dict[str, str],
    *,
    config: dict | None = None,
    outcomes: dict | None = None,
    rows: dict | None = None,
    html: str = "",
    figures: dict[str, str] | None = None,
) -> Path:
    """A report folder holding only what a test needs."""
    (folder / "tables").mkdir(parents=True)
    (folder / "figures").mkdir()
    for name, text in tables.items():
        (folder / "tables" / f"{name}.csv").write_text(text.strip() + "\n", encoding="utf-8")
    run = {
        "config": {"groupings": ["programme"], "disclosure": {"threshold": 10}, **(config or {})}
    }
    if rows is not None:
        run["rows"] = rows
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    (folder / "outcomes.json").write_text(json.dumps(outcomes or {}), encoding="utf-8")
    (folder / "report.html").write_text(html, encoding="utf-8")
    for name, svg in (figures or {}).items():
        (folder / "figures" / f"{name}.svg").write_text(svg, encoding="utf-8")
    return folder


def recovered(*folders: Path, **kwargs) -> dict[str, int]:
    found = attack(*(read_published(f) for f in folders), **kwargs)
    return {line.split(" = ")[0]: int(line.split(" = ")[1]) for line in found.lines()}


ENGAGEMENT = """
programme,n_referred,n_assessed,n_potential,n_completed,completion_rate
a,40,30,20,,
b,25,[c],,8,
All,65,55,40,20,0.5
"""


def test_a_total_minus_the_published_parts_gives_the_withheld_part(tmp_path):
    found = recovered(write_report(tmp_path / "r", {"engagement": ENGAGEMENT}))
    assert found["engagement[programme=b].n_assessed"] == 25
    assert found["engagement[programme=b].n_potential"] == 20


def test_a_rate_printed_with_its_base_gives_the_numerator(tmp_path):
    table = "programme,n_potential,n_completed,completion_rate\na,20,,0.25\nb,15,9,0.6"
    found = recovered(write_report(tmp_path / "r", {"engagement": table}), families=["rates"])
    assert found == {"engagement[programme=a].n_completed": 5}


def test_a_rate_is_read_to_the_precision_of_its_digits(tmp_path):
    table = "programme,n_potential,n_completed,completion_rate\na,20,,0.35\nb,20,,0.3"
    found = attack(read_published(write_report(tmp_path / "r", {"engagement": table})))
    assert [line for line in found.lines()] == ["engagement[programme=a].n_completed = 7"]
    lo, hi = found.bounds[("", "engagement", "n_completed", frozenset({("programme", "b")}))]
    assert (lo, hi) == pytest.approx((5, 7))  # 0.25..0.35 of 20


def test_no_offences_per_person_means_no_reoffenders(tmp_path):
    table = (
        "programme,group,n_in_cohort,n_not_yet_eligible,n_eligible,n_reoffenders,offences_per_person\n"
        "a,programme,25,5,20,,0.00"
    )
    folder = write_report(tmp_path / "r", {"fixed_window": table})
    found = recovered(folder, families=["within", "rates"])
    assert found == {"fixed_window[group=programme, programme=a].n_reoffenders": 0}


KM = """
group,horizon_months,n_at_risk,n_events,n_censored
programme,6.0,27,,0
programme,12.0,23,,
"""
COHORT = """
programme,group,n_in_cohort
a,programme,30
All,programme,30
"""


def test_the_cohort_minus_those_at_risk_gives_the_events(tmp_path):
    folder = write_report(tmp_path / "r", {"km_horizons": KM, "fixed_window": COHORT})
    assert recovered(folder, families=["km"]) == {
        "km_horizons[group=programme, horizon_months=6.0].n_events": 3
    }
    assert recovered(folder, families=["within"]) == {}


def test_at_risk_numbers_drawn_under_the_curve_are_published(tmp_path):
    svg = "\n".join(
        [
            '<g id="xtick_1"><!-- 6 --></g><g id="xtick_2"><!-- 12 --></g>',
            '<g id="at_risk_group"><!-- Programme --></g>',
            '<g id="at_risk"><!-- 27 --></g><g id="at_risk"><!-- 23 --></g>',
        ]
    )
    km = "group,horizon_months,n_at_risk,n_events,n_censored\nprogramme,6.0,<10,,\n"
    folder = write_report(
        tmp_path / "r", {"km_horizons": km}, figures={"cumulative_reoffending": svg}
    )
    assert svg_texts(svg)[2] == ("at_risk_group", "Programme")
    assert recovered(folder, families=["km"]) == {
        "km_horizons[group=programme, horizon_months=6.0].n_at_risk": 27
    }


def test_run_json_row_counts_undo_the_rows_table(tmp_path):
    rows = "table,rows_read,rows_accepted,rows_quarantined\nsessions,[c],[c],<10"
    run_rows = {"sessions": {"rows_read": 100, "rows_accepted": 97, "rows_quarantined": 3}}
    folder = write_report(tmp_path / "r", {"rows": rows}, rows=run_rows)
    assert recovered(folder, families=["duplicates"]) == {
        "rows[table=sessions].rows_accepted": 97,
        "rows[table=sessions].rows_quarantined": 3,
        "rows[table=sessions].rows_read": 100,
    }


def test_an_html_table_that_shows_what_the_csv_withholds(tmp_path):
    html = (
        "<table><tr><th>Programme</th><th>Referred</th><th>Assessed</th></tr>"
        "<tr><td>A</td><td>40</td><td>30</td></tr>"
        "<tr><td>B</td><td>25</td><td>21</td></tr>"
        "<tr><td>C</td><td>12</td><td>11</td></tr>"
        "<tr><td>All</td><td>77</td><td>62</td></tr></table>"
    )
    table = "programme,n_referred,n_assessed\na,40,30\nb,25,<10\nc,12,11\nAll,77,[c]"
    folder = write_report(tmp_path / "r", {"engagement": table}, html=html)
    found = recovered(folder, families=["duplicates"])
    assert found == {"engagement.n_assessed": 62, "engagement[programme=b].n_assessed": 21}


def test_two_groupings_differenced(tmp_path):
    coarse = "programme,n_referred\na,25\nb,30\nAll,55"
    fine = "programme,site,n_referred\na,x,20\na,y,<10\nb,x,[c]\nb,y,16\nAll,All,55"
    one = write_report(tmp_path / "one", {"engagement": coarse})
    two = write_report(
        tmp_path / "two", {"engagement": fine}, config={"groupings": ["programme", "site"]}
    )
    assert recovered(two) == {}
    assert recovered(one, two) == {
        "engagement[programme=a, site=y].n_referred": 5,
        "engagement[programme=b, site=x].n_referred": 14,
    }
    assert recovered(one, two, families=["within"]) == {}


def test_two_thresholds_differenced(tmp_path):
    at10 = write_report(tmp_path / "a", {"engagement": "programme,n_referred\na,10\nb,<10"})
    at11 = write_report(tmp_path / "b", {"engagement": "programme,n_referred\na,<11\nb,<11"})
    assert recovered(at11) == {}
    assert recovered(at10, at11) == {"engagement[programme=a].n_referred": 10}


def test_a_secondary_suppression_rectangle_holds(tmp_path):
    """Two rows and two columns each with two withheld cells: nothing is exact."""
    table = """
programme,n_referred,n_assessed,n_started
a,40,[c],[c]
b,30,[c],[c]
c,50,45,40
All,120,100,80
"""
    found = attack(read_published(write_report(tmp_path / "r", {"engagement": table})))
    assert found.lines() == []
    lo, hi = found.bounds[("", "engagement", "n_assessed", frozenset({("programme", "a")}))]
    assert hi - lo >= 1


def test_a_removed_person_shows_in_every_published_difference(tmp_path):
    full = write_report(tmp_path / "full", {"engagement": "programme,n_referred\na,20\nb,31"})
    less = write_report(tmp_path / "less", {"engagement": "programme,n_referred\na,20\nb,30"})
    diff = attack_one_removed(read_published(full), read_published(less))
    assert diff.lines() == [
        "full:engagement[programme=a].n_referred: not in",
        "full:engagement[programme=b].n_referred: in",
    ]


def test_the_batch_index_rate_with_the_reports_base(tmp_path):
    table = "programme,n_potential,n_completed\na,20,\nAll,20,"
    folder = write_report(tmp_path / "x", {"engagement": table})
    index = (
        "<table><tr><th>Export</th><th>Referred</th><th>Completion rate</th></tr>"
        "<tr><td>x</td><td>40</td><td>25.0%</td></tr></table>"
    )
    found = attack_batch(index, {"x": read_published(folder)})
    assert [line for line in found.lines() if "n_completed" in line] == [
        "x:engagement.n_completed = 5",
        "x:engagement[programme=a].n_completed = 5",
    ]


def test_rounded_counts_are_read_as_intervals(tmp_path):
    table = "programme,n_referred\na,20\nb,<10\nAll,25"
    config = {"disclosure": {"threshold": 10, "round_to": 5}}
    folder = write_report(tmp_path / "r", {"engagement": table}, config=config)
    found = attack(read_published(folder))
    assert found.lines() == []
    assert found.bounds[("", "engagement", "n_referred", frozenset({("programme", "b")}))] == (
        1.0,
        9.0,
    )


@pytest.mark.parametrize(
    ("text", "value", "half"),
    [("0.25", 0.25, 0.005), ("1,400", 1400, 0.5), ("48.4%", 0.484, 0.0005), ("12", 12, 0.5)],
)
def test_printed_numbers_carry_the_precision_of_their_digits(text, value, half):
    parsed = parse_number(text)
    assert parsed[0] == pytest.approx(value)
    assert parsed[1] == pytest.approx(half)


def test_true_counts_come_from_the_export(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "participants.csv").write_text(
        "participant_id,programme,site,group,assessed,eligible,exclusion_reason,start_date\n"
        "P1,a,x,programme,true,true,,2020-01-01\n"
        "P2,a,y,programme,true,false,unsuitable,\n"
        "P3,b,x,comparison,,,,\n",
        encoding="utf-8",
    )
    truth = true_counts(export, ["programme", "site"])
    assert truth[("engagement", "n_referred", frozenset())] == 2
    assert truth[("engagement", "n_started", frozenset({("programme", "a"), ("site", "x")}))] == 1
    assert truth[("flow_exits", "assessed", frozenset({("reason", "unsuitable")}))] == 1


def test_a_bar_drawn_to_scale_gives_its_count(tmp_path):
    """The width of a stacked bar, read against the axis ticks, times the n in its label."""

    def tick(axis: str, i: int, label: str, x: float, y: float) -> str:
        return (
            f'<g id="{axis}_{i}"><g><use xlink:href="#m1" x="{x}" y="{y}"/></g>'
            f"<g><!-- {label} --></g></g>"
        )

    def bar(name: str, x0: float, x1: float) -> str:
        return f'<g id="bar_{name}"><path d="M {x0} 10 L {x1} 10 L {x1} 30 L {x0} 30 z "/></g>'

    svg = "".join(
        [
            tick("xtick", 1, "0%", 100.0, 50.0),
            tick("xtick", 2, "100%", 300.0, 50.0),
            tick("ytick", 1, "CTS2 · Injury (n = 20)", 100.0, 20.0),
            bar("improved", 100.0, 270.0),
            bar("deteriorated", 270.0, 300.0),
        ]
    )
    table = (
        "instrument,scale,informant,baseline,improved,deteriorated,n_total\n"
        "cts2,injury,partner,unknown,[c],<10,20\n"
        "sdq,total,partner,clinical,5,0,5"
    )
    folder = write_report(
        tmp_path / "r", {"reliable_change": table}, figures={"reliable_change": svg}
    )
    found = recovered(folder, families=["duplicates"])
    where = "reliable_change[baseline=unknown, informant=partner, instrument=cts2, scale=injury]"
    assert found == {f"{where}.deteriorated": 3, f"{where}.improved": 17}


@pytest.mark.parametrize(
    ("rows", "found"),
    [
        # 5 means 3..7; 23 and 27 are exact, so a = 4: a small count pinned
        ("a,5\nb,23\nAll,27", ["engagement[programme=a].n_referred = 4"]),
        # 10 means 8..12; pinned to 11, which is not small: no disclosure
        ("a,10\nb,23\nAll,34", []),
    ],
)
def test_a_rounded_count_must_not_be_pinned_below_the_threshold(tmp_path, rows, found):
    config = {"disclosure": {"threshold": 10, "round_to": 5}}
    table = "programme,n_referred\n" + rows
    folder = write_report(tmp_path / "r", {"engagement": table}, config=config)
    assert attack(read_published(folder)).lines() == found
