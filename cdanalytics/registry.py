"""Programme and instrument registries.

The registries are data files shipped with the package
(``cdanalytics/registries/programmes.yaml`` and ``instruments.yaml``); a site
overrides any value, or adds an entry, in its evaluation config. This module
only reads and merges them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ._merge import deep_merge
from .errors import ConfigError
from .i18n import label, number, percent
from .stages import check_stages

# libyaml's parser when installed (the same safe loading, several times faster)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "Registries",
    "audit_tool_registry",
    "completion_rule_text",
    "core_session_count",
    "core_sessions_needed",
    "instrument_registry",
    "programme_registry",
    "scale_info",
]


@cache
def _builtin(name: str) -> dict[str, Any]:
    text = resources.files("cdanalytics").joinpath("registries", f"{name}.yaml").read_text("utf-8")
    return yaml.load(text, Loader=_LOADER)


_PROGRAMME_REQUIRED = ("name", "core", "expected_duration_days", "completion_rule")

#: Whose account an instrument records (``respondent``): the informant codes of
#: ``measures`` (``data/schemas/measures.yaml``); ``father`` is the man himself.
RESPONDENTS: tuple[str, ...] = ("father", "partner", "child", "practitioner")


def programme_registry(overrides: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Return the programme registry, with a site's overrides merged in.

    Parameters
    ----------
    overrides
        Mapping of programme code to the fields to change (for example
        ``{"carrousel": {"core": {"group": 12}}}``), or a new programme with at
        least ``name``, ``core``, ``expected_duration_days`` and
        ``completion_rule``. A programme's ``stages`` are checked by
        :func:`cdanalytics.stages.check_stages`.

    Returns
    -------
    dict
        Programme code to its registry entry. Each entry also carries
        ``code`` and ``completion_rule.text``, the rule in words, for outputs
        that use it.
    """
    merged = deep_merge(_builtin("programmes"), overrides or {})
    for code, entry in merged.items():
        missing = [f for f in _PROGRAMME_REQUIRED if f not in entry]
        if missing:
            raise ConfigError(
                f"Programme {code!r} in the registry lacks {', '.join(missing)}; "
                "a new programme needs name, core, expected_duration_days and completion_rule."
            )
        entry.setdefault("review", {"count": 0, "window_days": 0, "timing": "none"})
        entry.setdefault("completion_grace_days", 0)
        entry.setdefault("rolling_entry", False)
        check_stages(code, entry)
        entry["code"] = code
        entry["completion_rule"]["text"] = completion_rule_text(entry)
    return merged


def completion_rule_text(entry: Mapping[str, Any], lang: str = "en") -> str:
    """The completion rule of a registry entry in words, in ``lang`` (``"en"`` or ``"nl"``)."""
    rule = entry["completion_rule"]
    key = "rule_text_last" if rule.get("require_last_core") else "rule_text"
    return label(
        key,
        lang,
        share=percent(float(rule["min_core_share"]), lang),
        total=number(core_session_count(entry), lang),
        needed=number(core_sessions_needed(entry), lang),
    )


def core_session_count(entry: Mapping[str, Any]) -> int:
    """Number of core sessions of a programme, over all session types."""
    return int(sum(entry["core"].values()))


def core_sessions_needed(entry: Mapping[str, Any]) -> int:
    """Fewest core sessions attended that meet the completion rule's share.

    ``ceil(min_core_share * core sessions)``, rounded first to 9 decimals so
    that a share such as 0.7 of 10 sessions needs 7, not 8.
    """
    share = float(entry["completion_rule"]["min_core_share"])
    return math.ceil(round(share * core_session_count(entry), 9))


