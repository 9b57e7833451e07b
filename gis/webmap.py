"""Offline web map: one self-contained HTML file with the forecast, inundation, exposure and plan.

Towns must work alone when communications fail (乡自为战), so the map needs no internet by default:
Leaflet's JavaScript and CSS come from the installed ``xstatic-leaflet`` package and are inlined,
the basemap is a hillshade made from the case DEM, and every raster is a PNG data URI. Online
tiles (OpenStreetMap or 天地图) are added only when asked for.

Layers: hillshade; max depth, hazard class 红橙黄蓝 and arrival time (with legends); depth snapshots
on a time slider; sections coloured by warning status with a popup hydrograph; villages with
affected counts; affected household points (counts only); shelters with capacity and occupancy;
transfer routes; the typhoon track and wind circles when present; a layer control and a title
with the issue time. Residents' names and phone numbers never reach the map.

Rasters are reprojected to Web Mercator (what Leaflet draws) and downsampled to at most
``max_px`` pixels a side, which keeps the file small for the full-scale 5 m case.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gis.atomic import current_run_id, write_text
from gis.errors import FloodkitError
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

ONLINE_TILES = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors"),
    # 天地图 needs a key (tk); the office passes it as --online-tiles tianditu:KEY.
    "tianditu": ("https://t0.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=%s", "© 天地图"),
}
DEPTH_MAX_M = 3.0
_CDN = re.compile(r"<(script|link)\b[^>]*(src|href)\s*=\s*[\"']?\s*(https?:)?//", re.I)

# Names of the layers, also used by the browser test.
LAYER_HILLSHADE = "地形晕渲"
LAYER_MAX_DEPTH = "最大水深"
LAYER_HAZARD = "危险等级（红橙黄蓝）"
LAYER_ARRIVAL = "洪水到达时间"
LAYER_SNAPSHOTS = "水深过程（时间滑块）"
LAYER_SECTIONS = "预报断面（预警状态）"
LAYER_VILLAGES = "村落（受影响人数）"
LAYER_HOUSEHOLDS = "受影响住户（点）"
LAYER_SHELTERS = "避灾安置场所"
LAYER_ROUTES = "转移路线"
LAYER_TYPHOON = "台风路径与风圈"


@dataclass
class WebMapReport:
    """What :func:`build_webmap` wrote."""

    path: Path | None
    layers: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    size_bytes: int = 0
    map: object = None  # the folium.Map (shown inline in Jupyter)
    html: str = ""  # the self-contained page


# ----------------------------------------------------------------------------- assets
def leaflet_assets() -> tuple[str, str]:
    """Leaflet 1.9.3 JavaScript and CSS from the installed ``xstatic-leaflet`` package.

    The CSS's images (layer-control icon, markers) are inlined as data URIs so nothing is fetched.
    """
    try:
        from xstatic.pkg import leaflet as xleaflet
    except ImportError as exc:  # pragma: no cover - broken install
        raise FloodkitError("webmap: package 'xstatic-leaflet' is missing; run `pip install -e .`") from exc
    base = Path(xleaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match) -> str:
        img = base / match.group(1)
        data = base64.b64encode(img.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    # Drop the source-map comment: a browser with devtools open would try to fetch it.
    js = re.sub(r"//# sourceMappingURL=\S+", "", js)
    return js, css


def cdn_references(page: str) -> list[str]:
    """`<script>`/`<link>` tags in ``page`` that load anything over the network."""
    return [m.group(0) for m in _CDN.finditer(page)]


# ----------------------------------------------------------------------------- rasters
def _png_data_uri(rgba: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _coarsen(da, max_px: int, how: str):
    factor = max(1, math.ceil(max(da.sizes["y"], da.sizes["x"]) / max_px))
    if factor == 1:
        return da, 1
    c = da.coarsen(y=factor, x=factor, boundary="trim")
    out = c.max() if how == "max" else c.mean()
    return out.rio.write_crs(da.rio.crs).rio.write_transform(out.rio.transform(recalc=True)), factor


def _to_mercator(da, crs, resampling: str = "nearest"):
    """Reproject a 2-D DataArray to EPSG:3857; return (array, [[south, west], [north, east]])."""
    from pyproj import Transformer
    from rasterio.enums import Resampling

    da = da.astype("float32")
    if da.rio.crs is None:
        da = da.rio.write_crs(crs)
    da = da.rio.write_nodata(np.nan, encoded=False)
    merc = da.rio.reproject("EPSG:3857", resampling=getattr(Resampling, resampling), nodata=np.nan)
    w, s, e, n = merc.rio.bounds()
    t = Transformer.from_crs(3857, 4326, always_xy=True)
    lon0, lat0 = t.transform(w, s)
    lon1, lat1 = t.transform(e, n)
    return merc.values, [[lat0, lon0], [lat1, lon1]]


def _colourise(values: np.ndarray, cmap, vmin: float, vmax: float, alpha: float = 1.0) -> np.ndarray:
    ok = np.isfinite(values)
    norm = np.clip((np.where(ok, values, vmin) - vmin) / max(vmax - vmin, 1e-9), 0, 1)
    rgba = (cmap(norm) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(ok, int(alpha * 255), 0)
    return rgba


def _depth_cmap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("depth", ["#c6e4ff", "#4a98e0", "#0b3d91", "#1a0a5e"])


def _hazard_rgba(cls: np.ndarray) -> np.ndarray:
    from matplotlib.colors import to_rgba

    rgba = np.zeros(cls.shape + (4,), np.uint8)
    for k, colour in enumerate(HAZARD_COLOURS):
        rgba[cls == k] = [int(255 * c) for c in to_rgba(colour)]
    return rgba


def _gradient_css(cmap, n: int = 8) -> str:
    from matplotlib.colors import to_hex

    stops = ", ".join(to_hex(cmap(i / (n - 1))) for i in range(n))
    return f"linear-gradient(to right, {stops})"


# ----------------------------------------------------------------------------- hydrograph popup
def hydrograph_png(times, stage_m, warning_m: float, danger_m: float, rain_mm_per_h=None,
                   title: str = "", dpi: int = 80) -> str:
    """A small stage hydrograph (warning and danger levels, rain bars on top) as a PNG data URI."""
    from gis.fonts import NoPyplot as plt  # no backend switch in the caller's process
    from gis.fonts import use_cjk_font

    use_cjk_font()
    fig, ax = plt.subplots(figsize=(4.2, 2.6), dpi=dpi)
    try:
        x = np.arange(len(stage_m)) if times is None else times
        ax.plot(x, stage_m, color="#0b3d91", lw=1.6, label="预报水位")
        if np.isfinite(warning_m):
            ax.axhline(warning_m, color=WARNING_COLOURS["警戒"], ls="--", lw=1, label=f"警戒 {warning_m:.2f} m")
        if np.isfinite(danger_m):
            ax.axhline(danger_m, color=WARNING_COLOURS["危急"], ls="--", lw=1, label=f"危急 {danger_m:.2f} m")
        ax.set_ylabel("水位 (m)")
        ax.legend(loc="lower right", fontsize=6)
        if rain_mm_per_h is not None:
            ax2 = ax.twinx()
            ax2.bar(x, rain_mm_per_h, width=(x[1] - x[0]) if len(x) > 1 else 1, color="#5aa0e6", alpha=0.5)
            top = max(float(np.nanmax(rain_mm_per_h)) if np.size(rain_mm_per_h) else 0.0, 1.0)
            ax2.set_ylim(top * 3, 0)
            ax2.set_ylabel("雨强 (mm/h)")
        ax.set_title(title, fontsize=9)
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ----------------------------------------------------------------------------- build
def _time_labels(ds, n: int, idx: np.ndarray) -> list[str]:
    import pandas as pd

    t = ds["time"].values if "time" in ds.coords else np.arange(n)
    if np.issubdtype(np.asarray(t).dtype, np.datetime64):
        return [pd.Timestamp(t[i]).strftime("%m-%d %H:%M") for i in idx]
    start = ds.attrs.get("start_time")
    secs = np.asarray(t, dtype=float)
    if np.issubdtype(np.asarray(t).dtype, np.timedelta64):
        secs = np.asarray(t, dtype="timedelta64[s]").astype(float)
    if start:
        t0 = pd.Timestamp(start)
        return [(t0 + pd.Timedelta(seconds=float(secs[i]))).strftime("%m-%d %H:%M") for i in idx]
    return [f"+{secs[i] / 3600:.1f} h" for i in idx]


def _fmt_issue(issue: str | None) -> str:
    if not issue:
        return "发布时间：未知（无预报产品）"
    import pandas as pd

    try:
        return "发布时间：" + pd.Timestamp(issue).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return f"发布时间：{issue}"


def build_webmap(case, results: Results, out_path: str | Path | None = None, *, online_tiles: str | None = None,
                 max_px: int = 1000, frame_px: int = 500, max_frames: int = 24,
                 embed_font: bool = True) -> WebMapReport:
    """Write the offline web map of ``case`` and ``results`` to ``out_path``.

    Parameters
    ----------
    case : gis.case.Case
        The case (DEM, sections, villages, shelters, CRS).
    results : gis.mapdata.Results
        Products of the earlier stages; missing ones are skipped and listed in the report.
    online_tiles : {"osm", "tianditu:KEY"} or None
        Add an online tile layer (off by default: the map must work without internet).
    max_px, frame_px : int
        Largest raster side in pixels for the static layers and for each time-slider frame.
    max_frames : int
        Most depth snapshots on the slider (evenly spaced).
    embed_font : bool
        Inline a subset of the bundled CJK font so labels show on machines without Chinese fonts.
    """
    import folium
    import geopandas as gpd
    import rioxarray  # noqa: F401 - registers the .rio accessor
    from branca.element import Element, MacroElement
    from jinja2 import Template
    from pyproj import Transformer

    check_wgs84(case.crs)
    out_path = Path(out_path) if out_path is not None else None
    to_ll = Transformer.from_crs(case.crs, 4326, always_xy=True)
    report = WebMapReport(path=out_path, missing=list(results.missing))
    dem = case.dem
    if dem.rio.crs is None:
        dem = dem.rio.write_crs(case.crs)
    x0, y0, x1, y1 = dem.rio.bounds()
    (lon0, lon1), (lat0, lat1) = to_ll.transform([x0, x1], [y0, y1])
    m = folium.Map(location=[(lat0 + lat1) / 2, (lon0 + lon1) / 2], tiles=None, control_scale=True,
                   zoom_start=12, prefer_canvas=False)
    m.default_js, m.default_css = [], []
    js, css = leaflet_assets()
    root = m.get_root()
    root.header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    root.header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js_inline")
    # folium's popups call jQuery only as $(`<div>..</div>`)[0]; this one-line parser replaces it.
    root.header.add_child(Element(
        "<script>window.$ = window.$ || function (h) { var t = document.createElement('template');"
        " t.innerHTML = String(h).trim(); return [t.content.firstChild]; };</script>"), name="jquery_shim")
    root.header.add_child(Element(
        "<style>.fk-box{background:rgba(255,255,255,.92);padding:6px 9px;border-radius:4px;"
        "font-size:12px;line-height:1.4;box-shadow:0 1px 4px rgba(0,0,0,.3)}"
        ".fk-bar{height:10px;width:160px;border:1px solid #555}.fk-sw{display:inline-block;width:12px;"
        "height:12px;margin-right:4px;vertical-align:middle;border:1px solid #555}"
        ".fk-title{font-size:16px;font-weight:bold}</style>"), name="floodkit_css")
    m.fit_bounds([[lat0, lon0], [lat1, lon1]])

    def add_layer(layer, name: str):
        layer.add_to(m)
        report.layers.append(name)

    # -- basemap: hillshade from the DEM (no internet needed)
    small, factor = _coarsen(dem, max_px, "mean")
    res = abs(dem.rio.resolution()[0]) * factor
    shade = hillshade(small.values, res, res)
    elev = small.values
    shade_da = small.copy(data=np.where(np.isfinite(elev), shade, np.nan).astype("float32"))
    shade_m, bounds = _to_mercator(shade_da, case.crs, "bilinear")
    elev_m, _ = _to_mercator(small, case.crs, "bilinear")
    from matplotlib import colormaps

    lo, hi = np.nanpercentile(elev_m, [2, 98]) if np.isfinite(elev_m).any() else (0, 1)
    tint = colormaps["terrain"](np.clip((np.nan_to_num(elev_m, nan=lo) - lo) / max(hi - lo, 1) * 0.6 + 0.25, 0, 1))
    rgb = tint[..., :3] * (0.35 + 0.65 * np.nan_to_num(shade_m, nan=1.0))[..., None]
    rgba = np.dstack([(rgb * 255).astype(np.uint8), np.where(np.isfinite(shade_m), 255, 0).astype(np.uint8)])
    fg = folium.FeatureGroup(name=LAYER_HILLSHADE, overlay=False, control=True)
    folium.raster_layers.ImageOverlay(_png_data_uri(rgba), bounds=bounds, opacity=1.0).add_to(fg)
    add_layer(fg, LAYER_HILLSHADE)
    if online_tiles:
        kind, _, key = online_tiles.partition(":")
        if kind not in ONLINE_TILES:
            raise FloodkitError(f"--online-tiles: unknown '{online_tiles}'; use osm or tianditu:KEY")
        url, attr = ONLINE_TILES[kind]
        if kind == "tianditu":
            if not key:
                raise FloodkitError("--online-tiles: 天地图 needs a key; use tianditu:KEY")
            url = url % key
        folium.TileLayer(url, attr=attr, name=f"在线底图（{kind}）", overlay=False).add_to(m)
        report.layers.append(f"在线底图（{kind}）")

    legends: list[str] = []
    # -- inundation rasters
    inu = results.inundation
    if inu is not None and "max_depth_m" in inu:
        crs = inu.rio.crs or case.crs
        depth = inu["max_depth_m"].rio.write_crs(crs)
        d_small, _ = _coarsen(depth, max_px, "max")
        d_m, b = _to_mercator(d_small, crs)
        d_m = np.where(d_m >= 0.05, d_m, np.nan)
        fg = folium.FeatureGroup(name=LAYER_MAX_DEPTH)
        folium.raster_layers.ImageOverlay(_png_data_uri(_colourise(d_m, _depth_cmap(), 0.05, DEPTH_MAX_M)),
                                          bounds=b, opacity=0.75).add_to(fg)
        add_layer(fg, LAYER_MAX_DEPTH)
        legends.append(f"<b>最大水深 (m)</b><div class='fk-bar' style='background:{_gradient_css(_depth_cmap())}'>"
                       f"</div><span>0.05</span><span style='float:right'>≥{DEPTH_MAX_M:g}</span>")
        speed = inu["max_speed_m_per_s"].rio.write_crs(crs) if "max_speed_m_per_s" in inu else None
        s_m = _to_mercator(_coarsen(speed, max_px, "max")[0], crs)[0] if speed is not None else None
        cls = hazard_class(np.nan_to_num(d_m), s_m)
        fg = folium.FeatureGroup(name=LAYER_HAZARD, show=False)
        folium.raster_layers.ImageOverlay(_png_data_uri(_hazard_rgba(cls)), bounds=b, opacity=0.75).add_to(fg)
        add_layer(fg, LAYER_HAZARD)
        legends.append("<b>危险等级</b><br>" + "<br>".join(
            f"<span class='fk-sw' style='background:{c}'></span>{lab}"
            for c, lab in zip(reversed(HAZARD_COLOURS), reversed(HAZARD_LABELS))))
        if "arrival_time_s" in inu:
            arr = inu["arrival_time_s"].rio.write_crs(crs)
            a_m, b2 = _to_mercator(_coarsen(arr, max_px, "mean")[0] / 3600.0, crs)
            a_m = np.where(np.isfinite(d_m) & (a_m >= 0), a_m, np.nan)
            amax = float(np.nanmax(a_m)) if np.isfinite(a_m).any() else 1.0
            cmap = colormaps["plasma_r"]
            fg = folium.FeatureGroup(name=LAYER_ARRIVAL, show=False)
            folium.raster_layers.ImageOverlay(_png_data_uri(_colourise(a_m, cmap, 0, max(amax, 1e-3))),
                                              bounds=b2, opacity=0.75).add_to(fg)
            add_layer(fg, LAYER_ARRIVAL)
            legends.append(f"<b>洪水到达时间 (h)</b><div class='fk-bar' style='background:{_gradient_css(cmap)}'>"
                           f"</div><span>0</span><span style='float:right'>{amax:.1f}</span>")
        if "depth_m" in inu and "time" in inu["depth_m"].dims and inu.sizes["time"] > 0:
            nt = inu.sizes["time"]
            idx = np.unique(np.linspace(0, nt - 1, min(nt, max_frames)).round().astype(int))
            labels = _time_labels(inu, nt, idx)
            fg = folium.FeatureGroup(name=LAYER_SNAPSHOTS, show=False)
            names = []
            for i in idx:
                frame = inu["depth_m"].isel(time=int(i)).rio.write_crs(crs)
                f_m, fb = _to_mercator(_coarsen(frame, frame_px, "max")[0], crs)
                f_m = np.where(f_m >= 0.05, f_m, np.nan)
                ov = folium.raster_layers.ImageOverlay(
                    _png_data_uri(_colourise(f_m, _depth_cmap(), 0.05, DEPTH_MAX_M)), bounds=fb, opacity=0.0)
                ov.add_to(fg)
                names.append(ov.get_name())
            add_layer(fg, LAYER_SNAPSHOTS)
            slider = MacroElement()
            slider._template = Template(_SLIDER_JS)
            slider.map_name, slider.frames, slider.labels = m.get_name(), names, labels
            m.add_child(slider)

    # -- forecast sections
    sections = getattr(case, "sections", None)
    if sections is not None and len(sections):
        fc = results.forecast
        statuses = section_statuses(case, results)  # the forecast stage's warning table decides
        sec_ll = sections.to_crs(4326)
        fg = folium.FeatureGroup(name=LAYER_SECTIONS)
        for _, row in sec_ll.iterrows():
            sid = str(row["id"])
            name = str(row.get("name", sid))
            warn, danger = float(row.get("warning_level_m", np.nan)), float(row.get("danger_level_m", np.nan))
            status, popup = "无预报", f"<b>{html.escape(name)}</b><br>无预报"
            if fc is not None and "stage" in fc and "section" in fc["stage"].dims:
                secs = [str(s) for s in fc["section"].values]
                if sid in secs or name in secs:
                    stage = fc["stage"].isel(section=secs.index(sid if sid in secs else name)).values
                    status = statuses.get(sid, ("无预报", np.nan))[0]
                    rain = None
                    if "rain_mm_per_h" in fc:
                        r = fc["rain_mm_per_h"]
                        sub = getattr(case, "subbasins", None)
                        dim = [d for d in r.dims if d != "time"]
                        if dim and sub is not None and "outlet_section" in sub:
                            mine = [str(s) for s in sub.loc[sub["outlet_section"].astype(str) == sid, "id"]]
                            have = [s for s in mine if s in [str(v) for v in r[dim[0]].values]]
                            r = r.sel({dim[0]: have}) if have else r
                        rain = r.mean(dim=dim).values if dim else r.values
                    t = fc["time"].values if "time" in fc.coords else None
                    img = hydrograph_png(t, stage, warn, danger, rain, title=f"{name} 水位预报")
                    popup = (f"<b>{html.escape(name)}</b>：{status}（峰值 {np.nanmax(stage):.2f} m）<br>"
                             f"<img src='{img}' width='336'>")
            colour = WARNING_COLOURS[status]
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=9, color="#222", weight=1.5,
                                fill=True, fill_color=colour, fill_opacity=0.95,
                                tooltip=f"{name}：{status}", popup=folium.Popup(popup, max_width=360)).add_to(fg)
        add_layer(fg, LAYER_SECTIONS)
        legends.append("<b>断面预警</b><br>" + "<br>".join(
            f"<span class='fk-sw' style='background:{c};border-radius:6px'></span>{k}"
            for k, c in WARNING_COLOURS.items()))

    # -- villages with affected counts
    villages = getattr(case, "villages", None)
    if villages is not None and len(villages):
        vll = villages.to_crs(4326)
        ex = results.villages
        vcol = pick(ex, "village", "village_id", "id", "村编号")
        pcol = pick(ex, "affected_persons", "persons_affected", "affected_people", "persons", "people", "受影响人数")
        hcol = pick(ex, "affected_households", "households_affected", "households", "受影响户数")
        counts = {}
        if ex is not None and vcol is not None:
            for _, r in ex.iterrows():
                counts[str(r[vcol])] = (r[pcol] if pcol else np.nan, r[hcol] if hcol else np.nan)
        fg = folium.FeatureGroup(name=LAYER_VILLAGES)
        for _, row in vll.iterrows():
            vid, name = str(row["id"]), str(row.get("name", row["id"]))
            p, h = counts.get(vid, counts.get(name, (np.nan, np.nan)))
            affected = np.isfinite(p) and p > 0
            text = (f"<b>{html.escape(name)}</b>（{html.escape(str(row.get('town', '')))}）<br>"
                    f"常住人口 {int(row.get('population', 0))} 人<br>")
            text += (f"受影响 {int(p)} 人" + (f" / {int(h)} 户" if np.isfinite(h) else "")) if np.isfinite(p) \
                else "受影响人数：无暴露分析产品"
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=6 + (4 if affected else 0),
                                color="#333", weight=1, fill=True,
                                fill_color="#d7301f" if affected else "#9e9e9e", fill_opacity=0.9,
                                tooltip=f"{name}：受影响 {int(p) if np.isfinite(p) else '?'} 人",
                                popup=folium.Popup(text, max_width=260)).add_to(fg)
        add_layer(fg, LAYER_VILLAGES)

    hh = results.households
    if hh is not None and len(hh):
        keep = [c for c in ("village", "persons", "elderly", "children", "disabled", "max_depth_m", "depth_m")
                if c in hh.columns]
        g = gpd.GeoDataFrame(hh[keep], geometry=hh.geometry, crs=hh.crs or case.crs).to_crs(4326)
        g["geometry"] = g.geometry.set_precision(1e-6) if hasattr(g.geometry, "set_precision") else g.geometry
        fg = folium.FeatureGroup(name=LAYER_HOUSEHOLDS, show=False)
        folium.GeoJson(g, marker=folium.CircleMarker(radius=2.5, color="#b30000", weight=0, fill=True,
                                                     fill_color="#b30000", fill_opacity=0.8),
                       tooltip=folium.GeoJsonTooltip(fields=[c for c in ("persons",) if c in g.columns],
                                                     aliases=["人数"]) if "persons" in g.columns else None,
                       ).add_to(fg)
        add_layer(fg, LAYER_HOUSEHOLDS)

    # -- shelters
    shel = results.shelters if results.shelters is not None else getattr(case, "shelters", None)
    if shel is not None and len(shel):
        sll = shel.to_crs(4326) if shel.crs is not None else shel.set_crs(case.crs).to_crs(4326)
        ocol = pick(sll, "occupancy", "assigned_persons", "assigned", "persons", "occupied")
        fg = folium.FeatureGroup(name=LAYER_SHELTERS)
        for _, row in sll.iterrows():
            name, cap = str(row.get("name", row.get("id", ""))), row.get("capacity", np.nan)
            occ = row[ocol] if ocol else np.nan
            txt = f"<b>{html.escape(name)}</b><br>容量 {int(cap) if np.isfinite(cap) else '?'} 人"
            if np.isfinite(occ):
                txt += f"<br>安置 {int(occ)} 人（{occ / cap:.0%}）" if cap else f"<br>安置 {int(occ)} 人"
            folium.Marker([row.geometry.y, row.geometry.x], tooltip=f"{name}（容量 {cap:.0f}）",
                          popup=folium.Popup(txt, max_width=240),
                          icon=folium.DivIcon(html="<div style='font-size:18px;color:#1b7f2a;"
                                              "text-shadow:0 0 2px #fff'>▲</div>",
                                              icon_size=(18, 18), icon_anchor=(9, 12))).add_to(fg)
        add_layer(fg, LAYER_SHELTERS)
        legends.append("<b>符号</b><br><span style='color:#1b7f2a'>▲</span> 避灾安置场所<br>"
                       "<span style='color:#d7301f'>●</span> 受影响村落<br>"
                       "<span style='color:#1b7f2a'>━</span> 转移路线")

    routes = results.routes
    if routes is not None and len(routes):
        rll = routes.to_crs(4326) if routes.crs is not None else routes.set_crs(case.crs).to_crs(4326)
        keep = [c for c in rll.columns if c != "geometry" and rll[c].dtype.kind in "iufO"][:6]
        fg = folium.FeatureGroup(name=LAYER_ROUTES)
        folium.GeoJson(rll[keep + ["geometry"]], style_function=lambda _: {"color": "#1b7f2a", "weight": 3},
                       tooltip=folium.GeoJsonTooltip(fields=keep) if keep else None).add_to(fg)
        add_layer(fg, LAYER_ROUTES)

    # -- typhoon (the typhoon stage writes WGS84 GeoJSON for exactly this)
    track, circles = results.typhoon_track, results.typhoon_circles
    if (track is not None and len(track)) or (circles is not None and len(circles)):
        fg = folium.FeatureGroup(name=LAYER_TYPHOON)
        if circles is not None and len(circles):
            lev = pick(circles, "level", "circle", "grade")
            colours = {"7": "#fbc02d", "10": "#f57c00", "12": "#c62828"}
            keep = [c for c in circles.columns if c != "geometry" and circles[c].dtype.kind in "iufO"][:4]
            folium.GeoJson(circles[keep + ["geometry"]].to_crs(4326), style_function=lambda f, lev=lev: {
                "color": colours.get(str(f["properties"].get(lev, "")).split(".")[0], "#f57c00") if lev
                else "#f57c00", "weight": 1, "fillOpacity": 0.05}).add_to(fg)
        if track is not None and len(track):
            t = track.to_crs(4326)
            lines = t[t.geom_type.isin(["LineString", "MultiLineString"])]
            pts = t[t.geom_type == "Point"]
            if len(lines):
                folium.GeoJson(lines[["geometry"]], style_function=lambda _: {"color": "#6a1b9a", "weight": 2.5}
                               ).add_to(fg)
            if len(pts):
                keep = [c for c in pts.columns if c != "geometry" and pts[c].dtype.kind in "iufO"][:5]
                folium.GeoJson(pts[keep + ["geometry"]], marker=folium.CircleMarker(
                    radius=3, color="#6a1b9a", fill=True, fill_opacity=1),
                    tooltip=folium.GeoJsonTooltip(fields=keep) if keep else None).add_to(fg)
        add_layer(fg, LAYER_TYPHOON)

    # -- title, legends, layer control
    title = html.escape(getattr(case, "title", getattr(case, "name", "")))
    title_el = MacroElement()
    title_el._template = Template(_BOX_JS)
    title_el.map_name, title_el.position = m.get_name(), "topleft"
    title_el.body = (f"<div class='fk-title'>{title} 防汛防台形势</div><div>{results.when_text()}"
                     f"</div>" + (f"<div style='color:#b00'>缺少产品：{html.escape('、'.join(report.missing))}</div>"
                                  if report.missing else ""))
    m.add_child(title_el)
    if legends:
        leg = MacroElement()
        leg._template = Template(_BOX_JS)
        leg.map_name, leg.position = m.get_name(), "bottomright"
        leg.body = "<div style='width:170px'>" + "<hr style='margin:4px 0'>".join(legends) + "</div>"
        m.add_child(leg)
    folium.LayerControl(collapsed=False).add_to(m)

    page = m.get_root().render()
    if embed_font:
        from gis.fonts import webfont_css

        # JSON in the page escapes CJK as \\uXXXX: decode those too, so every label's glyph is kept.
        text = page + "".join(chr(int(h, 16)) for h in re.findall(r"\\u([0-9a-fA-F]{4})", page))
        style = (f"<style>{webfont_css(text)}.leaflet-container,.fk-box{{font-family:'floodkit-cjk',"
                 "'Noto Sans SC','Microsoft YaHei',sans-serif}</style>")
        page = page.replace("</head>", style + "\n</head>", 1)
    if not online_tiles and cdn_references(page):  # pragma: no cover - a guard against a folium upgrade
        raise FloodkitError(f"webmap: the page would load from the network: {cdn_references(page)[0][:120]}")
    if results.run_id or current_run_id():
        rid = current_run_id() or results.run_id
        page = page.replace("<head>", f'<head><meta name="floodkit-run-id" content="{rid}">', 1)
    report.map, report.html, report.size_bytes = m, page, len(page.encode("utf-8"))
    if out_path is not None:
        write_text(out_path, page)
        report.size_bytes = out_path.stat().st_size
    return report


_BOX_JS = """
{% macro script(this, kwargs) %}
(function () {
  var box = L.control({position: '{{ this.position }}'});
  box.onAdd = function () {
    var div = L.DomUtil.create('div', 'fk-box');
    div.innerHTML = {{ this.body|tojson }};
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  box.addTo({{ this.map_name }});
})();
{% endmacro %}
"""

_SLIDER_JS = """
{% macro script(this, kwargs) %}
(function () {
  var frames = [{% for n in this.frames %}{{ n }}{% if not loop.last %}, {% endif %}{% endfor %}];
  var labels = {{ this.labels|tojson }};
  var ctl = L.control({position: 'bottomleft'});
  ctl.onAdd = function () {
    var div = L.DomUtil.create('div', 'fk-box fk-slider');
    div.innerHTML = '<b>水深过程</b> <span class="fk-slider-label"></span><br>' +
      '<input type="range" min="0" max="' + (frames.length - 1) + '" value="0" style="width:260px">';
    L.DomEvent.disableClickPropagation(div);
    var label = div.querySelector('.fk-slider-label');
    function show(i) {
      frames.forEach(function (f, j) { f.setOpacity(j === i ? 0.8 : 0); });
      label.textContent = labels[i] + '（打开图层“水深过程”查看）';
    }
    div.querySelector('input').addEventListener('input', function (e) { show(+e.target.value); });
    show(0);
    return div;
  };
  ctl.addTo({{ this.map_name }});
})();
{% endmacro %}
"""
