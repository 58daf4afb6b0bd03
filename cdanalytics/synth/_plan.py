"""Turn the registries and the synthetic parameters into arrays the generator indexes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..registry import core_session_count, instrument_registry, programme_registry
from ._params import (
    AGE_BANDS,
    LEGAL_FRAMEWORKS,
    REFERRAL_SOURCES,
    RISK_LEVELS,
    SESSION_TYPES,
    programme_parameters,
)

__all__ = ["Plan", "build_plan", "needed_sessions"]


def needed_sessions(entry: Mapping[str, Any]) -> int:
    """Core sessions a completer must attend: ceil(min_core_share x core count).

    The same rounding as :func:`cdanalytics.registry.completion_rule_text`.
    """
    total = core_session_count(entry)
    return int(-(-float(entry["completion_rule"]["min_core_share"]) * total // 1))


def _probabilities(
    dists: list[Mapping[str, float]], categories: tuple[str, ...] | list[str], what: str
) -> np.ndarray:
    """Rows of probabilities over ``categories`` (normalised), one per mapping."""
    out = np.zeros((len(dists), len(categories)))
    index = {c: i for i, c in enumerate(categories)}
    for row, dist in enumerate(dists):
        for key, value in dist.items():
            if key not in index:
                raise ConfigError(f"Unknown {what} {key!r} in the synthetic parameters.")
            out[row, index[key]] = float(value)
        if out[row].sum() <= 0:
            raise ConfigError(f"Synthetic {what} shares must not all be zero.")
        out[row] /= out[row].sum()
    return out


def _session_order(code: str, core: Mapping[str, int], given: Any) -> list[tuple[str, int]]:
    """(session_type, session_number) of each core session, in the order they happen."""
    blocks = given if given else [[stype, count] for stype, count in core.items()]
    order: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    for stype, count in blocks:
        for _ in range(int(count)):
            seen[stype] = seen.get(stype, 0) + 1
            order.append((stype, seen[stype]))
    if given and seen != {k: int(v) for k, v in core.items()}:
        return _session_order(code, core, None)
    bad = set(seen) - {"group", "individual"}
    if bad:
        raise ConfigError(
            f"Programme {code!r}: core session types must be group or individual, "
            f"not {sorted(bad)}."
        )
    return order


def _review_offsets(entry: Mapping[str, Any], given: Any) -> list[int]:
    review = entry.get("review") or {}
    count = int(review.get("count") or 0)
    window = int(review.get("window_days") or 0)
    if given and len(given) == count and max(given) <= window:
        return [int(x) for x in given]
    return [round(window * j / (count + 1)) for j in range(1, count + 1)]


@dataclass
class Plan:
    """Everything the generator needs, as lists and arrays indexed by programme number."""

    params: dict[str, Any]
    registry: dict[str, dict[str, Any]]
    instruments: dict[str, dict[str, Any]]
    programmes: list[str]
    prog: list[dict[str, Any]]  # per-programme synthetic parameters
    share: np.ndarray
    sites: list[str]
    site_p: np.ndarray  # programmes x sites
    risk_p: np.ndarray  # (programmes + 1) x risk levels; last row: comparison
    age_p: np.ndarray
    ethnicities: list[str]
    ethnicity_p: np.ndarray
    source_p: np.ndarray
    framework_p: np.ndarray
    exclusion_reasons: list[str]
    exclusion_p: np.ndarray
    funnel: np.ndarray  # programmes x 3 (p_assessed, p_eligible, p_start)
    core_k: np.ndarray
    needed: np.ndarray
    require_last: np.ndarray
    interval: np.ndarray
    rolling: np.ndarray
    group_interval: np.ndarray
    wait_median: np.ndarray
    order_type: np.ndarray  # programmes x max K, code into SESSION_TYPES
    order_number: np.ndarray
    orders: list[list[tuple[str, int]]]
    review_offsets: list[list[int]]
    dropout_hazard: np.ndarray  # programmes x risk levels
    p_attend: np.ndarray
    children_min: np.ndarray
    children_mean: np.ndarray
    hr_programme: np.ndarray  # programmes: reoffending hazard ratio of starters


def _hazard_ratios(params: dict[str, Any], codes: list[str]) -> np.ndarray:
    """Each programme's hazard ratio: ``hr_by_programme`` where given, else ``hr_programme``."""
    reoff = params["reoffending"]
    own = reoff.get("hr_by_programme") or {}
    unknown = sorted(set(own) - set(codes))
    if unknown:
        raise ConfigError(f"Unknown programme(s) {unknown} in reoffending.hr_by_programme.")
    ratios = np.array([float(own.get(c, reoff["hr_programme"])) for c in codes])
    if not (np.isfinite(ratios) & (ratios > 0)).all():
        raise ConfigError("Synthetic hazard ratios must be positive numbers.")
    return ratios


