"""Matched comparison groups: propensity scores, greedy nearest-neighbour
matching as R's MatchIt does it, balance, and effects on the matched sample.

* :mod:`.propensity` — :func:`propensity_scores` and :func:`propensity_model`
  (logistic model, its coefficients and fit statistics);
* :mod:`.nearest` — :func:`match` and :class:`MatchResult` (matched rows,
  pairs, balance, counts); the loops themselves are in :mod:`._greedy`,
  the balance statistics in :mod:`.balance`;
* :mod:`.effects` — :func:`matched_effect` (difference of rates as shares,
  cluster-robust CI; the report words it);
* :mod:`.gates` — :func:`gated_comparison`: the Justice Data Lab's gates
  (minimum cohort, balance flag and withholding) around a matched effect, with
  the share matched and the reason each unmatched person has none
  (:func:`unmatched_reasons`);
* :mod:`.cox` — :func:`matched_cox` (hazard ratio, Efron ties, robust SE
  clustered by matched set).

A typical run on the per-person reoffending table::

    outcomes = person_outcomes(export)            # cdanalytics.reoffending
    eligible = outcomes[outcomes["window_eligible"].fillna(False)]
    result = match(eligible.set_index("participant_id"),
                   covariates=["risk_level", "prior_offences", "age_band"])
    matched_effect(result, "reoffended_in_window")

The matching mirrors ``MatchIt::matchit(method = "nearest")`` (MatchIt 4.x,
``nn_matchC_vec``): every unit is put in one list sorted by its distance value
(ties keep data order); the treated units are taken one at a time in
``m_order`` (default largest propensity score first); each takes the nearest
still-available control on its left or on its right in that list, the left
one when the two are equally far; a control is never taken when it lies
outside the caliper, and without replacement it is used only once. With
``ratio = k`` this is done in *k* passes: every treated unit gets its first
control before any gets its second. With ``exact`` the same is done within
each exact stratum (strata share no controls, so doing it in one pass over a
list sorted by stratum, then distance, gives MatchIt's per-stratum result).

Implementation: controls are kept in an array sorted as above; matched
controls are deleted with two "next available" pointer arrays (one looking
left, one right) compressed as in union-find, so each look-up costs amortised
near O(1) and the whole matching O(n log n) (the sort). The order in which the
treated units take their controls is what greedy matching *is*, so without
replacement it runs as one tight loop over the treated units on plain lists
(MatchIt's is in C++); it never compares every pair. When many treated units
share a score (categorical and count covariates), each group of them that
chooses one after another does so at once, with exactly the loop's result
(:func:`._greedy.greedy_by_runs`: bracket matching within the group's run of
equal controls, a merge of the nearest free controls below and above for the
rest). With replacement no control is used up, the passes are independent of
order, and the matching is fully vectorised (``numpy.searchsorted`` plus k
vectorised passes).

The propensity model of such covariates is fitted on their distinct
combinations with the numbers of treated and comparison rows of each (the
same likelihood; statsmodels' Newton-Raphson steps and stopping rule, the
sums taken in another order: coefficients and scores agree with statsmodels'
fit on every row to within rounding, about 1e-12 relative, not bit for bit), and
the design and balance terms of every row are taken from its combination's.

Weights follow MatchIt: a matched treated unit has weight 1; a control gets
``1 / (controls in the subclass)`` from each subclass it belongs to, summed,
and the control weights are then scaled to average 1 over matched controls
(``normalize = TRUE``).

Balance follows MatchIt's ``summary.matchit`` for the ATT (see
:mod:`.balance`): standardised mean differences divide by the SD of the
treated group before matching.

References
----------
Ho, D. E., Imai, K., King, G. & Stuart, E. A. (2011). MatchIt: nonparametric
preprocessing for parametric causal inference. Journal of Statistical
Software 42(8). Source of ``nn_matchC_vec`` and ``summary.matchit``.
Austin, P. C. (2011). Optimal caliper widths for propensity-score matching
when estimating differences in means and differences in proportions in
observational studies. Pharmaceutical Statistics 10:150-161.
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of
baseline covariates between treatment groups in propensity-score matched
samples. Statistics in Medicine 28:3083-3107.
Greifer, N. & Stuart, E. A. Estimating effects after matching (MatchIt
vignette): cluster-robust standard errors by subclass (pair), and by
subclass and unit when matching with replacement (Austin & Cafri 2020).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use, see cdanalytics._lazy
    from .cox import MatchedCox, matched_cox
    from .effects import MatchedEffect, matched_effect
    from .gates import (
        GATE_STATUSES,
        UNMATCHED_REASONS,
        GatedComparison,
        balance_gate,
        gated_comparison,
        unmatched_reasons,
    )
    from .nearest import TIE_RULES, MatchResult, match
    from .propensity import MODEL_COLUMNS, PropensityModel, propensity_model, propensity_scores

__all__ = [
    "GATE_STATUSES",
    "MODEL_COLUMNS",
    "TIE_RULES",
    "UNMATCHED_REASONS",
    "GatedComparison",
    "MatchResult",
    "MatchedCox",
    "MatchedEffect",
    "PropensityModel",
    "balance_gate",
    "gated_comparison",
    "match",
    "matched_cox",
    "matched_effect",
    "propensity_model",
    "propensity_scores",
    "unmatched_reasons",
]

__getattr__, __dir__ = lazy_exports(__name__)
