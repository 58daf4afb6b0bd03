"""Notes of the analyses a report could not compute, in the page's language.

A :class:`Note` is a ``str`` whose text is the English note, as
``outcomes.json`` and ``run.json`` keep it; the page words it from the
locale files (``note_*`` keys, in every language) with :func:`note_words`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import AnalysisError, ConvergenceError, InsufficientDataError
from ..i18n import label

__all__ = ["Note", "failure_note", "note_words"]

#: Reason of a note of an analysis that failed, by the class of its error (the most
#: specific first); the English note keeps the error's own message.
_REASONS: tuple[tuple[type[AnalysisError], str], ...] = (
    (InsufficientDataError, "note_reason_insufficient_data"),
    (ConvergenceError, "note_reason_convergence"),
    (AnalysisError, "note_reason_analysis"),
)


class Note(str):
    """An analysis the report could not compute, and why.

    The string itself is the English note (``outcomes.json`` and
    ``run.json`` keep it, as before); :meth:`words` words it in the page's
    language from the locale files: ``key`` with its ``placeholders`` (a value that
    is itself a :class:`Note` is worded in the same language).

    Parameters
    ----------
    key
        Locale key of the note (``note_*``, in every language).
    text
        The English note when it is not the English label of ``key`` (a
        failed analysis keeps its error's message in English).
    **values
        The placeholders of the label.
    """

    key: str
    placeholders: dict[str, Any]

    def __new__(cls, key: str, text: str | None = None, **values: Any) -> Note:
        """The note, whose string is its English text."""
        english = text if text is not None else _words(key, "en", values)
        note = super().__new__(cls, english)
        note.key = key
        note.placeholders = values
        return note

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the key, text and values (``str`` would pass the text only)."""
        return (_note, (self.key, str(self), self.placeholders))

    def words(self, lang: str) -> str:
        """The note in ``lang`` (in English: the note itself)."""
        return str(self) if lang == "en" else _words(self.key, lang, self.placeholders)


def _note(key: str, text: str, values: dict[str, Any]) -> Note:
    return Note(key, text, **values)


def _words(key: str, lang: str, values: Mapping[str, Any]) -> str:
    return label(
        key, lang, **{k: v.words(lang) if isinstance(v, Note) else v for k, v in values.items()}
    )


def note_words(note: str, lang: str) -> str:
    """A note of ``Outcomes.notes`` in ``lang``: a :class:`Note` worded from the
    locale files, any other note (plain text) as it is."""
    return note.words(lang) if isinstance(note, Note) else note


def failure_note(what: str, error: AnalysisError, **values: Any) -> Note:
    """The note of an analysis that raised ``error``.

    ``what`` is the locale key naming the analysis (``note_what_*``),
    ``values`` its placeholders. In English the note reads
    ``"<analysis>: not computed (<the error's message>)"``; in another
    language the reason is worded by the class of the error (the message is
    the library's English).
    """
    name = Note(what, **values)
    reason = next(key for kind, key in _REASONS if isinstance(error, kind))
    text = f"{name}: not computed ({error})"
    return Note("note_not_computed", text, what=name, reason=Note(reason))