def build_plan(params: dict[str, Any], programmes: Mapping[str, Any] | None) -> Plan:
    """Combine the programme registry (with ``programmes`` overrides) and the parameters."""
    registry = programme_registry(programmes)
    codes = list(registry)
    prog = [programme_parameters(params, code) for code in codes]
    sites = sorted({site for p in prog for site in p["sites"]})
    ethnicities = sorted({e for p in prog for e in p["ethnicity_group"]})
    reasons = sorted({r for p in prog for r in p["exclusion_reason"]})
    eng = params["engagement"]
    mult = np.array([eng["dropout_hazard_multiplier"][r] for r in RISK_LEVELS], dtype=float)
    decrement = np.array([eng["p_attend_decrement"][r] for r in RISK_LEVELS], dtype=float)
    orders = [
        _session_order(code, registry[code]["core"], p["session_order"])
        for code, p in zip(codes, prog, strict=True)
    ]
    max_k = max(len(o) for o in orders)
    order_type = np.zeros((len(codes), max_k), dtype=np.int8)
    order_number = np.zeros((len(codes), max_k), dtype=np.int16)
    for i, order in enumerate(orders):
        order_type[i, : len(order)] = [SESSION_TYPES.index(t) for t, _ in order]
        order_number[i, : len(order)] = [n for _, n in order]
    dropout = np.outer([p["dropout_hazard_medium"] for p in prog], mult)
    attend = np.array([p["p_attend_low"] for p in prog], dtype=float)[:, None] - decrement
    other = eng["excluded_hazard"] + eng["transferred_hazard"]
    if (
        (dropout + other >= 1).any()
        or (dropout < 0).any()
        or (dropout + other <= 0).any()
        or ((attend <= 0) | (attend > 1)).any()
    ):
        raise ConfigError(
            "Synthetic dropout hazards and attendance probabilities must lie in (0, 1)."
        )
    risk_rows = [p["risk_level"] for p in prog] + [params["comparison"]["risk_level"]]
    funnel = np.array(
        [[p["funnel"][k] for k in ("p_assessed", "p_eligible", "p_start")] for p in prog],
        dtype=float,
    )
    if ((funnel < 0) | (funnel > 1)).any():
        raise ConfigError("Synthetic funnel probabilities must lie in [0, 1].")
    return Plan(
        params=params,
        registry=registry,
        instruments=instrument_registry(),
        programmes=codes,
        prog=prog,
        share=_probabilities(
            [{c: p["share"] for c, p in zip(codes, prog, strict=True)}], codes, "share"
        )[0],
        sites=sites,
        site_p=_probabilities([p["sites"] for p in prog], sites, "site"),
        risk_p=_probabilities(risk_rows, RISK_LEVELS, "risk level"),
        age_p=_probabilities([p["age_band"] for p in prog], AGE_BANDS, "age band"),
        ethnicities=ethnicities,
        ethnicity_p=_probabilities([p["ethnicity_group"] for p in prog], ethnicities, "ethnicity"),
        source_p=_probabilities(
            [p["referral_source"] for p in prog], REFERRAL_SOURCES, "referral source"
        ),
        framework_p=_probabilities(
            [p["legal_framework"] for p in prog], LEGAL_FRAMEWORKS, "legal framework"
        ),
        exclusion_reasons=reasons,
        exclusion_p=_probabilities(
            [p["exclusion_reason"] for p in prog], reasons, "exclusion reason"
        ),
        funnel=funnel,
        core_k=np.array([len(o) for o in orders], dtype=np.int64),
        needed=np.array([needed_sessions(registry[c]) for c in codes], dtype=np.int64),
        require_last=np.array(
            [bool(registry[c]["completion_rule"].get("require_last_core")) for c in codes]
        ),
        interval=np.array(
            [int(registry[c].get("session_interval_days", 7)) for c in codes], dtype=np.int64
        ),
        rolling=np.array([bool(registry[c]["rolling_entry"]) for c in codes]),
        group_interval=np.array(
            [int(p["group_interval_days"] or 84) for p in prog], dtype=np.int64
        ),
        wait_median=np.array([float(p["wait_days_median"]) for p in prog]),
        order_type=order_type,
        order_number=order_number,
        orders=orders,
        review_offsets=[
            _review_offsets(registry[c], p["review_offsets_days"])
            for c, p in zip(codes, prog, strict=True)
        ],
        dropout_hazard=dropout,
        p_attend=attend,
        children_min=np.array([int(p["n_children"]["minimum"]) for p in prog], dtype=np.int64),
        children_mean=np.array([float(p["n_children"]["poisson_mean"]) for p in prog]),
        hr_programme=_hazard_ratios(params, codes),
    )
