"""Vectorised Cox partial likelihood (Efron or Breslow ties, strata, case
weights) and Newton-Raphson; shared by :func:`cdanalytics.reoffending.cox`
and :func:`cdanalytics.matching.matched_cox`. The rows' sort and event-time
bookkeeping (:class:`RiskSets`, :func:`prepare`, :func:`sort_order`) are
:mod:`cdanalytics._cox_risk_sets`'s, importable from here.

``statsmodels`` ``PHReg`` computes the same quantities without case weights
(and is a reference the tests check this module against), but prepares its
risk sets with Python loops over rows and iterates over the distinct event
times in Python: on a million people with fifteen terms a fit takes minutes.
Here the rows are sorted once by (stratum, time, events first), so the tied
events of an event time are a block of consecutive rows. Each evaluation of
the likelihood then reads the design matrix three times: x'b, one sparse
product giving Σ r·x over every block of rows (the tied events of each event
time, and the rows between them), and X' diag(u) X accumulated over chunks of
rows that stay in cache. Risk-set sums are reverse cumulative sums of the
block sums (restarting at each stratum); everything else is a sum over the
event slots or the event times, never an array of slots × terms:

    score = Σ_events v_i x_i - Σ_k (S1_k H_k - D1_k B_k)
    I = X' diag(u) X - Σ_k (α_k S1_k S1_k' - β_k (S1_k D1_k' + D1_k S1_k') + γ_k D1_k D1_k')

where r = v·exp(x'b) is a row's risk weight with case weight v; for event
slot s (the l-th of the m events tied at time t_k, with f = l/m for Efron and
0 for Breslow), c_s = S0_k - f·D0_k and v_k is the mean case weight of the m
tied events. S are risk-set sums and D sums over the tied events of r and
r·x; the slot mean is a_s = (S1_k - f·D1_k) / c_s, so that Σ_s v_s a_s and
Σ_s v_s a_s a_s' collapse to the per-time sums H_k = Σ_s v_k/c_s, B_k =
Σ_s v_k f/c_s, α_k = Σ_s v_k/c_s², β_k = Σ_s v_k f/c_s², γ_k = Σ_s v_k f²/c_s².
u_i = r_i (A_i - δ_i B_k(i)), A_i the sum of H over the event times at which
row i is at risk, δ_i its event indicator. The log partial likelihood is
Σ_events v_i x_i'b - Σ_s v_s log c_s, as R's ``coxph`` and lifelines
(``weights_col``) weight Efron's approximation.

A design of few distinct rows (categorical covariates and counts: a million
people with fifteen such terms have some 18,000) is held as those rows and
the number of each row's among them, found once by a random linear
combination of the terms and checked value by value. x'b and exp are then
taken per distinct row and gathered, the block sums read the distinct rows
(which stay in cache) instead of streaming X, and X' diag(u) X is
P' diag(Σu) P over them: each evaluation passes over a few vectors of rows
but never over rows × terms.

Counting-process rows, at risk on (start, stop] (time-varying covariates,
Andersen & Gill 1982), keep the same sort by stop time: the rows of each
stratum that start at or after an event time are in its reverse cumulative
sums but not at risk, so their sums (one more sparse product, over the rows
grouped by entry) are subtracted from S, and the sum of H a row accumulates
runs from its entry to its stop. Right-censored data take the path above
unchanged.

References
----------
Efron, B. (1977). The efficiency of Cox's likelihood function for censored
data. JASA 72:557-565.
Andersen, P. K. & Gill, R. D. (1982). Cox's regression model for counting
processes: a large sample study. Annals of Statistics 10:1100-1120.
Therneau, T. M. & Grambsch, P. M. (2000). Modeling Survival Data: Extending
the Cox Model, chapters 3, 4 and 7 (score and Schoenfeld residuals, case
weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ._cox_risk_sets import CHUNK_VALUES, RiskSets, prepare, sort_order
from .errors import ConvergenceError

__all__ = [
    "RiskSets",
    "Sums",
    "evaluate",
    "fit",
    "prepare",
    "schoenfeld",
    "score_residuals",
    "sort_order",
    "sums",
]

MAX_ITER = 30
MAX_HALVINGS = 30


def _run_sums(bounds: np.ndarray, columns: np.ndarray, values: np.ndarray, x: np.ndarray):
    """Σ values·x[columns] over runs of consecutive values (run j: bounds[j]
    to bounds[j + 1]) as one sparse product: a single pass over ``x`` (the
    rows, ``columns`` 0, 1, ...; or the distinct rows, ``columns`` the
    pattern of each) without a rows × terms temporary."""
    runs = sparse.csr_array((values, columns, bounds), shape=(bounds.size - 1, x.shape[0]))
    return runs @ x


def _bin_sums(bins: np.ndarray, values: np.ndarray, x: np.ndarray, n_bins: int):
    """Σ values·x over the rows of each bin (``bins``: int32 bin of each
    row), as one sparse product with one entry per column: a single pass
    over ``x`` in row order, without sorting the rows by bin."""
    columns = sparse.csc_array(
        (values, bins, np.arange(bins.size + 1, dtype=np.int32)), shape=(n_bins, x.shape[0])
    )
    return columns @ x


def _cumsum_within(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Cumulative sums along axis 0 restarting at each new ``segment`` code
    (codes are contiguous). pandas sums each segment on its own, so a small
    late stratum does not lose precision to the totals of earlier ones."""
    if segment[0] == segment[-1]:
        return np.cumsum(values, axis=0)
    frame = pd.DataFrame(values) if values.ndim == 2 else pd.Series(values)
    return frame.groupby(segment, sort=False).cumsum(skipna=False).to_numpy()


