"""Pre/post change on questionnaire scores.

- :func:`change`: paired t-test, Wilcoxon signed-rank test, Cohen's d_z and
  Hedges' g_av with CIs, Holm-adjusted p-values, per group and scale.
- :func:`reliable_change` and :func:`reliable_change_summary`: Jacobson &
  Truax reliable change and clinical significance.
- :func:`attrition`: baseline differences of those lost to follow-up.
- :func:`mixed_model`: random-intercept linear mixed model over timepoints.
- ``missing="impute"`` in :func:`change` and :func:`reliable_change`:
  multiple imputation of missing second scores (:mod:`.impute`), pooled by
  Rubin's rules (:func:`rubin_pool`).

:func:`score_table` reshapes the measures once; every analysis accepts it
in place of the export. Several children of one father (``subject_id``) are
combined per man by the rule in :data:`SUBJECT_RULES` chosen there
(``subjects="mean"`` by default, or ``"worst"``).

Instrument facts (direction, reliability, norms, cut-offs) come from the
instrument registry (:func:`cdanalytics.registry.instrument_registry`).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use, see cdanalytics._lazy
    from ._data import SUBJECT_RULES, release_score_tables, score_table
    from ._effects import EFFECT_SIZE_CONVENTIONS, hedges_j, noncentral_t_ci, paired_statistics
    from .attrition import ATTRITION_COLUMNS, attrition, welch_test
    from .change import CHANGE_COLUMNS, IMPUTED_CHANGE_COLUMNS, MISSING_OPTIONS, change, holm
    from .impute import (
        DEFAULT_PREDICTORS,
        POOLED_COLUMNS,
        ImputedScores,
        imputation_predictors,
        impute_second_scores,
        rubin_pool,
    )
    from .mixed import MIXED_SUMMARY_COLUMNS, MixedModelResult, mixed_model, profile_reml_fit
    from .reliable import (
        CHANGE_CLASSES,
        IMPUTED_RELIABLE_CHANGE_COLUMNS,
        RELIABLE_CHANGE_COLUMNS,
        RELIABLE_CHANGE_SUMMARY_COLUMNS,
        clinical_cutoff,
        reliable_change,
        reliable_change_summary,
    )

__all__ = [
    "ATTRITION_COLUMNS",
    "CHANGE_CLASSES",
    "CHANGE_COLUMNS",
    "DEFAULT_PREDICTORS",
    "EFFECT_SIZE_CONVENTIONS",
    "IMPUTED_CHANGE_COLUMNS",
    "IMPUTED_RELIABLE_CHANGE_COLUMNS",
    "MISSING_OPTIONS",
    "MIXED_SUMMARY_COLUMNS",
    "POOLED_COLUMNS",
    "RELIABLE_CHANGE_COLUMNS",
    "RELIABLE_CHANGE_SUMMARY_COLUMNS",
    "SUBJECT_RULES",
    "ImputedScores",
    "MixedModelResult",
    "attrition",
    "change",
    "clinical_cutoff",
    "hedges_j",
    "holm",
    "imputation_predictors",
    "impute_second_scores",
    "mixed_model",
    "noncentral_t_ci",
    "paired_statistics",
    "profile_reml_fit",
    "release_score_tables",
    "reliable_change",
    "reliable_change_summary",
    "rubin_pool",
    "score_table",
    "welch_test",
]

__getattr__, __dir__ = lazy_exports(__name__)