def instrument_registry(overrides: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Return the instrument registry, with a site's overrides merged in.

    Parameters
    ----------
    overrides
        Mapping of instrument code to fields to change, for example
        ``{"psi_sf": {"scales": {"total": {"reliability": 0.91}}}}``.

    Returns
    -------
    dict
        Instrument code to its entry; each scale carries every field named in
        the registry's header, ``None`` where unknown.
    """
    merged = deep_merge(_builtin("instruments"), overrides or {})
    for code, entry in merged.items():
        if not entry.get("scales"):
            raise ConfigError(f"Instrument {code!r} in the registry has no scales.")
        respondent = entry.setdefault("respondent", None)
        if respondent is not None and respondent not in RESPONDENTS:
            raise ConfigError(
                f"Instrument {code!r}: respondent must be one of {', '.join(RESPONDENTS)}, "
                f"not {respondent!r}."
            )
        for scale, info in entry["scales"].items():
            for field in ("min", "max", "direction"):
                if info.get(field) is None:
                    raise ConfigError(f"Instrument {code!r} scale {scale!r} lacks {field}.")
            if info["direction"] not in ("higher_worse", "higher_better"):
                raise ConfigError(
                    f"Instrument {code!r} scale {scale!r}: direction must be "
                    f"higher_worse or higher_better, not {info['direction']!r}."
                )
            for field in ("reliability", "functional", "dysfunctional", "clinical_threshold"):
                info.setdefault(field, None)
        entry["code"] = code
    return merged


def scale_info(
    instrument: str, scale: str, registry: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Registry entry of one scale of one instrument, with a clear error if unknown."""
    reg = registry if registry is not None else instrument_registry()
    if instrument not in reg:
        raise ConfigError(f"Unknown instrument {instrument!r}; known: {', '.join(sorted(reg))}.")
    scales = reg[instrument]["scales"]
    if scale not in scales:
        raise ConfigError(
            f"Instrument {instrument!r} has no scale {scale!r}; known: {', '.join(sorted(scales))}."
        )
    return scales[scale]


@dataclass(frozen=True)
class Registries:
    """The three registries of one evaluation, merged once.

    :func:`cdanalytics.load_export` builds them from the evaluation config's
    ``programmes:``, ``instruments:`` and ``audit_tools:`` overrides and
    carries them on the :class:`~cdanalytics.Export` (``export.registries``);
    the analyses read them from there. :meth:`build` is the one place the
    built-in registries and a site's overrides are merged for an analysis.

    Attributes
    ----------
    programmes, instruments, audit_tools
        The merged registries (:func:`programme_registry`,
        :func:`instrument_registry`, :func:`audit_tool_registry`).
    overrides
        The overrides they were built from, by registry name, so that further
        overrides (:meth:`with_overrides`) merge over them.

    Examples
    --------
    >>> reg = Registries.build(programmes={"caring_dads": {"expected_duration_days": 140}})
    >>> reg.programmes["caring_dads"]["expected_duration_days"]
    140
    >>> reg.programmes["borg"]["name"]["en"] == programme_registry()["borg"]["name"]["en"]
    True
    """

    programmes: Mapping[str, Any] = dataclasses.field(default_factory=lambda: programme_registry())
    instruments: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: instrument_registry()
    )
    audit_tools: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: audit_tool_registry()
    )
    overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        programmes: Mapping[str, Any] | None = None,
        instruments: Mapping[str, Any] | None = None,
        audit_tools: Mapping[str, Any] | None = None,
    ) -> Registries:
        """Merge a site's overrides into the built-in registries (checked).

        Raises
        ------
        ConfigError
            An override leaves an entry incomplete or inconsistent.
        """
        overrides = {
            name: dict(value)
            for name, value in (
                ("programmes", programmes),
                ("instruments", instruments),
                ("audit_tools", audit_tools),
            )
            if value
        }
        return cls(
            programmes=programme_registry(programmes),
            instruments=instrument_registry(instruments),
            audit_tools=audit_tool_registry(audit_tools),
            overrides=overrides,
        )

    def with_overrides(
        self,
        programmes: Mapping[str, Any] | None = None,
        instruments: Mapping[str, Any] | None = None,
        audit_tools: Mapping[str, Any] | None = None,
    ) -> Registries:
        """These registries with further overrides merged over this one's (``self`` if none)."""
        extra = {"programmes": programmes, "instruments": instruments, "audit_tools": audit_tools}
        if not any(extra.values()):
            return self
        merged = {
            name: deep_merge(self.overrides.get(name, {}), value or {})
            for name, value in extra.items()
        }
        return Registries.build(**merged)


