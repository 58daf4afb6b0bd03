"""The pseudonymisation key and pseudonym length (see :mod:`cdanalytics.io.pseudonymise`).

Kept apart from the table rewriting so that the command line can show these
defaults without importing pandas.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError

__all__ = ["DEFAULT_HEX_CHARS", "DEFAULT_KEY_ENV", "MIN_HEX_CHARS", "MIN_KEY_BYTES", "load_key"]

#: Environment variable read by :func:`load_key` by default.
DEFAULT_KEY_ENV = "CDANALYTICS_PSEUDONYM_KEY"
#: Shortest key accepted, in bytes.
MIN_KEY_BYTES = 16
#: Default pseudonym length in hex characters (80 bits).
DEFAULT_HEX_CHARS = 20
#: Shortest pseudonym accepted, in hex characters.
MIN_HEX_CHARS = 20


def load_key(env_var: str = DEFAULT_KEY_ENV, key_file: str | os.PathLike | None = None) -> bytes:
    """The pseudonymisation key, from a key file or an environment variable.

    Parameters
    ----------
    env_var
        Environment variable holding the key (used when ``key_file`` is None).
    key_file
        File whose bytes, with surrounding whitespace removed, are the key.

    Returns
    -------
    bytes
        The key.

    Raises
    ------
    ConfigError
        When the file or variable is missing or empty, or the key is shorter
        than :data:`MIN_KEY_BYTES` bytes. The message never contains the key.
    """
    if key_file is not None:
        path = Path(key_file)
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the key file {path}: {exc.strerror}") from None
        where = f"the key file {path}"
    else:
        value = os.environ.get(env_var)
        if not value:
            raise ConfigError(
                f"no pseudonymisation key: set the environment variable {env_var} "
                "or give a key file (--key-file)"
            )
        key = value.strip().encode("utf-8")
        where = f"the environment variable {env_var}"
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the key in {where} is {len(key)} bytes; at least {MIN_KEY_BYTES} are needed "
            '(make one with: python -c "import secrets; print(secrets.token_hex(32))")'
        )
    return key
