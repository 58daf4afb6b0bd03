"""Programme stages from the registry: checked, and as a table.

A programme of the registry may list its ``stages`` (see the header of
``cdanalytics/registries/programmes.yaml``): the Caledonian System's
pre-group, group and maintenance stages, BORG's group and individual sessions
as parallel strands, Caring Dads' group and review stages. A session of the
export belongs to the stage that lists its ``session_type``; stages with the
same ``order`` run side by side. A site overrides any value of a stage, or
adds a stage, under ``programmes:`` in its evaluation config, as for any
registry value.

A programme without ``stages`` has one stage, ``core``, made from its
``core`` sessions and completion rule, so every programme can be analysed
stage by stage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .errors import ConfigError

__all__ = ["STAGE_COLUMNS", "STAGE_FIELDS", "check_stages", "stage_table"]

#: Fields of one stage entry, with what each must be.
STAGE_FIELDS: dict[str, str] = {
    "order": "a whole number of 1 or more (stages with the same order are parallel)",
    "name": "a mapping with an English (en) and Dutch (nl) name",
    "sessions": "a mapping of session type to a whole number of sessions (1 or more)",
    "completion_rule": "a mapping with min_share (above 0, at most 1) and require_last "
    "(true/false)",
    "potential_after_days": "a whole number of days (0 or more)",
    "required": "true or false",
    "rolling_entry": "true or false",
}
_OPTIONAL = {"required": True, "rolling_entry": False}

#: Columns of :func:`stage_table`.
STAGE_COLUMNS: tuple[str, ...] = (
    "programme",
    "stage",
    "order",
    "name_en",
    "name_nl",
    "session_types",
    "n_sessions",
    "n_needed",
    "require_last",
    "potential_after_days",
    "required",
    "rolling_entry",
)


def _whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_stage(where: str, stage: Any, session_types: tuple[str, ...] | None) -> None:
    if not isinstance(stage, Mapping):
        raise ConfigError(f"{where} must be a mapping of the fields {', '.join(STAGE_FIELDS)}.")
    unknown = sorted(set(stage) - set(STAGE_FIELDS))
    if unknown:
        raise ConfigError(
            f"{where} has unknown key(s) {', '.join(unknown)}; known: {', '.join(STAGE_FIELDS)}."
        )
    missing = [f for f in STAGE_FIELDS if f not in stage and f not in _OPTIONAL]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}.")
    name, sessions, rule = stage["name"], stage["sessions"], stage["completion_rule"]
    problems = {
        "order": not _whole(stage["order"], 1),
        "name": not (
            isinstance(name, Mapping) and all(isinstance(name.get(k), str) for k in ("en", "nl"))
        ),
        "sessions": not (
            isinstance(sessions, Mapping)
            and sessions
            and all(_whole(n, 1) for n in sessions.values())
        ),
        "completion_rule": not (
            isinstance(rule, Mapping)
            and isinstance(rule.get("min_share"), (int, float))
            and not isinstance(rule.get("min_share"), bool)
            and 0 < rule["min_share"] <= 1
            and isinstance(rule.get("require_last", False), bool)
        ),
        "potential_after_days": not _whole(stage["potential_after_days"], 0),
        "required": not isinstance(stage.get("required", True), bool),
        "rolling_entry": not isinstance(stage.get("rolling_entry", False), bool),
    }
    for field, bad in problems.items():
        if bad:
            value = stage.get(field)
            raise ConfigError(f"{where}.{field} must be {STAGE_FIELDS[field]}, not {value!r}.")
    wrong = [t for t in sessions if session_types is not None and t not in session_types]
    if wrong:
        raise ConfigError(
            f"{where}.sessions names session type(s) {', '.join(map(str, wrong))}; the export "
            f"contract knows {', '.join(session_types)}."
        )


def check_stages(
    code: str, entry: Mapping[str, Any], session_types: tuple[str, ...] | None = None
) -> None:
    """Check the ``stages`` of one registry entry; errors name the key.

    Parameters
    ----------
    code
        Programme code (for the messages).
    entry
        The programme's registry entry (after a site's overrides).
    session_types
        Session types of the export contract; ``None`` skips that check (the
        registry cannot read the contract, which depends on it; the stage
        analyses pass the contract's types).

    Raises
    ------
    ConfigError
        A stage lacks a field, has an unknown one or a value of the wrong
        kind, names an unknown session type, or two stages claim the same
        session type; the message names the key, e.g.
        ``programmes.caledonian.stages.group.sessions``.
    """
    stages = entry.get("stages")
    if stages is None:
        return
    where = f"programmes.{code}.stages"
    if not isinstance(stages, Mapping) or not stages:
        raise ConfigError(f"{where} must be a mapping of stage code to stage, not {stages!r}.")
    owner: dict[str, str] = {}
    for stage_code, stage in stages.items():
        _check_stage(f"{where}.{stage_code}", stage, session_types)
        for session_type in stage["sessions"]:
            if session_type in owner:
                raise ConfigError(
                    f"{where}.{stage_code}.sessions: session type {session_type!r} already "
                    f"belongs to stage {owner[session_type]!r}; a session type belongs to one "
                    "stage."
                )
            owner[session_type] = str(stage_code)


def _default_stage(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The single ``core`` stage of a programme that lists no stages."""
    rule = entry["completion_rule"]
    name = entry.get("name") or {}
    return {
        "order": 1,
        "name": {
            "en": f"{name.get('en', entry.get('code', ''))} (core)",
            "nl": f"{name.get('nl', entry.get('code', ''))} (kern)",
        },
        "sessions": dict(entry["core"]),
        "completion_rule": {
            "min_share": rule["min_core_share"],
            "require_last": bool(rule.get("require_last_core")),
        },
        "potential_after_days": int(entry["expected_duration_days"])
        + int(entry.get("completion_grace_days", 0)),
        "required": True,
        "rolling_entry": bool(entry.get("rolling_entry", False)),
    }


def stage_table(registry: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per programme and stage of a (checked) programme registry.

    Parameters
    ----------
    registry
        The programme registry, from
        :func:`cdanalytics.registry.programme_registry`.

    Returns
    -------
    DataFrame
        Columns :data:`STAGE_COLUMNS`, sorted by programme, ``order`` and the
        stage's place in the registry: ``session_types`` (tuple),
        ``n_sessions`` (sessions of the stage over its types), ``n_needed``
        (``ceil(min_share * n_sessions)``, rounded first to 9 decimals),
        ``require_last``, ``potential_after_days``, ``required``,
        ``rolling_entry``. A programme without ``stages`` has one stage
        ``core`` built from its ``core`` sessions and completion rule.
    """
    rows = []
    for code, entry in registry.items():
        stages = entry.get("stages") or {"core": _default_stage(entry)}
        for place, (stage_code, stage) in enumerate(stages.items()):
            n = int(sum(stage["sessions"].values()))
            share = float(stage["completion_rule"]["min_share"])
            rows.append(
                {
                    "programme": str(code),
                    "stage": str(stage_code),
                    "order": int(stage["order"]),
                    "name_en": stage["name"]["en"],
                    "name_nl": stage["name"]["nl"],
                    "session_types": tuple(stage["sessions"]),
                    "n_sessions": n,
                    "n_needed": math.ceil(round(share * n, 9)),
                    "require_last": bool(stage["completion_rule"].get("require_last", False)),
                    "potential_after_days": int(stage["potential_after_days"]),
                    "required": bool(stage.get("required", True)),
                    "rolling_entry": bool(stage.get("rolling_entry", False)),
                    "_place": place,
                }
            )
    table = pd.DataFrame(rows, columns=[*STAGE_COLUMNS, "_place"])
    table = table.sort_values(["programme", "order", "_place"], kind="stable")
    return table.drop(columns="_place").reset_index(drop=True)
