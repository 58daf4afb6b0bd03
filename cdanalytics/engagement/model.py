"""Who drops out: logistic regression of dropout on covariates the caller names."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from ..errors import (
    ConfigError,
    ConvergenceError,
    DataQualityWarning,
    InsufficientDataError,
    StatisticalWarning,
)
from ..io.export import Export
from ._prepare import EngagementData, as_engagement_data, shared_parameters
from .status import is_potential

__all__ = ["DropoutModel", "dropout_model"]

#: Events per parameter below which a warning is given (Peduzzi et al. 1996).
MIN_EVENTS_PER_PARAMETER = 10


@dataclass(frozen=True)
class DropoutModel:
    """A fitted logistic regression of dropout (versus completion).

    Attributes
    ----------
    summary
        One row per term other than the intercept: ``term, covariate, level,
        reference, odds_ratio, ci_low, ci_high, p_value``. ``level`` and
        ``reference`` are the category and its reference for a categorical
        covariate (treatment coding), empty for a numeric one (odds ratio per
        unit).
    n_used
        Participants in the fit (potential completers who completed or
        dropped out, with every covariate recorded).
    n_events
        Dropouts among them.
    n_missing
        Participants left out because a covariate was missing.
    references
        Reference level of each categorical covariate.
    completion_rule
        The completion rule(s) that define completion and dropout.
    result
        The statsmodels ``LogitResults`` for further inspection.
    """

    summary: pd.DataFrame
    n_used: int
    n_events: int
    n_missing: int
    references: dict[str, str] = field(default_factory=dict)
    completion_rule: str = ""
    result: Any = None

    def __repr__(self) -> str:
        """Shape and key figures: terms, people used, dropouts, people left out."""
        return (
            f"<cdanalytics.DropoutModel: {len(self.summary):,} terms fitted on"
            f" {self.n_used:,} people with {self.n_events:,} dropouts"
            f" ({self.n_missing:,} left out for a missing covariate)>"
        )


_NOT_CONVERGED = (
    "The dropout model did not converge in 100 iterations; this usually means a covariate "
    "separates dropouts from completers (almost) perfectly. Leave out or coarsen the covariate."
)


def _design(
    frame: pd.DataFrame, covariates: Sequence[str], reference: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Design matrix (intercept first), its term table, and the reference levels."""
    columns = {"const": np.ones(len(frame))}
    terms = []
    references = {}
    for name in covariates:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            if name in reference:
                raise ConfigError(f"Covariate {name!r} is numeric; it takes no reference level.")
            columns[name] = values.to_numpy(dtype=float)
            terms.append({"term": name, "covariate": name, "level": "", "reference": ""})
            continue
        cat = values.astype("category").cat.remove_unused_categories()
        levels = [str(c) for c in cat.cat.categories]
        ref = str(reference.get(name, levels[0]))
        if ref not in levels:
            raise ConfigError(
                f"Reference level {ref!r} of {name!r} does not occur among the participants "
                f"modelled; levels: {', '.join(levels)}."
            )
        references[name] = ref
        codes = cat.cat.codes.to_numpy()
        for code, level in enumerate(levels):
            if level != ref:
                columns[f"{name}[{level}]"] = (codes == code).astype(float)
                terms.append(
                    {
                        "term": f"{name}[{level}]",
                        "covariate": name,
                        "level": level,
                        "reference": ref,
                    }
                )
    terms = pd.DataFrame(terms, columns=["term", "covariate", "level", "reference"])
    return pd.DataFrame(columns, index=frame.index), terms, references


def _check_identifiable(x: pd.DataFrame, y: np.ndarray, terms: pd.DataFrame) -> None:
    """Clear errors for too few events, collinear terms and separated categories."""
    n_events = int(y.sum())
    minority = min(n_events, len(y) - n_events)
    n_params = x.shape[1]
    if minority < n_params:
        raise InsufficientDataError(
            f"Too few events to fit the dropout model: {n_events} dropouts and "
            f"{len(y) - n_events} completers for {n_params} parameters. Use fewer covariates "
            "or a larger cohort."
        )
    if minority < MIN_EVENTS_PER_PARAMETER * (n_params - 1):
        warnings.warn(
            f"Only {minority / max(n_params - 1, 1):.1f} events per parameter (fewer than "
            f"{MIN_EVENTS_PER_PARAMETER}); odds ratios may be biased and intervals too narrow.",
            StatisticalWarning,
            stacklevel=3,
        )
    values = x.to_numpy()
    if np.linalg.matrix_rank(values.T @ values) < n_params:
        raise InsufficientDataError(
            "The covariates are collinear or constant among the participants modelled "
            f"({', '.join(x.columns[1:])}); drop or merge some."
        )
    for term in terms.loc[terms["level"] != "", "term"]:
        has = x[term].to_numpy() == 1
        events = int(y[has].sum())
        if events in (0, int(has.sum())):
            outcome = "dropped out" if events else "completed"
            raise ConvergenceError(
                f"Separation: all {int(has.sum())} participants with {term} {outcome}, so its "
                "odds ratio is not estimable. Merge that level with another or leave the "
                "covariate out."
            )


