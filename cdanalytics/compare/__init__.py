"""Fair comparison of sites and cohorts.

- :func:`casemix_comparison`: observed against case-mix expected reoffending
  per site, referral quarter or other unit (logistic model of the
  fixed-window rate or Cox model of time to reoffence), O/E with exact
  Poisson limits, indirectly standardised rates and funnel limits.
- :mod:`.funnel`: :func:`funnel_limits` (Spiegelhalter 2005, exact and
  overdispersed), :func:`poisson_ratio_ci`, :func:`overdispersion`.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use, see cdanalytics._lazy
    from .casemix import (
        CASEMIX_COLUMNS,
        DEFAULT_CASEMIX,
        CaseMixComparison,
        CaseMixModel,
        casemix_comparison,
        casemix_model,
        referral_quarter,
    )
    from .funnel import (
        FUNNEL_LEVELS,
        funnel_limits,
        overdispersion,
        poisson_ratio_ci,
        ratio_z_scores,
    )

__all__ = [
    "CASEMIX_COLUMNS",
    "DEFAULT_CASEMIX",
    "FUNNEL_LEVELS",
    "CaseMixComparison",
    "CaseMixModel",
    "casemix_comparison",
    "casemix_model",
    "funnel_limits",
    "overdispersion",
    "poisson_ratio_ci",
    "ratio_z_scores",
    "referral_quarter",
]

__getattr__, __dir__ = lazy_exports(__name__)
