"""Briefing exports: Chinese text really in the PNG/PDF, font coverage, legends and scale bar."""

from __future__ import annotations

import numpy as np
import pytest
from maps_fixture import make_case, make_results

from gis.briefing import nice_scale_length, write_briefings
from gis.errors import InputError
from gis.fonts import cjk_font_path, missing_glyphs, use_cjk_font
from gis.mapdata import load_results


@pytest.fixture(scope="module")
def brief(tmp_path_factory):
    root = tmp_path_factory.mktemp("brief")
    case = make_case()
    make_results(root / "res", case)
    rep = write_briefings(case, load_results(root / "res"), root / "out", dpi=100)
    return case, rep, root / "out"


def _pdf_text(path) -> str:
    # pypdf (dev dependency) reads the ToUnicode maps that matplotlib writes: extracted text proves
    # the PDF carries the real characters, not missing-glyph boxes or outlines only.
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(str(path)).pages)


def test_files_written(brief):
    _, rep, out = brief
    names = sorted(p.relative_to(out).as_posix() for p in rep.files)
    assert names == sorted(["形势图.png", "形势图.pdf", "指挥要素图.png", "指挥要素图.pdf",
                            "一页纸/一页纸_V1_溪口村.pdf", "一页纸/一页纸_V1_溪口村.html",
                            "一页纸/一页纸_V2_白鹤村.pdf", "一页纸/一页纸_V2_白鹤村.html"])
    assert all(p.stat().st_size > 1000 for p in rep.files)


def test_pdf_holds_the_chinese_title_and_issue_time(brief):
    _, _, out = brief
    text = _pdf_text(out / "形势图.pdf")
    assert "防汛防台形势图" in text and "东关溪小流域" in text and "2024年07月01日 08:00" in text
    assert "EPSG:4549" in text and "数据来源" in text and "比例尺" in text
    assert "指挥要素图" in _pdf_text(out / "指挥要素图.pdf")
    sheet = _pdf_text(out / "一页纸" / "一页纸_V2_白鹤村.pdf")
    assert "白鹤村" in sheet and "包保责任人：李卫东" in sheet and "13900000002" in sheet
    assert "准备转移" in sheet and "立即转移" in sheet


def test_png_title_is_drawn_in_the_cjk_font(brief, tmp_path):
    """The PNG has a title, and the font the figures resolve to draws each title character as a
    distinct glyph (missing glyphs would all be the same box, as DejaVu Sans shows for CJK)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties, findfont
    from PIL import Image

    _, _, out = brief
    img = np.asarray(Image.open(out / "形势图.png").convert("L"), dtype=float)
    assert img.shape == (827, 1169)  # A4 landscape at 100 dpi (300 dpi by default)
    assert (img[: int(0.06 * img.shape[0])] < 128).sum() > 500, "the title band is empty"

    use_cjk_font()
    resolved = findfont(FontProperties(family=matplotlib.rcParams["font.family"]), fallback_to_default=False)
    assert resolved == str(cjk_font_path())

    def glyphs(path):
        out_ = []
        for ch in "防汛防台形势图":
            fig = plt.figure(figsize=(0.5, 0.5), dpi=60)
            fig.text(0.5, 0.5, ch, fontproperties=FontProperties(fname=path, size=20), ha="center", va="center")
            fig.savefig(tmp_path / "g.png")
            plt.close(fig)
            out_.append(np.asarray(Image.open(tmp_path / "g.png").convert("L")).tobytes())
        return out_

    cjk = glyphs(resolved)
    assert len(set(cjk)) == 6  # 防 twice, 6 distinct glyphs
    dejavu = findfont(FontProperties(family="DejaVu Sans"))
    assert len(set(glyphs(dejavu))) == 1  # the same missing-glyph box for every character


def test_font_covers_every_character_drawn(brief):
    case, rep, out = brief
    assert cjk_font_path().is_file()
    drawn = "".join(t for texts in rep.texts.values() for t in texts)
    assert "防汛防台形势图" in drawn
    assert missing_glyphs(drawn) == set()
    for html_file in (out / "一页纸").glob("*.html"):
        assert missing_glyphs(html_file.read_text(encoding="utf-8").split("<body>")[1].split("<img")[0]) == set()
    assert missing_glyphs("😀") == {"😀"}  # the check can fail


def test_legends(brief):
    _, rep, _ = brief
    sit, cmd = rep.legends["situation"], rep.legends["command"]
    assert "淹没范围（最大水深 ≥ 0.05 m）" in sit and "预报断面：危急" in sit and "受影响村落（人数）" in sit
    assert [x for x in cmd if x.startswith("危险等级")] == ["危险等级 红 极高", "危险等级 橙 高",
                                                           "危险等级 黄 中", "危险等级 蓝 低"]
    assert "避灾安置场所（容量/安置人数）" in cmd and "转移路线" in cmd


def test_scale_bar_is_true_to_the_map(brief):
    case, rep, _ = brief
    width_m = float(case.dem["x"].max() - case.dem["x"].min()) + 30.0
    for length_m, label in rep.scale_bars.values():
        assert length_m == nice_scale_length(width_m) == 500.0
        assert label == "500 m"
    assert nice_scale_length(24_000) == 5000 and nice_scale_length(9_000) == 2000


def test_sheet_lists_vulnerable_first_without_resident_names(brief):
    _, _, out = brief
    page = (out / "一页纸" / "一页纸_V2_白鹤村.html").read_text(encoding="utf-8")
    assert "户主甲" not in page and "13700000000" not in page  # residents' names and phones stay out
    rows = page.split("<table>")[-1].split("<tr>")[2:]
    vuln = [sum(int(c.split("</td>")[0]) for c in r.split("<td>")[3:6]) for r in rows]
    assert vuln == sorted(vuln, reverse=True) and vuln[0] >= 2


def test_missing_products_and_bad_paper(tmp_path):
    case = make_case()
    make_results(tmp_path / "res", case, skip=("inundation", "exposure", "plan", "typhoon"))
    res = load_results(tmp_path / "res")
    rep = write_briefings(case, res, tmp_path / "out", dpi=60)
    assert len(rep.files) == 4 and "缺少产品（未绘制）：" + "、".join(res.missing) in rep.texts["situation"]
    with pytest.raises(InputError, match="unknown paper"):
        write_briefings(case, res, tmp_path / "out2", paper="B5")
