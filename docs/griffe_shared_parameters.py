"""Griffe extension for the API docs: fill in engagement's shared parameter entries.

The engagement functions decorated with ``@shared_parameters`` (or ``@family_docs``) write lines
such as ``{data}`` out as the parameter's description when the module is
imported (:func:`cdanalytics.engagement._prepare.shared_parameters`). Griffe
reads the source, so this extension applies the same substitution to the
docstrings it found; the rendered page then shows what ``help()`` shows.
"""

from __future__ import annotations

import importlib
import inspect
from types import SimpleNamespace
from typing import Any

import griffe

#: Decorators that fill in parameter entries, and where each is defined.
DECORATORS = {
    "shared_parameters": "cdanalytics.engagement._prepare",
    "family_docs": "cdanalytics.engagement._family",
}


class SharedParameters(griffe.Extension):
    """Expand ``{name}`` lines in docstrings of functions decorated with one of
    :data:`DECORATORS`."""

    def on_function_instance(self, *, func: griffe.Function, **kwargs: Any) -> None:
        names = [str(d.value).rsplit(".", 1)[-1] for d in func.decorators]
        name = next((n for n in names if n in DECORATORS), None)
        if name is None or func.docstring is None:
            return
        decorate = getattr(importlib.import_module(DECORATORS[name]), name)
        holder = SimpleNamespace(__doc__=func.docstring.value)
        func.docstring.value = inspect.cleandoc(decorate(holder).__doc__)
