"""The evaluation config: one YAML file that says how a site evaluates.

Every key is optional; :data:`DEFAULTS` holds the defaults and
``data/config/evaluation.example.yaml`` documents each key. Unknown keys and
wrong types are refused with a :class:`~cdanalytics.errors.ConfigError` that
names the key, so a typo never passes silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._merge import deep_merge
from ._yaml import read_yaml_file
from .disclosure import DisclosurePolicy
from .errors import ConfigError

__all__ = ["DEFAULTS", "load_config", "validate_config"]

DEFAULTS: dict[str, Any] = {
    "title": "Programme evaluation",
    "language": "en",
    "groupings": ["programme"],
    "programmes": {},
    "instruments": {},
    "engagement": {
        "early_dropout_before": 4,
        "dropout_covariates": ["risk_level", "age_band", "prior_offences"],
    },
    "reoffending": {
        "event_types": ["dv_offence", "violent_offence", "other_offence"],
        "index": "index_date",
        "window_months": 12,
        "waiting_months": 6,
        "horizons_months": [6, 12, 24],
        "cox_covariates": ["risk_level", "prior_offences"],
        "seriousness": None,
        "disposal": None,
        "matching": {
            "covariates": ["risk_level", "prior_offences", "age_band"],
            "exact": None,
            "ratio": 1,
            "replace": False,
            "caliper": 0.2,
            "min_treated": 60,
            "balance_flag": 0.1,
            "balance_withhold": 0.25,
            "comparison_pools": {},
        },
    },
    "prepost": {"timepoints": ["pre", "post", "follow_up"]},
    "disclosure": {"threshold": 10, "round_to": None},
}

# Expected type of every leaf; a dict value means a nested section.
_TYPES: dict[str, Any] = {
    "title": str,
    "language": str,
    "groupings": list,
    "programmes": dict,
    "instruments": dict,
    "engagement": {"early_dropout_before": int, "dropout_covariates": list},
    "reoffending": {
        "event_types": list,
        "index": str,
        "window_months": int,
        "waiting_months": int,
        "horizons_months": list,
        "cox_covariates": list,
        "seriousness": (str, type(None)),
        "disposal": (str, list, type(None)),
        "matching": {
            "covariates": list,
            "exact": (list, type(None)),
            "ratio": int,
            "replace": bool,
            "caliper": (float, int, type(None)),
            "min_treated": int,
            "balance_flag": (float, int),
            "balance_withhold": (float, int),
            "comparison_pools": dict,
        },
    },
    "prepost": {"timepoints": list},
    "disclosure": {
        "threshold": int,
        "round_to": (int, type(None)),
        "method": str,
        "D": int,
        "V": (float, int),
        "js": int,
        "key_file": str,
        "secret_env": str,
    },
}

_CHOICES: dict[str, tuple[Any, ...]] = {
    "language": ("en", "nl"),
    "reoffending.index": ("index_date", "start_date", "referral_date", "end_date"),
    "reoffending.seriousness": (None, "general", "serious", "very_serious"),
    "disclosure.round_to": (None, 5),
    "disclosure.method": ("suppression", "rounding", "cell_key"),
}


def _check(section: Mapping[str, Any], types: Mapping[str, Any], prefix: str) -> None:
    for key, value in section.items():
        path = f"{prefix}{key}"
        if key not in types:
            known = ", ".join(sorted(types))
            raise ConfigError(f"Unknown config key {path!r}; known keys here: {known}.")
        expected = types[key]
        if isinstance(expected, dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"Config key {path!r} must be a mapping of settings.")
            _check(value, expected, f"{path}.")
            continue
        if isinstance(value, bool) and expected in (int, (float, int, type(None))):
            raise ConfigError(f"Config key {path!r} must be a number, not true/false.")
        if not isinstance(value, expected):
            names = (
                " or ".join(t.__name__ for t in expected)
                if isinstance(expected, tuple)
                else expected.__name__
            )
            raise ConfigError(
                f"Config key {path!r} must be of type {names}, not {type(value).__name__}."
            )
        if path in _CHOICES and value not in _CHOICES[path]:
            raise ConfigError(
                f"Config key {path!r} must be one of {_CHOICES[path]}, not {value!r}."
            )


def _check_matching(matching: Mapping[str, Any]) -> None:
    """The gates and comparison pools of ``reoffending.matching``."""
    if matching["min_treated"] < 1:
        raise ConfigError("reoffending.matching.min_treated must be at least 1.")
    if not 0 < matching["balance_flag"] <= matching["balance_withhold"]:
        raise ConfigError(
            "reoffending.matching: balance_flag must be above 0 and not above balance_withhold."
        )
    for programme, labels in matching["comparison_pools"].items():
        ok = isinstance(labels, str) or (
            isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)
        )
        if not ok:
            raise ConfigError(
                f"reoffending.matching.comparison_pools.{programme} must be a comparison pool "
                "label or a list of them (the programme codes comparison rows name)."
            )


def validate_config(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a config mapping and merge it over :data:`DEFAULTS`.

    Parameters
    ----------
    raw
        The parsed YAML (or ``None`` for all defaults).

    Returns
    -------
    dict
        The complete config, every key present.

    Raises
    ------
    ConfigError
        On an unknown key, a wrong type, or a value out of its allowed set.
    """
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("The evaluation config must be a YAML mapping of settings.")
    _check(raw, _TYPES, "")
    config = deep_merge(DEFAULTS, raw)
    try:
        policy = DisclosurePolicy.from_config(config["disclosure"])
    except ConfigError as exc:
        raise ConfigError(f"Config section 'disclosure': {exc}") from exc
    if policy.cell_key is not None:  # the run record states the noise bound in force
        ck = policy.cell_key
        config["disclosure"] = {**config["disclosure"], "D": ck.D, "V": ck.V, "js": ck.js}
    if config["reoffending"]["window_months"] <= 0 or config["reoffending"]["waiting_months"] < 0:
        raise ConfigError("reoffending.window_months must be > 0 and waiting_months >= 0.")
    _check_matching(config["reoffending"]["matching"])
    if "order_breach" in config["reoffending"]["event_types"]:
        raise ConfigError("reoffending.event_types: breaches of order conditions never count.")
    return config


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Read and validate an evaluation config file (``None``: the defaults)."""
    if path is None:
        return validate_config(None)
    path = Path(path)
    raw = read_yaml_file(path, "Evaluation config")
    try:
        return validate_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
