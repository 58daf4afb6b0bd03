"""The installed package version (``0+unknown`` in a source tree that is not installed).

:func:`library_versions` adds the versions of Python and of the libraries
whose results a report depends on, for ``run.json``.
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["LIBRARIES", "__version__", "library_versions"]

try:
    __version__ = version("cdanalytics")
except PackageNotFoundError:
    __version__ = "0+unknown"

#: Distributions whose versions a report records (their numbers can change ours).
LIBRARIES = ("pandas", "numpy", "scipy", "statsmodels", "pandera", "matplotlib")


def library_versions() -> dict[str, str | None]:
    """Versions of Python and of :data:`LIBRARIES`, from the installed metadata.

    Returns
    -------
    dict
        ``{"python": "3.11.7", "pandas": "3.0.1", ...}``; ``None`` for a
        library that is not installed. Nothing is imported.
    """
    import platform  # only when asked: keeps ``import cdanalytics`` quick

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions
