"""cdanalytics: evaluate domestic-abuse perpetrator programmes from anonymised case exports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cdanalytics")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
