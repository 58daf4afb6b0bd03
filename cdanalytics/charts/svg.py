"""A figure as SVG text, each text measured once (:func:`svg_text`).

Saving a figure with constrained layout and a tight bounding box makes three
SVG renderers (the layout's, the tight box's and the one that writes), and
matplotlib keeps what it measured per renderer: every text was measured three
times, and at every layout of every text the font was looked up again and two
of its tables read for the line height. Both depend only on the text and its
font (and, through the font lookup, on the font settings), so :func:`svg_text`
draws with an SVG renderer that keeps them for the process, per set of font
settings. ``savefig`` also draws the whole figure once with drawing switched
off, only so that its layout engine runs before the tight box is measured;
that renderer runs just the layout engine instead (a sixth of the time of a
save). A text is drawn as glyph outlines; where its glyphs go and their
outlines depend only on the text and its font too, and the same texts recur in
every figure, so they are kept for the process as well (:class:`_KeptGlyphs`).
The SVG is the one ``savefig`` writes, byte for byte (up to the random
element ids of matplotlib; tests/test_charts.py compares them for every chart).
"""

from __future__ import annotations

import codecs
import contextlib
import io
from collections import OrderedDict
from typing import Any

import matplotlib as mpl
from matplotlib import cbook
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager, get_font
from matplotlib.textpath import TextToPath

__all__ = ["svg_text"]

#: Most sizes kept per set of font settings (then they are measured afresh).
MAX_KEPT = 50_000


def svg_text(fig: Figure) -> str:
    """``fig`` as SVG text, as ``fig.savefig(buffer, format="svg",
    bbox_inches="tight", metadata={"Date": None})`` writes it, with each text
    measured once (see the module notes). The figure keeps its own canvas."""
    canvas = fig.canvas
    buffer = io.StringIO()
    try:
        _SVGCanvas(fig, _kept_sizes())
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    finally:
        fig.set_canvas(canvas)
    return buffer.getvalue()


class _MeasuredOnceSVG(RendererSVG):
    """matplotlib's SVG renderer, taking the size of a plain (not math) text and
    the height metrics of a font from ``kept`` when it has worked them out before."""

    def __init__(self, *args: Any, kept: dict, figure: Figure, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept = kept
        self._figure = figure
        glyphs = kept.get(_GLYPHS)
        if glyphs is None:
            glyphs = kept[_GLYPHS] = _KeptGlyphs()
        self._text2path = glyphs

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, hash(prop))  # matplotlib's own test of equal font properties
        size = self._kept.get(key)
        if size is None:
            size = super().get_text_width_height_descent(s, prop, ismath)
            _keep(self._kept, key, size)
        return size

    @contextlib.contextmanager
    def _draw_disabled(self):
        """matplotlib's draw with drawing switched off, which ``savefig`` runs
        only to lay the figure out before measuring its tight box: here the
        figure only runs its layout engine."""
        figure = self._figure

        def layout_only(renderer):
            engine = figure.get_layout_engine()
            if figure.axes and engine is not None:
                with contextlib.suppress(ValueError):
                    engine.execute(figure)

        with super()._draw_disabled(), cbook._setattr_cm(figure, draw=layout_only):
            yield

    def _get_font_height_metrics(self, prop):
        """Ascent, descent and line gap of the font of ``prop`` at the
        figure's dpi, as ``Text._get_layout`` works them out from the font's
        tables when the renderer does not give them (matplotlib asks renderers
        for them first): read once per font and size instead of at every
        layout of every text."""
        dpi = self._figure.dpi
        key = ("height", hash(prop), dpi)
        found = self._kept.get(key)
        if found is None:
            found = _font_height_metrics(prop, dpi)
            _keep(self._kept, key, found)
        return found


#: Where the kept sizes hold the text-to-path converter that keeps glyphs.
_GLYPHS = ("glyphs",)


class _KeptGlyphs(TextToPath):
    """matplotlib's text-to-path converter, keeping for the process where each
    plain text's glyphs go and their outlines.

    A text is drawn as glyph outlines (the SVG's ``<use>`` of a ``<path>`` per
    glyph): laying it out and reading its glyphs' outlines (a fifth of drawing
    a report's figures) depends only on the text, its font (at the fixed size
    of :class:`~matplotlib.textpath.TextToPath`) and its font features and
    language, and the same texts (tick labels, axis labels) recur in every
    figure. The result is what matplotlib returns: the glyphs in order, and
    the outlines of those not yet in ``glyph_map``, in the order they first
    occur.
    """

    def __init__(self) -> None:
        super().__init__()
        self._texts: dict[tuple, tuple[list, dict]] = {}

    def get_glyphs_with_font(
        self,
        font,
        s,
        glyph_map=None,
        return_new_glyphs_only=False,
        *,
        features=None,
        language=None,
    ):
        key = (font, s, features, language)  # the font object: get_font keeps one per file
        try:
            found = self._texts.get(key)
        except TypeError:  # unhashable features or language: as matplotlib does it
            return super().get_glyphs_with_font(
                font,
                s,
                glyph_map,
                return_new_glyphs_only,
                features=features,
                language=language,
            )
        if found is None:
            if len(self._texts) >= MAX_KEPT:
                self._texts.clear()
            info, outlines, _ = super().get_glyphs_with_font(
                font, s, None, True, features=features, language=language
            )
            found = self._texts[key] = (info, dict(outlines))
        info, outlines = found
        if glyph_map is None:
            glyph_map = OrderedDict()
        new = OrderedDict() if return_new_glyphs_only else glyph_map
        for glyph, outline in outlines.items():
            if glyph not in glyph_map:
                new[glyph] = outline
        return list(info), new, []


def _font_height_metrics(prop, dpi: float) -> tuple:
    """The font height metrics of matplotlib's ``Text._get_layout``: from the
    OS/2 table (typographic ascender, descender and line gap), else the hhea
    table, scaled to the font size at ``dpi``; ``(None, None, None)`` (then
    matplotlib works them out itself) when they cannot be read here."""
    try:
        font = get_font(fontManager._find_fonts_by_props(prop))
    except AttributeError:  # a matplotlib without this lookup
        return None, None, None
    possible = [
        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
        ("hhea", "lineGap", "ascent", "descent"),
    ]
    for table_name, linegap_key, ascent_key, descent_key in possible:
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        fontsize = prop.get_size_in_points()
        units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
        scale = 1 / units_per_em * fontsize * dpi / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[linegap_key] * scale
    return None, None, None


class _SVGCanvas(FigureCanvasSVG):
    """matplotlib's SVG canvas drawing with :class:`_MeasuredOnceSVG` (the
    body of ``FigureCanvasSVG.print_svg``)."""

    def __init__(self, figure: Figure, kept: dict) -> None:
        super().__init__(figure)
        self._kept = kept

    def print_svg(self, filename, *, bbox_inches_restore=None, metadata=None, **_):
        # The other keywords print_figure passes (dpi, colours, orientation)
        # are not print_svg's: matplotlib drops them for its own.
        with cbook.open_file_cm(filename, "w", encoding="utf-8") as fh:
            if not cbook.file_requires_unicode(fh):
                fh = codecs.getwriter("utf-8")(fh)
            dpi = self.figure.dpi
            self.figure.dpi = 72
            width, height = self.figure.get_size_inches()
            svg = _MeasuredOnceSVG(
                width * 72,
                height * 72,
                fh,
                image_dpi=dpi,
                metadata=metadata,
                kept=self._kept,
                figure=self.figure,
            )
            renderer = MixedModeRenderer(
                self.figure, width, height, dpi, svg, bbox_inches_restore=bbox_inches_restore
            )
            self.figure.draw(renderer)
            renderer.finalize()


# Sizes worked out by the SVG renderers, per set of font settings.
_KEPT: dict[tuple, dict] = {}


def _kept_sizes() -> dict:
    """The sizes kept under the font settings in force (the font a text is
    drawn in is looked up with them)."""
    settings = tuple(
        (k, str(v)) for k, v in mpl.rcParams.items() if k.startswith(("font.", "text."))
    )
    if settings not in _KEPT and len(_KEPT) >= 8:
        _KEPT.clear()
    return _KEPT.setdefault(settings, {})


def _keep(kept: dict, key: tuple, value: tuple) -> None:
    """``kept[key] = value``, emptying ``kept`` first once it holds :data:`MAX_KEPT`."""
    if len(kept) >= MAX_KEPT:
        kept.clear()
    kept[key] = value