def _reverse_cumsum_within(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    return _cumsum_within(values[::-1], segment[::-1])[::-1]


@dataclass(frozen=True)
class Sums:
    """Risk weights at one coefficient vector and the sums over risk sets."""

    shift: float  # max x'b: risk weights are scaled by exp(-shift)
    risk: np.ndarray  # case weight · exp(x'b - shift), rows in sorted order
    s0: np.ndarray  # Σ r over the risk set of each event time
    s1: np.ndarray  # Σ r·x over the risk set of each event time (times × terms)
    d0: np.ndarray  # Σ r over the tied events of each event time
    d1: np.ndarray  # Σ r·x over the tied events of each event time
    c: np.ndarray  # denominator of each event slot


def sums(rs: RiskSets, beta: np.ndarray) -> Sums:
    """Risk weights, risk-set sums S, tied-event sums D and slot denominators c.

    Σ r and Σ r·x over every block of rows, then reverse cumulative sums of
    those over the blocks of each stratum, taken at the block of each event
    time's tied events (its first rows at risk).
    """
    if rs.patterns is None:
        risk = rs.x_rows @ beta
        shift = float(risk.max())
        risk -= shift
        np.exp(risk, out=risk)
        risk *= rs.weight
        block1 = _run_sums(rs.block_bounds, rs.columns, risk, rs.x_rows)
    else:  # exp(x'b) of each distinct row, then one gather
        linear = rs.patterns @ beta
        shift = float(linear.max())
        risk = np.exp(linear - shift)[rs.pattern]
        if not rs.unit_weight:
            risk *= rs.weight
        block1 = _run_sums(rs.block_bounds, rs.pattern, risk, rs.patterns)
    block0 = np.add.reduceat(risk, rs.block_bounds[:-1])
    k = rs.block_k
    d0, d1 = block0[k], block1[k]
    s0 = _reverse_cumsum_within(block0, rs.block_stratum)[k]
    s1 = _reverse_cumsum_within(block1, rs.block_stratum)[k]
    if rs.entry is not None:  # less the rows not yet at risk
        n_bins = rs.counts.size + 1
        late0 = np.bincount(rs.entry_bins, weights=risk, minlength=n_bins)[1:]
        late1 = _bin_sums(rs.entry_bins, risk, rs.x, n_bins)[1:]
        s0 = s0 - _reverse_cumsum_within(late0, rs.k_stratum)
        s1 = s1 - _reverse_cumsum_within(late1, rs.k_stratum)
    c = s0[rs.event_k] - rs.fraction * d0[rs.event_k]
    return Sums(shift=shift, risk=risk, s0=s0, s1=s1, d0=d0, d1=d1, c=c)


def _per_time(rs: RiskSets, per_slot: np.ndarray) -> np.ndarray:
    return np.add.reduceat(per_slot, rs.starts, axis=0)


def _at_or_before(rs: RiskSets, per_time: np.ndarray) -> np.ndarray:
    """Σ over the event times of each row's stratum at which it is at risk
    (those at or before its time, after its entry); ``per_time`` may have a
    second axis."""
    total = _cumsum_within(per_time, rs.k_stratum)
    total = np.concatenate([np.zeros((1, *total.shape[1:])), total])  # 0: none
    cumulative = total[rs.bucket_bins]
    if rs.entry is not None:  # less the event times at or before the row's start
        cumulative -= total[rs.entry_bins]
    return cumulative


def _gram(rs: RiskSets, u: np.ndarray) -> np.ndarray:
    """X' diag(u) X for u >= 0 (``u`` is clipped at 0 in place): over the
    distinct rows when the design has few (their sums of u, then
    P' diag(Σu) P), else chunk by chunk (each a symmetric rank-k update of
    sqrt(u)·x) so that no rows × terms temporary is made."""
    u = np.maximum(u, 0.0, out=u)
    if rs.patterns is not None:
        total = np.bincount(rs.pattern, weights=u, minlength=len(rs.patterns))
        return (rs.patterns * total[:, None]).T @ rs.patterns
    x = rs.x_rows
    root = np.sqrt(u)
    out = np.zeros((x.shape[1], x.shape[1]))
    chunk = max(1024, CHUNK_VALUES // x.shape[1])
    for lo in range(0, x.shape[0], chunk):
        z = x[lo : lo + chunk] * root[lo : lo + chunk, None]
        out += z.T @ z
    return out


def evaluate(rs: RiskSets, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score vector and information matrix at ``beta``."""
    sm = sums(rs, beta)
    v, f = rs.slot_weight, rs.fraction
    loglik = float(rs.weighted_events @ beta - v @ (np.log(sm.c) + sm.shift))
    hazard = v / sm.c
    h, b = _per_time(rs, hazard), _per_time(rs, hazard * f)
    square = hazard / sm.c
    alpha, beta_, gamma = (_per_time(rs, square * f**j) for j in (0, 1, 2))
    score = rs.weighted_events - (h @ sm.s1 - b @ sm.d1)
    u = _at_or_before(rs, h)
    u *= sm.risk
    u[rs.event_pos] -= sm.risk[rs.event_pos] * b[rs.event_k]
    cross = sm.s1.T @ (beta_[:, None] * sm.d1)
    information = _gram(rs, u) - (
        sm.s1.T @ (alpha[:, None] * sm.s1) - cross - cross.T + sm.d1.T @ (gamma[:, None] * sm.d1)
    )
    return loglik, score, information


def fit(
    rs: RiskSets, p: int, message: str
) -> tuple[np.ndarray, float, np.ndarray, tuple[float, np.ndarray, np.ndarray]]:
    """Maximise the partial likelihood by Newton-Raphson from b = 0, halving
    steps that lower it (as R's ``coxph``); converged when every step is below
    1e-9 · (1 + |b|).

    Returns
    -------
    (beta, loglik, information, (loglik, score, information) at 0)

    Raises
    ------
    ConvergenceError
        No convergence in 30 iterations (a coefficient heading to infinity
        takes steps of about 1 for ever), a singular information matrix, or
        non-finite values; with ``message``.
    """
    beta = np.zeros(p)
    at_zero = current = evaluate(rs, beta)
    with np.errstate(all="ignore"):
        for _ in range(MAX_ITER):
            loglik, score, information = current
            try:
                step = np.linalg.solve(information, score)
            except np.linalg.LinAlgError as exc:
                raise ConvergenceError(message) from exc
            for _ in range(MAX_HALVINGS):
                candidate = evaluate(rs, beta + step)
                if np.isfinite(candidate[0]) and candidate[0] >= loglik - 1e-12 * abs(loglik):
                    break
                step = step / 2
            else:
                raise ConvergenceError(message)
            beta, current = beta + step, candidate
            if np.all(np.abs(step) <= 1e-9 * (1 + np.abs(beta))):
                break
        else:
            raise ConvergenceError(message)
    loglik, _, information = current
    if not (np.isfinite(beta).all() and np.isfinite(information).all()):
        raise ConvergenceError(message)
    return beta, loglik, information, at_zero


def _time_means(rs: RiskSets, sm: Sums) -> np.ndarray:
    """x̄(t_k): the average of the slot means a = (S1 - f·D1) / c over the
    events tied at k (times × terms)."""
    inverse = 1 / sm.c
    p, q = _per_time(rs, inverse), _per_time(rs, inverse * rs.fraction)
    return (sm.s1 * p[:, None] - sm.d1 * q[:, None]) / rs.counts[:, None]


def schoenfeld(rs: RiskSets, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event times, Schoenfeld residuals x - x̄(t)) of every event, x̄ the
    average of the slot means a over the tied events (R's Efron residuals)."""
    means = _time_means(rs, sums(rs, beta))
    return rs.event_time, rs.x_e - means[rs.event_k]


def score_residuals(rs: RiskSets, beta: np.ndarray, n: int) -> np.ndarray:
    """Weighted score residuals v_i U_i (n × p, rows in input order; 0 for
    rows of strata without events), with U_i = δ_i (x_i - x̄(t_i)) -
    Σ_s w_i π_is (x_i - a_s), w_i = exp(x_i'b), π_is = v_s/c_s for people at
    risk at slot s, reduced to (1 - f_s) v_s/c_s for the events tied at that
    time (Efron; R's ``coxph`` score residuals, weighted as its ``dfbeta``).
    They sum to the score vector; summed within clusters they give the
    robust variance (Lin & Wei 1989). The sums over slots of π and π·a are
    per event time: H and S1·α - D1·β (B and S1·β - D1·γ for the tied
    events; see the module docstring)."""
    out = np.zeros((n, beta.size))
    sm = sums(rs, beta)
    k, x, x_e, f = rs.event_k, rs.x, rs.x_e, rs.fraction
    hazard = rs.slot_weight / sm.c
    square = hazard / sm.c
    h, b = _per_time(rs, hazard), _per_time(rs, hazard * f)
    alpha, beta_, gamma = (_per_time(rs, square * f**j) for j in (0, 1, 2))
    g = sm.s1 * alpha[:, None] - sm.d1 * beta_[:, None]
    tied_g = sm.s1 * beta_[:, None] - sm.d1 * gamma[:, None]
    w = sm.risk / rs.weight
    compensator = w[:, None] * (x * _at_or_before(rs, h)[:, None] - _at_or_before(rs, g))
    w_e = w[rs.event_pos][:, None]
    compensator[rs.event_pos] -= w_e * (x_e * b[k][:, None] - tied_g[k])
    residual = -compensator
    residual[rs.event_pos] += x_e - _time_means(rs, sm)[k]
    out[rs.rows] = rs.weight[:, None] * residual
    return out
