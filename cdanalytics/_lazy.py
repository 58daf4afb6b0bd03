"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package lists what it re-exports as ordinary relative imports inside an
``if TYPE_CHECKING:`` block (so type checkers, editors and the API docs see
them) and ends with::

    __getattr__, __dir__ = lazy_exports(__name__)

Nothing in that block is imported when the package is; each name is imported
on first use (``from cdanalytics import change`` or ``cdanalytics.change``)
and then kept in the package's namespace. This keeps ``import cdanalytics``
and ``cdanalytics --help`` fast: statsmodels, matplotlib and pandera load only
when an analysis, chart or validation needs them.

A re-exported name that is also the name of one of the package's own
submodules (``prepost.change``, the function, beside ``prepost/change.py``)
is imported at once: importing that submodule later would otherwise replace
the function by the module in the package's namespace.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["lazy_exports", "typing_only_imports"]


def typing_only_imports(source: str) -> dict[str, tuple[str, str | None]]:
    """The relative imports inside a module's top-level ``if TYPE_CHECKING:`` blocks.

    Parameters
    ----------
    source
        Python source of the package's ``__init__``.

    Returns
    -------
    dict
        Exported name -> (relative module, attribute); the attribute is
        ``None`` when the name is a submodule (``from . import charts``).
    """
    targets: dict[str, tuple[str, str | None]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for statement in node.body:
            if not (isinstance(statement, ast.ImportFrom) and statement.level > 0):
                continue
            base = "." * statement.level + (statement.module or "")
            for alias in statement.names:
                name = alias.asname or alias.name
                if statement.module is None:
                    targets[name] = (base + alias.name, None)
                else:
                    targets[name] = (base, alias.name)
    return targets


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def lazy_exports(package: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for a package with lazy re-exports.

    Parameters
    ----------
    package
        The package's ``__name__``; its ``__init__`` must already be in
        ``sys.modules`` (call this at the end of the ``__init__``).

    Returns
    -------
    (callable, callable)
        ``__getattr__(name)`` imports and returns a re-exported name or a
        submodule (raising :class:`AttributeError` for any other name);
        ``__dir__()`` lists the package's namespace and every re-exported name.

    References
    ----------
    PEP 562 -- Module ``__getattr__`` and ``__dir__``.
    """
    module = sys.modules[package]
    init = Path(module.__file__)
    targets = typing_only_imports(init.read_text(encoding="utf-8"))
    namespace = vars(module)

    def load(name: str) -> Any:
        source, attribute = targets[name]
        imported = importlib.import_module(source, package)
        value = imported if attribute is None else getattr(imported, attribute)
        namespace[name] = value
        return value

    here = init.parent

    def is_submodule(name: str) -> bool:
        return (here / f"{name}.py").exists() or (here / name / "__init__.py").exists()

    for name, (_, attribute) in targets.items():
        if attribute is not None and is_submodule(name):
            load(name)

    def __getattr__(name: str) -> Any:
        if name in targets:
            return load(name)
        if not name.startswith("__") and is_submodule(name):
            # ``cdanalytics.io.schema`` without importing it first, as when
            # the package imported every submodule up front.
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(targets))

    return __getattr__, __dir__
