"""The ``services`` table of a synthetic export: partner and children's services with known reach.

Off by default (the committed sample has no services); ``parameters=FAMILY_PARAMETERS``
or ``{"services": {...}}`` switches it on. For each service code of the
contract given in ``parameters["services"]``, every programme starter (a
``programme`` row with a ``start_date``) independently

- is offered the service with probability ``offered``,
- then contacted with probability ``contacted`` (given offered),
- then accepts with probability ``accepted`` (given contacted),
- then engages with probability ``engaged`` (given accepted).

A man without an offer has no row (the contract: no row, not offered). The
dates follow the steps: offered 0-28 days after the start, then each next
step 1-21 days after the one before, all cut to the extract date (so no date
lies after it and the order holds). The step probabilities do not depend on
programme, risk or outcome, so ``truth["services"][service][step]`` (the
product of the conditional probabilities up to the step) is the reach that
:func:`cdanalytics.engagement.service_reach` estimates of all starters, in
every programme.

The draws come from their own random stream derived from the export's seed,
so switching services on changes no other table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["SERVICE_STEPS", "synthetic_services"]

#: The steps of a service in order (date columns of the services table).
SERVICE_STEPS: tuple[str, ...] = ("offered", "contacted", "accepted", "engaged")
#: Services the contract allows (``data/schemas/services.yaml``).
_SERVICES: tuple[str, ...] = ("partner_support", "womens_service", "childrens_service")
#: Days from the previous step (the start date for ``offered``), inclusive bounds.
_GAPS: dict[str, tuple[int, int]] = {
    "offered": (0, 28),
    "contacted": (1, 21),
    "accepted": (1, 21),
    "engaged": (1, 21),
}


def _checked(spec: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for service, steps in spec.items():
        if service not in _SERVICES:
            raise ConfigError(
                f"Synthetic services: unknown service {service!r}; use {', '.join(_SERVICES)}."
            )
        missing = [s for s in SERVICE_STEPS if s not in steps]
        if missing:
            raise ConfigError(
                f"Synthetic services: {service!r} lacks the probability of {', '.join(missing)}."
            )
        probs = {s: float(steps[s]) for s in SERVICE_STEPS}
        if not all(0.0 <= p <= 1.0 for p in probs.values()):
            raise ConfigError(f"Synthetic services: {service!r} probabilities must be in [0, 1].")
        out[service] = probs
    return out


def synthetic_services(
    seed: int,
    participants: pd.DataFrame,
    extract_date: pd.Timestamp,
    spec: Mapping[str, Mapping[str, float]],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Draw the services table of a synthetic export.

    Parameters
    ----------
    seed
        The export's seed (the services draw from a stream derived from it).
    participants
        The export's participants (``participant_id``, ``group``, ``start_date``).
    extract_date
        End of observation: no date lies after it.
    spec
        Service code -> conditional probability of each step
        (``offered``, ``contacted``, ``accepted``, ``engaged``).

    Returns
    -------
    (services, truth)
        The table in contract column order (dates as ``datetime64[s]``,
        ``service`` categorical) and the truth: per service the conditional
        probabilities and the reach of each step among starters, and the
        number of starters.

    Raises
    ------
    ConfigError
        An unknown service or a probability outside [0, 1].
    """
    probs = _checked(spec)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 13, 1]))
    started = (
        participants["group"].astype("str").eq("programme").to_numpy()
        & participants["start_date"].notna().to_numpy()
    )
    ids = participants["participant_id"].to_numpy()[started]
    start = participants["start_date"].to_numpy()[started].astype("datetime64[D]")
    end = np.datetime64(pd.Timestamp(extract_date).date(), "D")
    frames = []
    truth: dict[str, Any] = {"starters": int(started.sum())}
    for service, p in probs.items():
        n = len(ids)
        reached = np.ones(n, dtype=bool)
        day = start.copy()
        columns: dict[str, np.ndarray] = {}
        reach = 1.0
        truth[service] = {"conditional": dict(p), "reach_of_starters": {}}
        for step in SERVICE_STEPS:
            reached &= rng.random(n) < p[step]
            low, high = _GAPS[step]
            day = day + rng.integers(low, high + 1, n).astype("timedelta64[D]")
            columns[step] = np.where(reached, np.minimum(day, end), np.datetime64("NaT"))
            reach *= p[step]
            truth[service]["reach_of_starters"][step] = reach
        offered = ~np.isnat(columns["offered"])
        frame = pd.DataFrame(
            {
                "participant_id": ids[offered],
                "service": service,
                **{s: columns[s][offered].astype("datetime64[s]") for s in SERVICE_STEPS},
                "source": "synthetic_service_record",
            }
        )
        frames.append(frame)
    services = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(frames):
        order = np.argsort(services["participant_id"].to_numpy(), kind="stable")
        services = services.iloc[order].reset_index(drop=True)
        services["participant_id"] = services["participant_id"].astype("str")
        services["service"] = pd.Categorical(services["service"], categories=list(_SERVICES))
        services["source"] = services["source"].astype("category")
    truth["rows"] = len(services)
    return services, truth
