"""Printable briefings for the "1833" joint command: 形势图, 指挥要素图 and 一页纸 per village.

* :func:`situation_map` (防汛防台形势图): hillshade, maximum depth, sections by warning status,
  villages by affected persons.
* :func:`command_map` (指挥要素图): hazard class 红橙黄蓝, shelters with capacity and occupancy,
  transfer routes, roads, risk points (affected villages, farm-stays and scenic spots).

Both are PNG (300 dpi) and PDF, A4 or A3 landscape, with a Chinese title and the issue time, a
legend, a scale bar, a north arrow, the CRS and a note on the data sources. Text is drawn with the
bundled CJK font (:mod:`gis.fonts`).

* :func:`village_sheet` (一页纸): per village, PDF and HTML: thresholds (准备转移 / 立即转移),
  current forecast status, people to move with vulnerable households first, the assigned shelters
  and routes on a small map, and the 包保责任人 with phone. Residents are listed by household id
  and counts only; names and phones stay in the officials' lists.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gis.atomic import atomic_path, write_text
from gis.mapdata import (
    HAZARD_COLOURS,
    HAZARD_LABELS,
    WARNING_COLOURS,
    Results,
    check_wgs84,
    hazard_class,
    hillshade,
    pick,
    section_statuses,
)

PAPER_IN = {"A4": (11.69, 8.27), "A3": (16.54, 11.69)}  # landscape, inches
DPI = 300


@dataclass
class BriefingReport:
    """What :func:`write_briefings` wrote, and what the figures show (for tests and logs)."""

    files: list[Path] = field(default_factory=list)
    legends: dict[str, list[str]] = field(default_factory=dict)
    scale_bars: dict[str, tuple[float, str]] = field(default_factory=dict)  # metres, label
    texts: dict[str, list[str]] = field(default_factory=dict)  # every string drawn, per figure
    missing: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- helpers
def _plt():
    """Figures without pyplot (the caller's backend is left alone; see gis.fonts.NoPyplot)."""
    from gis.fonts import NoPyplot, use_cjk_font

    use_cjk_font()
    return NoPyplot


def _coarse(da, max_px: int, how: str = "mean"):
    f = max(1, math.ceil(max(da.sizes["y"], da.sizes["x"]) / max_px))
    if f == 1:
        return da
    c = da.coarsen(y=f, x=f, boundary="trim")
    return c.max() if how == "max" else c.mean()


def _extent(da) -> tuple[float, float, float, float]:
    x, y = da["x"].values, da["y"].values
    dx = abs(x[1] - x[0]) if len(x) > 1 else 1.0
    dy = abs(y[1] - y[0]) if len(y) > 1 else 1.0
    return (x.min() - dx / 2, x.max() + dx / 2, y.min() - dy / 2, y.max() + dy / 2)


def nice_scale_length(width_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k m) close to a fifth of ``width_m``."""
    target = max(width_m / 5.0, 1e-9)
    k = 10 ** math.floor(math.log10(target))
    return min((m * k for m in (1, 2, 5, 10)), key=lambda v: abs(v - target))


def draw_scale_bar(ax, length_m: float | None = None) -> tuple[float, str]:
    """Draw an alternating black/white scale bar at the lower right; return (metres, label)."""
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length_m = length_m or nice_scale_length(x1 - x0)
    h = (y1 - y0) * 0.012
    left, bottom = x1 - (x1 - x0) * 0.04 - length_m, y0 + (y1 - y0) * 0.05
    for k in range(4):
        ax.add_patch(Rectangle((left + k * length_m / 4, bottom), length_m / 4, h, facecolor="k" if k % 2 == 0
                               else "w", edgecolor="k", lw=0.6, zorder=20))
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(left, bottom + 1.8 * h, "0", ha="center", va="bottom", fontsize=7, zorder=20)
    ax.text(left + length_m, bottom + 1.8 * h, label, ha="center", va="bottom", fontsize=7, zorder=20)
    ax.text(left + length_m / 2, bottom - 0.8 * h, "比例尺", ha="center", va="top", fontsize=7, zorder=20)
    return length_m, label


def draw_north_arrow(ax) -> None:
    """A north arrow at the upper right (grid north of the projected CRS)."""
    ax.annotate("N", xy=(0.955, 0.95), xytext=(0.955, 0.86), xycoords="axes fraction", ha="center",
                va="center", fontsize=12, fontweight="bold", zorder=20,
                arrowprops={"facecolor": "k", "width": 4, "headwidth": 11, "headlength": 10})


def plot_lines(ax, gdf, **kw) -> None:
    """Draw the line geometries of ``gdf`` as one LineCollection.

    ``GeoDataFrame.plot`` redraws the whole figure on every call (draw_idle), which made the
    one-page plans several times slower; a LineCollection draws once, with the figure.
    """
    from matplotlib.collections import LineCollection

    segs = []
    for g in gdf.geometry:
        if g is None or g.is_empty:
            continue
        for part in getattr(g, "geoms", [g]):
            segs.append(np.asarray(part.coords)[:, :2])
    if segs:
        ax.add_collection(LineCollection(segs, colors=kw.pop("color", "k"), linewidths=kw.pop("lw", 1.0), **kw))


_BASE_CACHE: dict = {}


def _base_rgba(case, max_px: int, overlay):
    """The composited hillshade (+ overlay) image and its extent, computed once per inputs."""
    key = (id(case.dem), max_px, None if overlay is None else (id(overlay[0]), overlay[1]))
    hit = _BASE_CACHE.get(key)
    if hit is not None and hit[0] is case.dem and (overlay is None or hit[1] is overlay[0]):
        return hit[2], hit[3]
    dem = _coarse(case.dem, max_px)
    res = abs(float(dem["x"][1] - dem["x"][0])) if dem.sizes["x"] > 1 else 1.0
    shade = hillshade(dem.values, res, res)
    ext = _extent(dem)
    grey = 1.0 - 0.55 * (1.0 - np.nan_to_num(shade, nan=1.0))
    rgba = np.dstack([grey, grey, grey, np.ones_like(grey)])
    if overlay is not None:
        da, to_rgba = overlay
        da = da.interp(y=dem["y"], x=dem["x"], method="nearest") if da.shape != dem.shape else da
        top = to_rgba(np.asarray(da.values))
        a = top[..., 3:4]
        rgba[..., :3] = rgba[..., :3] * (1 - a) + top[..., :3] * a
    rgba[..., 3] = np.where(np.isfinite(shade), 1.0, 0.0)
    _BASE_CACHE.clear()  # keep one entry: the pages of one briefing share it
    _BASE_CACHE[key] = (case.dem, None if overlay is None else overlay[0], rgba, ext)
    return rgba, ext


def _base(ax, case, max_px: int = 1400, overlay=None):
    """Hillshade with an optional ``(DataArray, rgba_function)`` overlay, drawn as ONE image.

    One pre-composited RGBA image keeps a 300 dpi A3 page fast to render.
    """
    rgba, ext = _base_rgba(case, max_px, overlay)
    ax.imshow(rgba, extent=ext, interpolation="nearest", zorder=1)
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6)
    ax.ticklabel_format(style="plain", useOffset=False)
    rivers = getattr(case, "rivers", None)
    if rivers is not None and len(rivers):
        plot_lines(ax, rivers, color="#3b7dd8", lw=0.8, zorder=3)
    return ext


_LAYER_CACHE: dict = {}


def _inundation_layer(results: Results, name: str, max_px: int = 1400):
    inu = results.inundation
    if inu is None or name not in inu:
        return None
    key = (id(inu), name, max_px)
    hit = _LAYER_CACHE.get(key)
    if hit is None or hit[0] is not inu:  # the same layer for every page of one briefing
        _LAYER_CACHE.clear()
        hit = _LAYER_CACHE[key] = (inu, _coarse(inu[name], max_px, "max"))
    return hit[1]


def _depth_rgba(values: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    out = colormaps["Blues"](np.clip(np.nan_to_num(values) / 3.0, 0, 1))
    out[..., 3] = np.where(np.nan_to_num(values) >= 0.05, 0.85, 0.0)
    return out


def _finish(fig, ax, case, results, kind: str, title: str, handles, report: BriefingReport, sources: str):
    from pyproj import CRS

    issue = results.when_text("%Y年%m月%d日 %H:%M")
    fig.suptitle(f"{case.title}  {title}", fontsize=16, fontweight="bold", y=0.975)
    fig.text(0.5, 0.925, issue, ha="center", fontsize=10)
    leg = ax.legend(handles=handles, loc="lower left", title="图例", fontsize=7, title_fontsize=8,
                    framealpha=0.9).set_zorder(30)
    del leg
    length, label = draw_scale_bar(ax)
    draw_north_arrow(ax)
    crs = CRS.from_user_input(case.crs)
    crs_text = f"坐标系：{crs.name}" + (f"（EPSG:{crs.to_epsg()}）" if crs.to_epsg() else "")
    ax.set_xlabel("X 东坐标 (m)", fontsize=7)
    ax.set_ylabel("Y 北坐标 (m)", fontsize=7)
    fig.text(0.01, 0.036, crs_text, fontsize=7, ha="left")
    note = "数据来源：" + sources + ("；注意：示例数据为合成数据" if getattr(case, "synthetic", False) else "")
    fig.text(0.01, 0.020, note, fontsize=7, ha="left")
    if results.missing:
        fig.text(0.01, 0.004, "缺少产品（未绘制）：" + "、".join(results.missing), fontsize=7, ha="left",
                 color="#b00000")
    report.legends[kind] = [h.get_label() for h in handles]
    report.scale_bars[kind] = (length, label)
    report.texts[kind] = _drawn_strings(fig)


def _drawn_strings(fig) -> list[str]:
    """Every string a figure draws (titles, labels, legend, table cells)."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def _save(fig, out_dir: Path, stem: str, report: BriefingReport, dpi: int) -> None:
    for ext in ("png", "pdf"):
        target = out_dir / f"{stem}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, metadata=_file_metadata(ext))
        report.files.append(target)


def _file_metadata(ext: str) -> dict:
    """PDF/PNG metadata naming the run that made the figure (when written inside a floodkit run)."""
    from gis.atomic import current_run_id

    rid = current_run_id()
    if not rid:
        return {}
    return {"Subject": f"floodkit run {rid}"} if ext == "pdf" else {"floodkit_run_id": rid}


# ----------------------------------------------------------------------------- the two maps
def situation_map(case, results: Results, out_dir: Path, report: BriefingReport, paper: str = "A4",
                  dpi: int = DPI) -> None:
    """防汛防台形势图: depth, sections by warning status, villages by affected persons."""
    from matplotlib.patches import Patch

    plt = _plt()
    fig, ax = plt.subplots(figsize=PAPER_IN[paper])
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.09)
    try:
        depth = _inundation_layer(results, "max_depth_m")
        _base(ax, case, overlay=None if depth is None else (depth, _depth_rgba))
        handles = [Patch(facecolor="#bbbbbb", label="地形晕渲")]
        if depth is not None:
            from matplotlib.cm import ScalarMappable
            from matplotlib.colors import Normalize

            cb = fig.colorbar(ScalarMappable(Normalize(0, 3), "Blues"), ax=ax, shrink=0.5, pad=0.01)
            cb.set_label("最大水深 (m)", fontsize=8)
            handles.append(Patch(facecolor="#4a98e0", label="淹没范围（最大水深 ≥ 0.05 m）"))
        _sections(ax, case, results, handles)
        _villages(ax, case, results, handles)
        _finish(fig, ax, case, results, "situation", "防汛防台形势图", handles, report,
                "DEM 与村落、断面：案例数据；水位预报、淹没、受影响人员：floodkit 计算结果")
        _save(fig, out_dir, "形势图", report, dpi)
    finally:
        plt.close(fig)


