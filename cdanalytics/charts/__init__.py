"""Charts of the evaluation results, in English or Dutch, in one colour-blind-safe style.

Every chart function takes a tidy result table (compute first, then plot),
draws on ``ax`` (a new figure if ``None``) and returns the Axes; it never
shows or prints anything. ``lang`` picks English (``"en"``) or Dutch
(``"nl"``) labels. With ``disclosure=DisclosurePolicy(...)`` the table is
protected first (:mod:`cdanalytics.disclosure`): withheld groups are not
drawn and a note under the chart says so.

Typical use::

    from cdanalytics import charts, engagement as eng
    data = eng.prepare_engagement(export)
    ax = charts.completion_chart(eng.completion(data, by="site"), lang="nl")
    ax.figure.savefig("completion.svg")

A new figure uses constrained layout, which makes room for what is written
outside the Axes (numbers at risk, value labels, the disclosure note). When
drawing on your own Axes, save with ``bbox_inches="tight"`` so that those
stay in the picture. :func:`svg_text` gives that SVG as text, drawn faster
(each text measured once). The style (:data:`RC_PARAMS`, Okabe-Ito colours) is
applied only while a chart is drawn; global ``rcParams`` are never changed.

============================  ==============================================
Chart                         Takes
============================  ==============================================
participant_flow              engagement.flow (one row) + flow_exits
completion_chart              engagement.completion
retention_chart               engagement.retention
dropout_timing_chart          engagement.dropout_timing
cumulative_reoffending_chart  CumulativeReoffending.curve + at_risk_table
forest_plot                   matched_effect(...).summary rows, prepost.change,
                              CoxResult.summary
love_plot                     MatchResult.balance (+ .counts)
propensity_overlap            MatchResult.scores
prepost_means                 mixed_model_means(...) or change_means(change)
jacobson_truax_plot           prepost.reliable_change (one scale)
reliable_change_bars          prepost.reliable_change_summary
funnel_plot                   compare.casemix_comparison(...).table
cohort_trend_chart            compare.casemix_comparison(..., "referral_quarter")
share_heatmap                 practice.shares by team (and period)
slope_chart                   practice.change
agreement_chart               practice.agreement
stage_funnel_chart            engagement.stage_completion (one programme)
============================  ==============================================
"""

from ._style import (
    CHANGE_CLASS_COLOURS,
    MIN_FONT_PT,
    OKABE_ITO,
    PALETTE,
    RC_PARAMS,
    smallest_font,
    styled,
)
from .engagement import completion_chart, dropout_timing_chart, retention_chart
from .flow import participant_flow
from .forest import EFFECT_COLUMNS, forest_plot
from .funnel import cohort_trend_chart, funnel_plot
from .matching import love_plot, propensity_overlap
from .practice import agreement_chart, share_heatmap, slope_chart
from .prepost import (
    MEANS_COLUMNS,
    change_means,
    jacobson_truax_plot,
    mixed_model_means,
    prepost_means,
    reliable_change_bars,
)
from .reoffending import cumulative_reoffending_chart
from .stages import stage_funnel_chart
from .svg import svg_text

__all__ = [
    "CHANGE_CLASS_COLOURS",
    "EFFECT_COLUMNS",
    "MEANS_COLUMNS",
    "MIN_FONT_PT",
    "OKABE_ITO",
    "PALETTE",
    "RC_PARAMS",
    "agreement_chart",
    "change_means",
    "cohort_trend_chart",
    "completion_chart",
    "cumulative_reoffending_chart",
    "dropout_timing_chart",
    "forest_plot",
    "funnel_plot",
    "jacobson_truax_plot",
    "love_plot",
    "mixed_model_means",
    "participant_flow",
    "prepost_means",
    "propensity_overlap",
    "reliable_change_bars",
    "retention_chart",
    "share_heatmap",
    "slope_chart",
    "smallest_font",
    "stage_funnel_chart",
    "styled",
    "svg_text",
]