@shared_parameters
def dropout_model(
    data: Export | EngagementData,
    covariates: Sequence[str],
    *,
    reference: Mapping[str, Any] | None = None,
    programmes: Mapping[str, Any] | None = None,
    closed_cases: bool = True,
    alpha: float = 0.05,
) -> DropoutModel:
    """Logistic regression of dropout versus completion on named covariates.

    Among potential completers whose exit status used is ``completed`` or
    ``dropped_out`` (the outcome is 1 for dropped out). Numeric and boolean
    covariates enter linearly; any other covariate is categorical with
    treatment coding against its first level (the first category, or the
    first in sorted order) unless ``reference`` names another. Fitted by
    maximum likelihood (``statsmodels`` ``Logit``); Wald intervals and p-values.

    Parameters
    ----------
    {data}
    covariates
        Column names of the prepared episodes (for example ``risk_level``,
        ``age_band``, ``prior_offences``, ``referral_source``).
    reference
        Reference level per categorical covariate, e.g. ``{"risk_level": "low"}``.
    {programmes}
    {closed_cases}
    {alpha}

    Returns
    -------
    DropoutModel

    Raises
    ------
    ConfigError
        Unknown covariate or reference level.
    InsufficientDataError
        Fewer events (or non-events) than parameters, or collinear covariates.
        Fewer than 10 events per parameter only warns.
    ConvergenceError
        Separation (a category in which everyone dropped out, or no one did,
        or complete separation by a numeric covariate) or no convergence.

    References
    ----------
    Peduzzi, P. et al. (1996). A simulation study of the number of events per
    variable in logistic regression analysis. J Clin Epidemiol 49:1373-1379.
    """
    prepared = as_engagement_data(data, programmes)
    ep = prepared.episodes
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    unknown = [c for c in covariates if c not in ep.columns]
    if unknown:
        raise ConfigError(f"Unknown covariate(s) {', '.join(unknown)}; name participant columns.")
    status = ep["exit_status_used"]
    rows = is_potential(ep, closed_cases) & status.isin(["completed", "dropped_out"]).to_numpy()
    frame = ep.loc[rows, list(dict.fromkeys(["programme", *covariates]))]
    complete = frame[covariates].notna().all(axis=1).to_numpy()
    n_missing = int((~complete).sum())
    if n_missing:
        warnings.warn(
            f"{n_missing} participants left out of the dropout model: a covariate is missing.",
            DataQualityWarning,
            stacklevel=2,
        )
    frame = frame.loc[complete]
    y = (status.loc[frame.index] == "dropped_out").to_numpy(dtype=float)
    x, terms, references = _design(frame, covariates, reference or {})
    _check_identifiable(x, y, terms)
    try:
        with warnings.catch_warnings(), np.errstate(over="ignore"):
            warnings.simplefilter("error", PerfectSeparationWarning)
            warnings.simplefilter("error", ConvergenceWarning)
            fit = sm.Logit(y, x, check_rank=False).fit(disp=0, maxiter=100)
    except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError) as err:
        raise ConvergenceError(
            "The dropout model cannot be fitted: the covariates separate dropouts from "
            f"completers perfectly ({err}). Leave out or coarsen the covariate."
        ) from err
    except ConvergenceWarning as err:
        raise ConvergenceError(_NOT_CONVERGED) from err
    if not fit.mle_retvals.get("converged", True):
        raise ConvergenceError(_NOT_CONVERGED)
    ci = fit.conf_int(alpha=alpha)
    summary = terms.assign(
        odds_ratio=np.exp(fit.params.to_numpy()[1:]),
        ci_low=np.exp(ci.iloc[1:, 0].to_numpy()),
        ci_high=np.exp(ci.iloc[1:, 1].to_numpy()),
        p_value=fit.pvalues.to_numpy()[1:],
    )
    texts = prepared.rule_texts()
    rules = sorted(map(str, frame["programme"].unique()))
    return DropoutModel(
        summary=summary,
        n_used=len(y),
        n_events=int(y.sum()),
        n_missing=n_missing,
        references=references,
        completion_rule="; ".join(f"{code}: {texts[code]}" for code in rules),
        result=fit,
    )
