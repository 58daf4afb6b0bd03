"""Griffe extension for the API docs: fill in engagement's shared parameter entries.

The engagement functions decorated with ``@shared_parameters`` write lines
such as ``{data}`` out as the parameter's description when the module is
imported (:func:`cdanalytics.engagement._prepare.shared_parameters`). Griffe
reads the source, so this extension applies the same substitution to the
docstrings it found; the rendered page then shows what ``help()`` shows.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import griffe


class SharedParameters(griffe.Extension):
    """Expand ``{name}`` lines in docstrings of functions decorated with ``shared_parameters``."""

    def on_function_instance(self, *, func: griffe.Function, **kwargs: Any) -> None:
        decorated = any(
            str(d.value).rsplit(".", 1)[-1] == "shared_parameters" for d in func.decorators
        )
        if not decorated or func.docstring is None:
            return
        from cdanalytics.engagement._prepare import shared_parameters

        holder = SimpleNamespace(__doc__=func.docstring.value)
        func.docstring.value = inspect.cleandoc(shared_parameters(holder).__doc__)