_AUDIT_DIRECTIONS = ("higher_better", "lower_better")


def audit_tool_registry(overrides: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Return the audit-tool registry, with a site's overrides merged in.

    Parameters
    ----------
    overrides
        Mapping of tool code to the fields to change, for example
        ``{"safe_and_together": {"items": {"m_safety_plan": {...}}}}`` to add
        an item, or a whole new tool with ``name`` and ``items``. Each item
        needs ``group``, ``label`` (``en`` and ``nl``), ``scale`` (integer
        score to ``{en, nl}`` label), ``met`` (scores that count as met),
        ``direction`` (``higher_better`` or ``lower_better``) and ``source``.

    Returns
    -------
    dict
        Tool code to its entry. Each tool carries ``code``; each item carries
        ``code`` and ``levels`` (its scores, ascending); ``met`` is sorted.
        ``family_outcomes`` (outcome column to ``label`` and ``direction``)
        is checked too, empty when a tool has none.
        Keys of the data file starting with ``_`` (shared YAML anchors) are
        not tools.

    Raises
    ------
    ConfigError
        Naming the tool and item key that is incomplete or inconsistent.

    References
    ----------
    Safe & Together Institute, the Safe & Together model; Scottish Government
    (2021) National Guidance for Child Protection in Scotland, 4.115-4.116.
    """
    merged = deep_merge(_builtin("audit_tools"), overrides or {})
    tools = {code: entry for code, entry in merged.items() if not str(code).startswith("_")}
    for code, tool in tools.items():
        if not isinstance(tool, Mapping) or not tool.get("items"):
            raise ConfigError(f"Audit tool {code!r} in the registry has no items.")
        if "name" not in tool:
            raise ConfigError(f"Audit tool {code!r} in the registry lacks name.")
        for item, info in tool["items"].items():
            _check_audit_item(code, item, info)
        tool["code"] = code
        for outcome, info in tool.setdefault("family_outcomes", {}).items():
            where = f"Audit tool {code!r} family outcome {outcome!r}"
            if not isinstance(info, Mapping) or info.get("direction") not in _AUDIT_DIRECTIONS:
                raise ConfigError(f"{where}: direction must be higher_better or lower_better.")
            for lang in ("en", "nl"):
                if not (info.get("label") or {}).get(lang):
                    raise ConfigError(f"{where} lacks label.{lang}.")
    return tools


def _check_audit_item(tool: str, item: str, info: Any) -> None:
    """Validate one audit item in place (adds ``code`` and ``levels``)."""
    where = f"Audit tool {tool!r} item {item!r}"
    if not isinstance(info, Mapping):
        raise ConfigError(f"{where} must be a mapping of fields, not {info!r}.")
    missing = [
        f for f in ("group", "label", "scale", "met", "direction", "source") if f not in info
    ]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}.")
    for lang in ("en", "nl"):
        if not (info["label"] or {}).get(lang):
            raise ConfigError(f"{where} lacks label.{lang}.")
    try:
        levels = sorted(int(k) for k in info["scale"])
        met = sorted(int(m) for m in info["met"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: scale and met must be integer scores ({exc}).") from None
    if len(levels) < 2:
        raise ConfigError(f"{where}: scale needs at least two levels.")
    if not met or not set(met) <= set(levels):
        raise ConfigError(f"{where}: met {met} must be a non-empty subset of the scale {levels}.")
    if info["direction"] not in _AUDIT_DIRECTIONS:
        raise ConfigError(
            f"{where}: direction must be higher_better or lower_better, not {info['direction']!r}."
        )
    info["scale"] = {int(k): v for k, v in info["scale"].items()}
    info["levels"] = levels
    info["met"] = met
    info["code"] = item