def command_map(case, results: Results, out_dir: Path, report: BriefingReport, paper: str = "A4",
                dpi: int = DPI) -> None:
    """指挥要素图: hazard class, shelters, routes, roads, risk points."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = _plt()
    fig, ax = plt.subplots(figsize=PAPER_IN[paper])
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.09)
    try:
        handles = []
        depth = _inundation_layer(results, "max_depth_m")
        if depth is None:
            _base(ax, case)
        else:
            speed = _inundation_layer(results, "max_speed_m_per_s")
            cls = hazard_class(depth.values, None if speed is None else speed.values).astype(float)
            cls[cls < 0] = np.nan
            cmap = ListedColormap(HAZARD_COLOURS)

            def hazard_rgba(v):
                out = cmap(np.nan_to_num(v, nan=0).astype(int))
                out[..., 3] = np.where(np.isfinite(v), 0.8, 0.0)
                return out

            _base(ax, case, overlay=(depth.copy(data=cls), hazard_rgba))
            handles += [Patch(facecolor=c, label=f"危险等级 {lab}")
                        for c, lab in zip(reversed(HAZARD_COLOURS), reversed(HAZARD_LABELS))]
        roads = getattr(case, "roads", None)
        if roads is not None and len(roads):
            plot_lines(ax, roads, color="#8c6d46", lw=0.6, zorder=3)
            handles.append(Line2D([], [], color="#8c6d46", lw=1, label="道路"))
        if results.routes is not None and len(results.routes):
            plot_lines(ax, results.routes.to_crs(case.crs), color="#1b7f2a", lw=1.8, zorder=5)
            handles.append(Line2D([], [], color="#1b7f2a", lw=2, label="转移路线"))
        shel = results.shelters if results.shelters is not None else getattr(case, "shelters", None)
        if shel is not None and len(shel):
            s = shel.to_crs(case.crs)
            ax.scatter(s.geometry.x, s.geometry.y, marker="^", s=70, c="#1b7f2a", edgecolors="w", zorder=8)
            ocol = pick(s, "occupancy", "assigned_persons", "assigned", "persons", "occupied")
            for _, r in s.iterrows():
                cap = r.get("capacity", np.nan)
                txt = f"{r.get('name', r.get('id', ''))}\n容量{cap:.0f}"
                if ocol and np.isfinite(r[ocol]):
                    txt += f" 安置{r[ocol]:.0f}"
                ax.annotate(txt, (r.geometry.x, r.geometry.y), xytext=(4, 4), textcoords="offset points",
                            fontsize=6, color="#0d4d17", zorder=9)
            handles.append(Line2D([], [], marker="^", ls="", color="#1b7f2a", markersize=8,
                                  label="避灾安置场所（容量/安置人数）"))
        visitors = getattr(case, "visitor_sites", None)
        if visitors is not None and len(visitors):
            v = visitors.to_crs(case.crs)
            ax.scatter(v.geometry.x, v.geometry.y, marker="D", s=18, c="#8e24aa", zorder=7)
            handles.append(Line2D([], [], marker="D", ls="", color="#8e24aa", markersize=5,
                                  label="风险点：农家乐/景区"))
        _villages(ax, case, results, handles, risk=True)
        _finish(fig, ax, case, results, "command", "指挥要素图", handles, report,
                "安置场所、道路：案例数据；危险等级：Defra FD2320 危险度（水深×(流速+0.5)+杂物系数）；"
                "转移路线与安置：floodkit 转移方案")
        _save(fig, out_dir, "指挥要素图", report, dpi)
    finally:
        plt.close(fig)


def _section_statuses(case, results: Results) -> dict[str, tuple[str, float]]:
    return section_statuses(case, results)


def _sections(ax, case, results, handles):
    from matplotlib.lines import Line2D

    sections = getattr(case, "sections", None)
    if sections is None or not len(sections):
        return
    st = _section_statuses(case, results)
    s = sections.to_crs(case.crs)
    for _, r in s.iterrows():
        status, peak = st.get(str(r["id"]), ("无预报", np.nan))
        ax.scatter([r.geometry.x], [r.geometry.y], s=120, marker="s", c=WARNING_COLOURS[status],
                   edgecolors="k", zorder=10)
        label = f"{r.get('name', r['id'])} {status}" + (f" {peak:.2f}m" if np.isfinite(peak) else "")
        ax.annotate(label, (r.geometry.x, r.geometry.y), xytext=(6, -10), textcoords="offset points",
                    fontsize=7, fontweight="bold", zorder=11)
    handles += [Line2D([], [], marker="s", ls="", markerfacecolor=c, markeredgecolor="k", markersize=8,
                       label=f"预报断面：{k}") for k, c in WARNING_COLOURS.items()]


def _village_counts(results: Results) -> dict[str, float]:
    ex = results.villages
    vcol = pick(ex, "village", "village_id", "id", "村编号")
    pcol = pick(ex, "affected_persons", "persons_affected", "affected_people", "persons", "people", "受影响人数")
    if ex is None or vcol is None or pcol is None:
        return {}
    return {str(k): float(v) for k, v in zip(ex[vcol], ex[pcol])}


def _villages(ax, case, results, handles, risk: bool = False):
    from matplotlib.lines import Line2D

    villages = getattr(case, "villages", None)
    if villages is None or not len(villages):
        return
    counts = _village_counts(results)
    v = villages.to_crs(case.crs)
    for _, r in v.iterrows():
        n = counts.get(str(r["id"]), np.nan)
        hit = np.isfinite(n) and n > 0
        ax.scatter([r.geometry.x], [r.geometry.y], s=40 if hit else 18, c="#d7301f" if hit else "#777777",
                   edgecolors="w", linewidths=0.5, zorder=8)
        label = str(r.get("name", r["id"])) + (f" {n:.0f}人" if hit else "")
        ax.annotate(label, (r.geometry.x, r.geometry.y), xytext=(4, 2), textcoords="offset points",
                    fontsize=6, zorder=9, color="#7a0000" if hit else "#333333")
    handles.append(Line2D([], [], marker="o", ls="", color="#d7301f", markersize=6,
                          label="风险点：受影响村落（人数）" if risk else "受影响村落（人数）"))
    handles.append(Line2D([], [], marker="o", ls="", color="#777777", markersize=4, label="其他村落"))


# ----------------------------------------------------------------------------- 一页纸
def _village_plan(results: Results, vid: str, vname: str) -> pd.DataFrame:
    plan = results.plan
    vcol = pick(plan, "village", "village_id")
    if plan is None or vcol is None:
        return pd.DataFrame()
    rows = plan[plan[vcol].astype(str).isin([vid, vname])].copy()
    vuln = [c for c in ("elderly", "children", "disabled") if c in rows.columns]
    rows["_vulnerable"] = rows[vuln].sum(axis=1) if vuln else 0
    keys = ["_vulnerable"] + ([pick(rows, "persons")] if pick(rows, "persons") else [])
    return rows.sort_values(keys, ascending=False)


def _thresholds(results: Results, vid: str, vname: str) -> pd.DataFrame:
    th = results.thresholds
    vcol = pick(th, "village", "village_id", "id")
    if th is None or vcol is None:
        return pd.DataFrame()
    rows = th[th[vcol].astype(str).isin([vid, vname])].drop(columns=[vcol])
    rows = rows.drop(columns=[c for c in ("name", "control_section") if c in rows.columns])
    need = {"duration_h", "stage", "critical_rain_mm"}
    if need <= set(rows.columns) and len(rows):
        # the forecast's long table (duration x soil state x stage) -> one row per warning stage
        state = (results.forecast.attrs.get("antecedent_state", "normal") if results.forecast is not None
                 else "normal")
        if "condition" in rows.columns:
            pick_state = state if (rows["condition"] == state).any() else rows["condition"].iloc[0]
            rows = rows[rows["condition"] == pick_state]
        wide = rows.pivot_table(index="stage", columns="duration_h", values="critical_rain_mm", aggfunc="first")
        wide.columns = [f"{float(c):g}h 临界雨量(mm)" for c in wide.columns]
        if "level_m" in rows.columns:
            wide.insert(0, "水位(m)", rows.groupby("stage")["level_m"].first().round(2))
        wide = wide.reindex([x for x in ("准备转移", "立即转移") if x in wide.index] +
                            [x for x in wide.index if x not in ("准备转移", "立即转移")])
        wide.insert(0, "预警", wide.index)
        return wide.reset_index(drop=True)
    return rows


def _sheet_facts(case, results, row, statuses) -> dict:
    vid, name = str(row["id"]), str(row.get("name", row["id"]))
    sec = str(row.get("control_section", ""))
    status, peak = statuses.get(sec, ("无预报", np.nan))
    secrow = None
    if getattr(case, "sections", None) is not None and sec:
        m = case.sections[case.sections["id"].astype(str) == sec]
        secrow = m.iloc[0] if len(m) else None
    plan = _village_plan(results, vid, name)
    hid = pick(plan, "household", "household_id", "id")
    scol = pick(plan, "shelter", "shelter_id")
    return {
        "id": vid, "name": name, "town": str(row.get("town", "")),
        "responsible": str(row.get("responsible", "—")), "phone": str(row.get("phone", "—")),
        "section": str(secrow.get("name", sec)) if secrow is not None else (sec or "—"),
        "warning_m": float(secrow.get("warning_level_m", np.nan)) if secrow is not None else np.nan,
        "danger_m": float(secrow.get("danger_level_m", np.nan)) if secrow is not None else np.nan,
        "flood_level_m": float(row.get("flood_level_m", np.nan)) if "flood_level_m" in row else np.nan,
        "status": status, "peak_m": peak, "affected": _village_counts(results).get(vid, np.nan),
        "thresholds": _thresholds(results, vid, name), "plan": plan, "hid": hid, "shelter_col": scol,
        "shelters": sorted({str(s) for s in plan[scol]}) if scol and len(plan) else [],
    }


def _plan_table(facts: dict, limit: int) -> tuple[list[str], list[list[str]]]:
    plan = facts["plan"]
    cols = [c for c in (facts["hid"], "persons", "elderly", "children", "disabled", facts["shelter_col"])
            if c and c in plan.columns]
    heads = {"persons": "人数", "elderly": "老人", "children": "儿童", "disabled": "残障",
             facts["hid"]: "户号", facts["shelter_col"]: "安置点"}
    rows = [[str(v) for v in r] for r in plan[cols].head(limit).itertuples(index=False)]
    return [heads.get(c, c) for c in cols], rows


def _status_lines(facts: dict, when: str) -> list[str]:
    def m(v):
        return f"{v:.2f} m" if np.isfinite(v) else "—"

    lines = [f"控制断面：{facts['section']}（警戒水位 {m(facts['warning_m'])}，危急水位 {m(facts['danger_m'])}）",
             f"当前预报：{facts['status']}，预报峰值水位 {m(facts['peak_m'])}（{when}）"]
    if np.isfinite(facts["affected"]):
        lines.append(f"预计受影响：{facts['affected']:.0f} 人")
    p = facts["plan"]
    if len(p):
        n_p = int(p["persons"].sum()) if "persons" in p else len(p)
        vul = int(p["_vulnerable"].sum())
        lines.append(f"需转移：{len(p)} 户 {n_p} 人，其中老幼残等重点人员 {vul} 人（优先转移）")
        lines.append("安置点：" + "、".join(facts["shelters"]))
    else:
        lines.append("需转移：无转移方案产品或本村无需转移")
    return lines


def _small_map(ax, case, results, facts, row):
    v = row.geometry
    pts = [v]
    shel = results.shelters if results.shelters is not None else getattr(case, "shelters", None)
    s_sel = None
    if shel is not None and len(shel):
        s = shel.to_crs(case.crs)
        key = "id" if "id" in s.columns else None
        s_sel = s[s[key].astype(str).isin(facts["shelters"])] if key else s.iloc[0:0]
        pts += list(s_sel.geometry)
    r_sel = None
    if results.routes is not None and len(results.routes):
        r = results.routes.to_crs(case.crs)
        vc = pick(r, "village", "village_id")
        r_sel = r[r[vc].astype(str).isin([facts["id"], facts["name"]])] if vc else r.iloc[0:0]
        for g in r_sel.geometry:
            pts += [g.centroid]
            x0_, y0_, x1_, y1_ = g.bounds
            from shapely.geometry import Point

            pts += [Point(x0_, y0_), Point(x1_, y1_)]
    xs, ys = [p.x for p in pts], [p.y for p in pts]
    pad = max(max(xs) - min(xs), max(ys) - min(ys), 600) * 0.25
    depth = _inundation_layer(results, "max_depth_m", 700)
    _base(ax, case, max_px=700, overlay=None if depth is None else (depth, _depth_rgba))
    if r_sel is not None and len(r_sel):
        plot_lines(ax, r_sel, color="#1b7f2a", lw=2, zorder=5)
    if s_sel is not None and len(s_sel):
        ax.scatter(s_sel.geometry.x, s_sel.geometry.y, marker="^", s=80, c="#1b7f2a", edgecolors="w", zorder=8)
        for _, r in s_sel.iterrows():
            ax.annotate(str(r.get("name", r["id"])), (r.geometry.x, r.geometry.y), xytext=(4, 4),
                        textcoords="offset points", fontsize=7, zorder=9)
    ax.scatter([v.x], [v.y], s=60, c="#d7301f", edgecolors="w", zorder=9)
    ax.annotate(facts["name"], (v.x, v.y), xytext=(4, -10), textcoords="offset points", fontsize=8,
                fontweight="bold", zorder=9)
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    draw_scale_bar(ax)
    draw_north_arrow(ax)


def village_sheet(case, results: Results, row, statuses, out_dir: Path, report: BriefingReport,
                  limit: int = 22) -> None:
    """Write 一页纸_<村>.pdf and .html for one village (a row of ``case.villages``)."""
    plt = _plt()
    facts = _sheet_facts(case, results, row, statuses)
    title = f"{facts['name']} 山洪灾害防御“一页纸”"
    lines = _status_lines(facts, results.when_text("%Y年%m月%d日 %H:%M"))
    heads, rows = _plan_table(facts, limit)
    th = facts["thresholds"]
    stem = f"一页纸_{facts['id']}_{facts['name']}"

    # -- the small map, shared by the PDF and the HTML
    fig_m, ax_m = plt.subplots(figsize=(4.2, 3.4))
    try:
        _small_map(ax_m, case, results, facts, row)
        fig_m.tight_layout()
        buf = io.BytesIO()
        fig_m.savefig(buf, format="png", dpi=110)
    finally:
        plt.close(fig_m)
    map_uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

    # -- PDF (A4 portrait)
    fig = plt.figure(figsize=(8.27, 11.69))
    try:
        fig.text(0.5, 0.965, title, ha="center", fontsize=17, fontweight="bold")
        fig.text(0.5, 0.945, f"{facts['town']}  {results.when_text('%Y年%m月%d日 %H:%M')}", ha="center", fontsize=9)
        fig.text(0.06, 0.915, f"包保责任人：{facts['responsible']}    电话：{facts['phone']}", fontsize=11,
                 fontweight="bold", color="#b00000")
        y = 0.89
        for line in lines:
            fig.text(0.06, y, line, fontsize=9)
            y -= 0.02
        fig.text(0.06, y - 0.005, "预警指标（准备转移 / 立即转移）", fontsize=10, fontweight="bold")
        y -= 0.025
        if len(th):
            ax_t = fig.add_axes([0.06, y - 0.02 * (len(th) + 1), 0.88, 0.02 * (len(th) + 1)])
            ax_t.axis("off")
            t = ax_t.table(cellText=[[str(v) for v in r] for r in th.itertuples(index=False)],
                           colLabels=[str(c) for c in th.columns], loc="center", cellLoc="center")
            t.auto_set_font_size(False)
            t.set_fontsize(7)
            y -= 0.02 * (len(th) + 1) + 0.01
        else:
            fig.text(0.06, y, "无临界雨量产品（forecast/thresholds.csv）", fontsize=8, color="#777")
            y -= 0.02
        ax_map = fig.add_axes([0.06, y - 0.36, 0.88, 0.35])
        _small_map(ax_map, case, results, facts, row)
        ax_map.set_title("安置点与转移路线", fontsize=9)
        y -= 0.39
        fig.text(0.06, y, "转移人员（重点人员优先；姓名电话见干部名单）", fontsize=10, fontweight="bold")
        fit = max(int((y - 0.06) / 0.016) - 1, 1)
        if len(rows) > fit:
            rows, limit = rows[:fit], fit
        if rows:
            h = 0.016 * (len(rows) + 1)
            ax_p = fig.add_axes([0.06, y - 0.01 - h, 0.88, h])
            ax_p.axis("off")
            t = ax_p.table(cellText=rows, colLabels=heads, loc="upper center", cellLoc="center")
            t.auto_set_font_size(False)
            t.set_fontsize(7)
            if len(facts["plan"]) > limit:
                fig.text(0.06, 0.025, f"……另有 {len(facts['plan']) - limit} 户，见转移名单 plan.xlsx", fontsize=8)
        else:
            fig.text(0.06, y - 0.02, "无", fontsize=9)
        with atomic_path(out_dir / f"{stem}.pdf") as tmp:
            fig.savefig(tmp, format="pdf", metadata=_file_metadata("pdf"))
        report.files.append(out_dir / f"{stem}.pdf")
        report.texts[stem] = _drawn_strings(fig)
    finally:
        plt.close(fig)

    # -- HTML (self-contained)
    def table(heads_, rows_):
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in heads_)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows_)
        return f"<table><tr>{head}</tr>{body}</table>"

    th_html = (table(list(th.columns), [list(r) for r in th.itertuples(index=False)]) if len(th)
               else "<p>无临界雨量产品</p>")
    more = (f"<p>……另有 {len(facts['plan']) - limit} 户，见转移名单 plan.xlsx</p>"
            if len(facts["plan"]) > limit else "")
    page = f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:'Noto Sans SC','Microsoft YaHei',sans-serif;max-width:820px;margin:auto;padding:12px}}
h1{{font-size:22px;text-align:center;margin:4px}}.resp{{color:#b00000;font-weight:bold;font-size:17px}}
table{{border-collapse:collapse;margin:6px 0}}td,th{{border:1px solid #888;padding:2px 8px;font-size:13px}}
.status{{font-size:15px;padding:4px 8px;border-left:6px solid {WARNING_COLOURS.get(facts['status'], '#777')}}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>{html.escape(title)}</h1><p style="text-align:center">{html.escape(facts['town'])}　{results.when_text('%Y年%m月%d日 %H:%M')}</p>
<p class="resp">包保责任人：{html.escape(facts['responsible'])}　电话：{html.escape(facts['phone'])}</p>
<div class="status">{'<br>'.join(html.escape(x) for x in lines)}</div>
<h2>预警指标（准备转移 / 立即转移）</h2>{th_html}
<h2>安置点与转移路线</h2><img src="{map_uri}" alt="安置点与转移路线" style="max-width:100%">
<h2>转移人员（重点人员优先；姓名电话见干部名单）</h2>{table(heads, rows) if rows else '<p>无</p>'}{more}
</body></html>"""
    write_text(out_dir / f"{stem}.html", page)
    report.files.append(out_dir / f"{stem}.html")


