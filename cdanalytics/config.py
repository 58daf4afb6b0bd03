"""The evaluation config: one YAML file that says how a site evaluates.

Every key is optional; ``data/config/evaluation.example.yaml`` documents each
key. :func:`load_config` reads the file, checks it and builds one frozen
:class:`EvaluationConfig` that travels through the report: its
``disclosure`` is the :class:`~cdanalytics.disclosure.DisclosurePolicy`, its
``reoffending.definition`` the
:class:`~cdanalytics.reoffending.ReoffendingDefinition`. Unknown keys, wrong
types and values out of their allowed set are refused with a
:class:`~cdanalytics.errors.ConfigError` that names the key, so a typo never
passes silently.

The settings are declared once, as the fields of the section classes below:
each field's default is the default, and its ``metadata`` holds the accepted
YAML types and, where the values are a closed set, the choices. The checks,
:data:`DEFAULTS` and :meth:`EvaluationConfig.as_dict` are all read off these
fields.

Example
-------
>>> from cdanalytics.config import validate_config
>>> config = validate_config({"reoffending": {"matching": {"ratio": 2}}})
>>> config.reoffending.matching.ratio, config.reoffending.matching.caliper
(2, 0.2)
>>> config.disclosure.threshold
10
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._merge import deep_merge
from ._yaml import read_yaml_file
from .disclosure import DisclosurePolicy
from .engagement import EARLY_DROPOUT_BEFORE
from .errors import ConfigError
from .reoffending.definition import INDEX_OPTIONS, ReoffendingDefinition

__all__ = [
    "DEFAULTS",
    "EngagementConfig",
    "EvaluationConfig",
    "MatchingConfig",
    "PrepostConfig",
    "ReoffendingConfig",
    "load_config",
    "validate_config",
]

_NONE = type(None)
_NUMBER = (float, int)


def _setting(default: Any, types: Any, choices: tuple[Any, ...] | None = None) -> Any:
    """A config key: its default, the YAML types it accepts and, if closed, its choices."""
    metadata = {"types": types, "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class EngagementConfig:
    """The ``engagement:`` section.

    Attributes
    ----------
    early_dropout_before
        Dropout before this core session counts as early (default
        :data:`cdanalytics.engagement.EARLY_DROPOUT_BEFORE`, 4, as for ``dropout()``).
    dropout_covariates
        Covariates of the dropout model (notebook 02).
    """

    early_dropout_before: int = _setting(EARLY_DROPOUT_BEFORE, int)
    dropout_covariates: tuple[str, ...] = _setting(
        ("risk_level", "age_band", "prior_offences"), list
    )


@dataclass(frozen=True)
class MatchingConfig:
    """The ``reoffending.matching:`` section: how the comparison group is matched.

    Attributes
    ----------
    covariates
        Propensity-model covariates.
    exact
        Columns matched exactly, or ``None`` (default: each programme is
        matched on its own, with the pool :attr:`comparison_pools` gives it).
    ratio
        Comparison people per programme participant.
    replace
        Match with replacement.
    caliper
        In SDs of the logit of the propensity score; ``None`` for none.
    min_treated
        A programme's comparison is computed only from this many people
        (default 60, the Justice Data Lab's pilot minimum cohort).
    balance_flag, balance_withhold
        An absolute standardised mean difference after matching above
        ``balance_flag`` (0.1) flags the result, above ``balance_withhold``
        (0.25) withholds it.
    comparison_pools
        Programme code -> the comparison rows that serve it, named by the
        ``programme`` label on the comparison rows (a label or a list). A
        programme not listed uses the one shared pool (every comparison row).
    """

    covariates: tuple[str, ...] = _setting(("risk_level", "prior_offences", "age_band"), list)
    exact: tuple[str, ...] | None = _setting(None, (list, _NONE))
    ratio: int = _setting(1, int)
    replace: bool = _setting(False, bool)
    caliper: float | None = _setting(0.2, (float, int, _NONE))
    min_treated: int = _setting(60, int)
    balance_flag: float = _setting(0.1, _NUMBER)
    balance_withhold: float = _setting(0.25, _NUMBER)
    comparison_pools: Mapping[str, Any] = _setting({}, dict)

    def __post_init__(self) -> None:
        if self.min_treated < 1:
            raise ConfigError("reoffending.matching.min_treated must be at least 1.")
        if not 0 < self.balance_flag <= self.balance_withhold:
            raise ConfigError(
                "reoffending.matching: balance_flag must be above 0 and not above balance_withhold."
            )
        for programme, labels in self.comparison_pools.items():
            ok = isinstance(labels, str) or (
                isinstance(labels, list | tuple)
                and len(labels) > 0
                and all(isinstance(x, str) for x in labels)
            )
            if not ok:
                raise ConfigError(
                    f"reoffending.matching.comparison_pools.{programme} must be a comparison "
                    "pool label or a list of them (the programme codes comparison rows name)."
                )


@dataclass(frozen=True)
class ReoffendingConfig:
    """The ``reoffending:`` section.

    Attributes
    ----------
    event_types, index, window_months, waiting_months, seriousness, disposal
        The proven-reoffending measure; :attr:`definition` holds them as a
        :class:`~cdanalytics.reoffending.ReoffendingDefinition`.
    horizons_months
        Horizons of the cumulative (Kaplan-Meier) reoffending table.
    cox_covariates
        Covariates of the Cox model beside ``group``.
    matching
        The :class:`MatchingConfig`.
    definition
        The :class:`~cdanalytics.reoffending.ReoffendingDefinition` of the
        settings above (built, and so checked, with the section).
    """

    event_types: tuple[str, ...] = _setting(
        ("dv_offence", "violent_offence", "other_offence"), list
    )
    index: str = _setting("index_date", str, INDEX_OPTIONS)
    window_months: int = _setting(12, int)
    waiting_months: int = _setting(6, int)
    horizons_months: tuple[int, ...] = _setting((6, 12, 24), list)
    cox_covariates: tuple[str, ...] = _setting(("risk_level", "prior_offences"), list)
    seriousness: str | None = _setting(
        None, (str, _NONE), (None, "general", "serious", "very_serious")
    )
    disposal: str | tuple[str, ...] | None = _setting(None, (str, list, _NONE))
    matching: MatchingConfig = field(
        default_factory=MatchingConfig, metadata={"section": MatchingConfig}
    )
    definition: ReoffendingDefinition = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.window_months <= 0 or self.waiting_months < 0:
            raise ConfigError("reoffending.window_months must be > 0 and waiting_months >= 0.")
        if "order_breach" in self.event_types:
            raise ConfigError("reoffending.event_types: breaches of order conditions never count.")
        definition = ReoffendingDefinition(
            event_types=tuple(self.event_types),
            index=self.index,  # type: ignore[arg-type]
            window_months=self.window_months,
            waiting_months=self.waiting_months,
            seriousness=self.seriousness,  # type: ignore[arg-type]
            disposal=self.disposal,
        )
        object.__setattr__(self, "definition", definition)


@dataclass(frozen=True)
class PrepostConfig:
    """The ``prepost:`` section: the time points of the mixed model (notebook 04)."""

    timepoints: tuple[str, ...] = _setting(("pre", "post", "follow_up"), list)


#: YAML keys of the ``disclosure:`` section and the types they accept; the
#: section is built into a :class:`~cdanalytics.disclosure.DisclosurePolicy`.
_DISCLOSURE_KEYS: dict[str, Any] = {
    "threshold": int,
    "round_to": (int, _NONE),
    "method": str,
    "D": int,
    "V": _NUMBER,
    "js": int,
    "key_file": str,
    "secret_env": str,
}
_DISCLOSURE_CHOICES: dict[str, tuple[Any, ...]] = {
    "round_to": (None, 5),
    "method": ("suppression", "rounding", "cell_key"),
}
_DISCLOSURE_DEFAULTS: dict[str, Any] = {"threshold": 10, "round_to": None}


@dataclass(frozen=True)
class EvaluationConfig:
    """A validated evaluation config, every key present.

    Build it with :func:`load_config` (a YAML file) or
    :func:`validate_config` (a mapping); ``EvaluationConfig()`` is the
    defaults.

    Attributes
    ----------
    title
        Heading of ``report.html``.
    language
        ``"en"`` or ``"nl"``.
    groupings
        Breakdowns of the engagement and reoffending tables.
    programmes, instruments, audit_tools
        Registry overrides, merged into the built-in registries once, by
        :func:`cdanalytics.load_export` (see :attr:`cdanalytics.Export.registries`).
    engagement, reoffending, prepost
        The sections (:class:`EngagementConfig`, :class:`ReoffendingConfig`,
        :class:`PrepostConfig`).
    disclosure
        The :class:`~cdanalytics.disclosure.DisclosurePolicy` of the
        ``disclosure:`` section.
    """

    title: str = _setting("Programme evaluation", str)
    language: str = _setting("en", str, ("en", "nl"))
    groupings: tuple[str, ...] = _setting(("programme",), list)
    programmes: Mapping[str, Any] = _setting({}, dict)
    instruments: Mapping[str, Any] = _setting({}, dict)
    audit_tools: Mapping[str, Any] = _setting({}, dict)
    engagement: EngagementConfig = field(
        default_factory=EngagementConfig, metadata={"section": EngagementConfig}
    )
    reoffending: ReoffendingConfig = field(
        default_factory=ReoffendingConfig, metadata={"section": ReoffendingConfig}
    )
    prepost: PrepostConfig = field(
        default_factory=PrepostConfig, metadata={"section": PrepostConfig}
    )
    disclosure: DisclosurePolicy = field(default_factory=DisclosurePolicy)

    def as_dict(self) -> dict[str, Any]:
        """The config as plain data (lists, dicts): what ``run.json`` records.

        The disclosure section states the noise bound in force under the cell
        key method (``D``, ``V``, ``js``), never the secret.
        """
        out = _plain(self)
        out["disclosure"] = _disclosure_dict(self.disclosure)
        return out

    def with_language(self, language: str) -> EvaluationConfig:
        """The same config in another report language (``"en"`` or ``"nl"``)."""
        _check_value("language", language, str, ("en", "nl"))
        return dataclasses.replace(self, language=language)

    def __repr__(self) -> str:
        reo = self.reoffending
        return (
            f"<EvaluationConfig: {self.title!r}, language={self.language}, "
            f"groupings={list(self.groupings)}, window={reo.window_months} months, "
            f"disclosure threshold={self.disclosure.threshold} ({self.disclosure.method})>"
        )


def _plain(section: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        if not f.init:
            continue
        value = getattr(section, f.name)
        if "section" in f.metadata:
            out[f.name] = _plain(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        elif isinstance(value, Mapping):
            out[f.name] = deep_merge({}, value)
        else:
            out[f.name] = value
    return out


def _disclosure_dict(policy: DisclosurePolicy) -> dict[str, Any]:
    out: dict[str, Any] = {"threshold": policy.threshold, "round_to": policy.round_to}
    if policy.method != "suppression":
        out["method"] = policy.method
    if policy.cell_key is not None:
        ck = policy.cell_key
        out.update({"D": ck.D, "V": ck.V, "js": ck.js})
    return out


def _type_names(expected: Any) -> str:
    if isinstance(expected, tuple):
        return " or ".join(t.__name__ for t in expected)
    return expected.__name__


def _check_value(path: str, value: Any, expected: Any, choices: tuple[Any, ...] | None) -> None:
    numeric = expected in (int, _NUMBER) or (
        isinstance(expected, tuple) and (int in expected or float in expected)
    )
    if isinstance(value, bool) and numeric and expected is not bool:
        raise ConfigError(f"Config key {path!r} must be a number, not true/false.")
    if not isinstance(value, expected):
        raise ConfigError(
            f"Config key {path!r} must be of type {_type_names(expected)}, "
            f"not {type(value).__name__}."
        )
    if choices is not None and value not in choices:
        raise ConfigError(f"Config key {path!r} must be one of {choices}, not {value!r}.")


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"Config key {path!r} must be a mapping of settings.")
    return value


def _build(cls: type, raw: Mapping[str, Any], prefix: str) -> Any:
    """Check ``raw`` against the fields of ``cls`` and build it (defaults for the rest)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{prefix}{key}"
        f = fields.get(key)
        if f is None:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"Unknown config key {path!r}; known keys here: {known}.")
        if "section" in f.metadata:
            kwargs[key] = _build(f.metadata["section"], _mapping(value, path), f"{path}.")
        elif key == "disclosure" and cls is EvaluationConfig:
            kwargs[key] = _disclosure(_mapping(value, path))
        else:
            _check_value(path, value, f.metadata["types"], f.metadata["choices"])
            kwargs[key] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def _disclosure(raw: Mapping[str, Any]) -> DisclosurePolicy:
    for key, value in raw.items():
        if key not in _DISCLOSURE_KEYS:
            known = ", ".join(sorted(_DISCLOSURE_KEYS))
            raise ConfigError(f"Unknown config key 'disclosure.{key}'; known keys here: {known}.")
        _check_value(
            f"disclosure.{key}", value, _DISCLOSURE_KEYS[key], _DISCLOSURE_CHOICES.get(key)
        )
    try:
        return DisclosurePolicy.from_config({**_DISCLOSURE_DEFAULTS, **raw})
    except ConfigError as exc:
        raise ConfigError(f"Config section 'disclosure': {exc}") from exc


