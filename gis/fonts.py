"""A CJK font for every figure floodkit draws, installed with the project, not assumed on the machine.

County offices print briefings on whatever PC is at hand; a font found only on the developer's
machine would print as empty boxes (豆腐块) there. The font comes from the PyPI package
``pylopdf-fonts-zh-cn`` (Noto Sans SC Regular, SIL Open Font License), a dependency of floodkit.

Other modules call :func:`use_cjk_font` before drawing::

    from gis.fonts import use_cjk_font
    use_cjk_font()            # matplotlib now draws 一都 / 白鹤 / 绍鲁 in Noto Sans SC

and may check their strings with :func:`missing_glyphs`.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from gis.errors import FloodkitError

FAMILY = "Noto Sans SC"


def cjk_font_path() -> Path:
    """Path of the bundled Noto Sans SC Regular font file.

    Raises
    ------
    FloodkitError
        When the package that ships the font is not installed.
    """
    try:
        import pylopdf_fonts_zh_cn
    except ImportError as exc:  # pragma: no cover - only on a broken install
        raise FloodkitError(
            "fonts: the CJK font package 'pylopdf-fonts-zh-cn' is not installed; "
            "run `pip install -e .` (it is a floodkit dependency)") from exc
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    if not path.is_file():  # pragma: no cover
        raise FloodkitError(f"fonts: {path} is missing; reinstall 'pylopdf-fonts-zh-cn'")
    return path


@functools.lru_cache(maxsize=1)
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(cjk_font_path(), lazy=True) as font:
        return frozenset(font.getBestCmap())


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` that the CJK font cannot draw (whitespace and controls ignored)."""
    cmap = _cmap()
    return {ch for ch in text if not ch.isspace() and ch.isprintable() and ord(ch) not in cmap}


@functools.lru_cache(maxsize=1)
def use_cjk_font() -> str:
    """Register the bundled CJK font with matplotlib and make it the default family.

    Safe to call many times. Returns the family name (``"Noto Sans SC"``).
    """
    import matplotlib
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(cjk_font_path()))
    # Only a Regular face ships; "bold" text falls back to it without a warning per call.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [FAMILY, "DejaVu Sans"]
    # Noto Sans SC has U+2212 MINUS SIGN, but keep ASCII '-' so text extraction from PDFs matches.
    matplotlib.rcParams["axes.unicode_minus"] = False
    # The font has CFF outlines: keep matplotlib's Type 3 embedding (Type 42 is TrueType-only and
    # gives PDFs that some readers reject); Type 3 text still carries ToUnicode and is extractable.
    matplotlib.rcParams["pdf.fonttype"] = 3
    return FAMILY


class NoPyplot:
    """The pyplot calls floodkit's drawing code uses (``subplots``, ``figure``, ``close``), made
    without pyplot: a :class:`matplotlib.figure.Figure` draws and saves through its own canvas, so
    writing a hydrograph PNG, a web-map popup or a briefing never switches the process's backend
    (``matplotlib.use("Agg")`` in a notebook kernel stops every later figure from showing inline)."""

    @staticmethod
    def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, dpi=None, **kwargs):
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, dpi=dpi)
        return fig, fig.subplots(nrows, ncols, **kwargs)

    @staticmethod
    def figure(figsize=None, dpi=None):
        from matplotlib.figure import Figure

        return Figure(figsize=figsize, dpi=dpi)

    @staticmethod
    def close(fig=None) -> None:
        """Nothing to do: pyplot never held the figure; it goes with its last reference."""


def font_properties(size: float | None = None, weight: str = "normal"):
    """A :class:`matplotlib.font_manager.FontProperties` pointing at the bundled font file."""
    from matplotlib.font_manager import FontProperties

    use_cjk_font()
    return FontProperties(fname=str(cjk_font_path()), size=size, weight=weight)


def webfont_css(text: str, family: str = "floodkit-cjk") -> str:
    """An ``@font-face`` rule with the bundled font, subset to the characters of ``text``, inlined.

    A web map opened on a PC without Chinese fonts (or in a bare browser) still shows its labels:
    the subset (tens of kB for a few hundred characters) travels inside the HTML as a WOFF data URI.
    """
    import base64
    import io

    from fontTools import subset

    chars = {c for c in text if ord(c) > 127} | {chr(i) for i in range(32, 127)}
    opts = subset.Options()
    opts.flavor = "woff"
    opts.layout_features = ["*"]
    font = subset.load_font(str(cjk_font_path()), opts)
    sub = subset.Subsetter(opts)
    sub.populate(text="".join(sorted(chars)))
    sub.subset(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, opts)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"@font-face{{font-family:'{family}';src:url(data:font/woff;base64,{data}) format('woff');}}"