# ----------------------------------------------------------------------------- all together
def write_briefings(case, results: Results, out_dir: str | Path, *, paper: str = "A4", dpi: int = DPI,
                    villages: str = "affected") -> BriefingReport:
    """Write 形势图 and 指挥要素图 (PNG + PDF) and the 一页纸 sheets into ``out_dir``.

    Parameters
    ----------
    paper : {"A4", "A3"}
        Landscape paper size of the two maps.
    villages : {"affected", "all"}
        One-page plans for the villages with people to move or affected (default), or for all.
    """
    if paper not in PAPER_IN:
        from gis.errors import InputError

        raise InputError("--paper", f"unknown paper '{paper}'", "use A4 or A3")
    check_wgs84(case.crs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = BriefingReport(missing=list(results.missing))
    situation_map(case, results, out, report, paper, dpi)
    command_map(case, results, out, report, paper, dpi)
    vill = getattr(case, "villages", None)
    if vill is not None and len(vill):
        statuses = _section_statuses(case, results)
        counts = _village_counts(results)
        pv = pick(results.plan, "village", "village_id")
        planned = set(results.plan[pv].astype(str)) if pv else set()
        sheets = out / "一页纸"
        sheets.mkdir(exist_ok=True)
        for _, row in vill.to_crs(case.crs).iterrows():
            vid = str(row["id"])
            if villages == "all" or vid in planned or counts.get(vid, 0) > 0:
                village_sheet(case, results, row, statuses, sheets, report)
    return report
