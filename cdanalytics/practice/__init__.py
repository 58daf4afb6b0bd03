"""Safe & Together practice evaluation from case-file audits and family outcomes.

Tidy tables in, tidy tables out, like the other analysis packages:

- :func:`shares` and :func:`component_profile`: share of files meeting each
  audit item by team and period, with Wilson CIs.
- :func:`change`: change between periods in trained and untrained teams and
  their difference in differences, with CIs clustered by team.
- :func:`agreement`: Cohen's kappa (unweighted and weighted), Fleiss' kappa
  and Krippendorff's alpha per item on double-read files.
- :func:`family_outcomes`: family outcomes by period and training.

Audit tables are long (:data:`AUDIT_COLUMNS`: one row per file, reader and
item); :func:`audits_from_wide` turns a table with one score column per item
into that form. Items, scales and the scores that count as met come from the
audit-tool registry (:func:`cdanalytics.registry.audit_tool_registry`). The
results are raw counts and estimates: the report passes them through
disclosure control.
"""

from ._data import (
    AUDIT_COLUMNS,
    READING_RULES,
    audits_from_wide,
    file_readings,
    item_table,
    prepare_audits,
    tool_items,
)
from ._kappa import (
    KAPPA_WEIGHTS,
    agreement_weights,
    alpha_from_counts,
    fleiss_from_counts,
    kappa_from_table,
)
from .agreement import AGREEMENT_COLUMNS, AGREEMENT_STATISTICS, agreement
from .change import CHANGE_COLUMNS, CONTRASTS, change
from .family import FAMILY_COLUMNS, FAMILY_OUTCOME_KEYS, family_outcomes
from .shares import PROFILE_GROUP, SHARE_COLUMNS, component_profile, shares

__all__ = [
    "AGREEMENT_COLUMNS",
    "AGREEMENT_STATISTICS",
    "AUDIT_COLUMNS",
    "CHANGE_COLUMNS",
    "CONTRASTS",
    "FAMILY_COLUMNS",
    "FAMILY_OUTCOME_KEYS",
    "KAPPA_WEIGHTS",
    "PROFILE_GROUP",
    "READING_RULES",
    "SHARE_COLUMNS",
    "agreement",
    "agreement_weights",
    "alpha_from_counts",
    "audits_from_wide",
    "change",
    "component_profile",
    "family_outcomes",
    "file_readings",
    "fleiss_from_counts",
    "item_table",
    "kappa_from_table",
    "prepare_audits",
    "shares",
    "tool_items",
]
