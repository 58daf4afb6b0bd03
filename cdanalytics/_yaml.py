"""Reading a user's YAML file (evaluation config, mapping file) with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["read_yaml_file"]


def read_yaml_file(path: Path, what: str) -> Any:
    """The parsed content of the YAML file at ``path``.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, as the start of an error message (for example
        ``"Evaluation config"`` or ``"Mapping file"``).

    Returns
    -------
    Any
        What :func:`yaml.safe_load` makes of the text (``None`` for an empty file).

    Raises
    ------
    ConfigError
        Naming ``what`` and ``path`` when the file does not exist, cannot be
        read, is not UTF-8 text or is not valid YAML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} cannot be read: it does not exist.") from exc
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}.") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} cannot be read: it is not UTF-8 text.") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from exc