def validate_config(raw: Mapping[str, Any] | EvaluationConfig | None) -> EvaluationConfig:
    """Check a config mapping and build the :class:`EvaluationConfig`.

    Parameters
    ----------
    raw
        The parsed YAML (or ``None`` for all defaults). An
        :class:`EvaluationConfig` is returned as it is.

    Returns
    -------
    EvaluationConfig
        The complete config, every key present.

    Raises
    ------
    ConfigError
        On an unknown key, a wrong type, or a value out of its allowed set,
        naming the key.
    """
    if isinstance(raw, EvaluationConfig):
        return raw
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("The evaluation config must be a YAML mapping of settings.")
    return _build(EvaluationConfig, raw, "")


def load_config(path: str | Path | EvaluationConfig | None) -> EvaluationConfig:
    """Read and validate an evaluation config file (``None``: the defaults).

    Parameters
    ----------
    path
        A YAML file, ``None`` for the defaults, or an already built
        :class:`EvaluationConfig` (returned as it is).

    Returns
    -------
    EvaluationConfig

    Raises
    ------
    ConfigError
        The file is missing or unreadable, or a setting is invalid (the
        message names the file and the key).
    """
    if path is None or isinstance(path, EvaluationConfig):
        return validate_config(path)
    path = Path(path)
    raw = read_yaml_file(path, "Evaluation config")
    try:
        return validate_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


#: The defaults as plain data (what ``load_config(None).as_dict()`` gives).
DEFAULTS: dict[str, Any] = EvaluationConfig().as_dict()
