"""What the maps and briefings read: the products of earlier stages, plus a few cartographic kernels.

:func:`load_results` gathers whatever products exist under a results folder (see CONTRIBUTING.md,
"Products passed between stages") and lists the ones that are missing, so a map can still be drawn
when, say, the typhoon stage was not run. Column names are matched loosely (``village`` or
``village_id``) because the stages evolve; personal columns (household heads, phones) are dropped
on load so they can never reach a map.

Kernels: :func:`hillshade` (Horn 1981) and :func:`hazard_class` (Defra/EA FD2320, Ramsbottom
et al. 2006), both plain functions over numpy arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import CRSError, InputError

# Columns that name or reach a resident; never carried into a map or a briefing.
PERSONAL_COLUMNS = {"head", "phone", "name_of_head", "householder", "户主", "电话", "联系电话", "mobile", "id_card"}

# 红橙黄蓝: the four-colour risk scheme (BRIEF: 001 line 40; 002 line 337), lowest first.
HAZARD_LABELS = ("蓝 低", "黄 中", "橙 高", "红 极高")
HAZARD_COLOURS = ("#1e6fd9", "#f5d000", "#ff8a00", "#e60000")
WARNING_COLOURS = {"正常": "#2e9d3a", "警戒": "#ff8a00", "危急": "#e60000", "无预报": "#7f7f7f"}

# Required products (typhoon is optional: it exists only when a typhoon was run).
PRODUCTS = {
    "forecast": "forecast/forecast.nc",
    "warnings": "forecast/warnings.csv",
    "thresholds": "forecast/thresholds.csv",
    "inundation": "inundation/inundation.nc",
    "villages": "exposure/villages.csv",
    "households": "exposure/households.gpkg",
    "plan": "plan/plan.csv",
    "plan_gpkg": "plan/plan.gpkg",
}
OPTIONAL_PRODUCTS = {"typhoon_track": "typhoon/track.geojson", "typhoon_circles": "typhoon/circles.geojson"}


@dataclass
class Results:
    """The products found under a results folder (None where missing)."""

    root: Path
    forecast: object = None  # xarray.Dataset
    warnings: pd.DataFrame | None = None
    thresholds: pd.DataFrame | None = None
    inundation: object = None  # xarray.Dataset
    villages: pd.DataFrame | None = None
    households: object = None  # GeoDataFrame (personal columns dropped)
    plan: pd.DataFrame | None = None
    routes: object = None  # GeoDataFrame
    shelters: object = None  # GeoDataFrame
    typhoon_track: object = None  # GeoDataFrame, WGS84: fixes (Points) and path (LineString)
    typhoon_circles: object = None  # GeoDataFrame, WGS84: 7/10/12-level circle polygons
    missing: list[str] = field(default_factory=list)
    run_id: str | None = None  # the run every product belongs to (None: made outside a floodkit run)
    scenario: dict | None = None  # the run's scenario (run.json), with its words in ``label_zh``

    def when_text(self, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """What the maps and briefings print under the title: a design storm's words (设计暴雨 50年一遇
        · 预演), never a made-up issue time; else the scenario and the forecast's issue time."""
        sc = self.scenario or {}
        if sc.get("kind") == "design_storm":
            return str(sc.get("label_zh", "设计暴雨 · 预演"))
        issue = self.issue_time
        if not issue:
            when = "发布时间：未知（无预报产品）"
        else:
            try:
                when = "发布时间：" + pd.Timestamp(issue).strftime(fmt)
            except ValueError:
                when = f"发布时间：{issue}"
        return f"{sc['label_zh']} · {when}" if sc.get("label_zh") else when

    @property
    def issue_time(self) -> str | None:
        """The forecast issue time (ISO string) if any product carries one."""
        for ds, key in ((self.forecast, "issue_time"), (self.inundation, "issue_time"),
                        (self.inundation, "start_time")):
            if ds is not None and ds.attrs.get(key):
                return str(ds.attrs[key])
        return None

    def missing_line(self) -> str:
        """One readable line naming the missing products, or '' when none is missing."""
        if not self.missing:
            return ""
        return (f"{self.root}: missing {', '.join(self.missing)}; drew what exists; "
                "run the earlier stages (python cli.py run CASE --out DIR) to complete it")


def _drop_personal(df):
    cols = [c for c in df.columns if str(c).lower() in PERSONAL_COLUMNS]
    return df.drop(columns=cols) if cols else df


def pick(df, *names: str) -> str | None:
    """The first column of ``df`` whose lower-cased name is in ``names`` (in that order)."""
    if df is None:
        return None
    lower = {str(c).lower(): c for c in df.columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def load_results(results_dir: str | Path) -> Results:
    """Read every product that exists under ``results_dir``.

    Raises
    ------
    InputError
        If the folder does not exist, or a product exists but cannot be read.
    """
    import rioxarray  # noqa: F401 - registers the .rio accessor
    import xarray as xr

    root = Path(results_dir)
    if not root.is_dir():
        raise InputError(str(root), "results folder not found",
                         "pass the --out folder of `python cli.py run` as --results")
    res = Results(root=root)

    def path_of(rel: str) -> Path | None:
        p = root / rel
        return p if p.is_file() else None

    def read(rel: str, reader):
        p = path_of(rel)
        if p is None:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return reader(p)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad product file
            raise InputError(rel, f"cannot be read ({type(exc).__name__}: {exc})",
                             "rerun the stage that writes it") from exc

    def open_nc(p):
        with xr.open_dataset(p, decode_coords="all") as ds:
            return ds.load()

    def read_csv(p):
        return _drop_personal(pd.read_csv(p, encoding="utf-8-sig"))

    def read_gpkg(p, layer=None):
        import geopandas as gpd

        return _drop_personal(gpd.read_file(p, layer=layer))

    res.forecast = read(PRODUCTS["forecast"], open_nc)
    res.warnings = read(PRODUCTS["warnings"], read_csv)
    res.thresholds = read(PRODUCTS["thresholds"], read_csv)
    res.inundation = read(PRODUCTS["inundation"], open_nc)
    res.villages = read(PRODUCTS["villages"], read_csv)
    res.households = read(PRODUCTS["households"], read_gpkg)
    res.plan = read(PRODUCTS["plan"], read_csv)
    if path_of(PRODUCTS["plan_gpkg"]) is not None:
        import pyogrio

        layers = {row[0] for row in pyogrio.list_layers(root / PRODUCTS["plan_gpkg"])}
        if "routes" in layers:
            res.routes = read(PRODUCTS["plan_gpkg"], lambda p: read_gpkg(p, "routes"))
        if "households" in layers:  # the plan's parties with English columns (plan.csv is in Chinese)
            res.plan = read(PRODUCTS["plan_gpkg"], lambda p: pd.DataFrame(read_gpkg(p, "households")))
        if "shelters" in layers:
            res.shelters = read(PRODUCTS["plan_gpkg"], lambda p: read_gpkg(p, "shelters"))
    if path_of(PRODUCTS["households"]) is not None:
        import pyogrio

        layers = {row[0] for row in pyogrio.list_layers(root / PRODUCTS["households"])}
        if "villages" in layers:  # the village totals with machine columns (villages.csv is for officials)
            res.villages = read(PRODUCTS["households"], lambda p: pd.DataFrame(read_gpkg(p, "villages")).drop(
                columns="geometry", errors="ignore"))
    res.typhoon_track = read(OPTIONAL_PRODUCTS["typhoon_track"], read_gpkg)
    res.typhoon_circles = read(OPTIONAL_PRODUCTS["typhoon_circles"], read_gpkg)
    res.missing = [rel for rel in PRODUCTS.values() if path_of(rel) is None]
    _check_one_run(res, root, [root / rel for rel in (*PRODUCTS.values(), *OPTIONAL_PRODUCTS.values())
                               if path_of(rel) is not None])
    return res


def _check_one_run(res: Results, root: Path, paths: list[Path]) -> None:
    """Every product under ``root`` must come from one run: products of two runs are never drawn on
    one map (exit 2 naming both). Products made outside a floodkit run (no run id) are taken as given."""
    import json

    from floodkit.provenance import run_id_of

    ids: dict[str, str] = {}
    for p in paths:
        rid = run_id_of(p)
        if rid:
            ids.setdefault(rid, str(p.relative_to(root)))
    manifest = root / "run.json"
    if manifest.is_file():
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
            res.scenario = m.get("scenario")
            res.run_id = m.get("run_id")
        except (OSError, ValueError):
            pass
    if res.scenario and res.scenario.get("kind") != "typhoon":  # drawn only when the run's rain came from it
        res.typhoon_track = res.typhoon_circles = None
    if len(ids) > 1:
        (a, pa), (b, pb) = list(ids.items())[:2]
        raise InputError(str(root), f"mixes the products of two runs: {pa} is from run {a}, {pb} from run {b}",
                         "rerun every stage into one folder (python cli.py run CASE --out DIR)")
    if ids:
        only = next(iter(ids))
        if res.run_id and res.run_id != only:
            raise InputError(str(root), f"run.json names run {res.run_id} but the products are from run {only}",
                             "rerun every stage into one folder (python cli.py run CASE --out DIR)")
        res.run_id = only


def section_statuses(case, results: Results) -> dict[str, tuple[str, float]]:
    """正常 / 警戒 / 危急 and the peak stage per section, read from the forecast's warning table (the
    one the forecast stage decided: 准备转移 = 警戒, 立即转移 = 危急); from the forecast stage only when
    no warning table came with it; 无预报 without a forecast."""
    out: dict[str, tuple[str, float]] = {}
    sections = getattr(case, "sections", None)
    if sections is None:
        return out
    w = results.warnings
    by_action = {"立即转移": "危急", "准备转移": "警戒", "无": "正常"}
    table = {}
    if w is not None and {"kind", "id", "action"} <= set(w.columns):
        for _, r in w[w["kind"] == "section"].iterrows():
            table[str(r["id"])] = (by_action.get(str(r["action"]), "无预报"), float(r.get("peak_stage_m", np.nan)))
    fc = results.forecast
    secs = [str(s) for s in fc["section"].values] if fc is not None and "stage" in fc else []
    for _, row in sections.iterrows():
        sid = str(row["id"])
        if sid in table:
            out[sid] = table[sid]
        elif sid in secs:
            stage = fc["stage"].isel(section=secs.index(sid)).values
            out[sid] = (section_status(stage, float(row.get("warning_level_m", np.nan)),
                                       float(row.get("danger_level_m", np.nan))), float(np.nanmax(stage)))
        else:
            out[sid] = ("无预报", np.nan)
    return out


def check_wgs84(crs, source: str = "case.toml") -> None:
    """Raise :class:`CRSError` if ``crs`` cannot be transformed to WGS84 (EPSG:4326)."""
    from pyproj import CRS, Transformer

    try:
        crs = CRS.from_user_input(crs)
        if crs.is_engineering or not (crs.is_geographic or crs.is_projected):
            raise ValueError("a local/engineering CRS has no link to a geodetic datum")
        if crs.is_projected:
            area = crs.area_of_use
            lon, lat = ((area.west + area.east) / 2, (area.south + area.north) / 2) if area else (0.0, 0.0)
            x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
        else:
            x, y = 0.0, 0.0
        lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise ValueError("the transformation gives no finite coordinates")
    except Exception as exc:  # noqa: BLE001 - pyproj raises several types
        raise CRSError(source, f"crs '{crs}' cannot be converted to WGS84 (EPSG:4326) ({exc})",
                       "set crs to a geodetic CRS such as EPSG:4549 (CGCS2000 / 3-degree GK CM 120E)") from None


def hillshade(dem: np.ndarray, dx: float, dy: float, azimuth_deg: float = 315.0,
              altitude_deg: float = 45.0) -> np.ndarray:
    """Hillshade in [0, 1] from a DEM (NaN outside the domain stays NaN).

    Slope and aspect use Horn's third-order finite differences: Horn, B.K.P. (1981) Hill shading
    and the reflectance map. Proc. IEEE 69(1), 14-47. Rows run north to south (``dy`` > 0 is the
    cell height).
    """
    z = np.asarray(dem, dtype=np.float64)
    nan = ~np.isfinite(z)
    if nan.all():
        return np.full(z.shape, np.nan)
    zf = np.where(nan, np.nanmean(z), z)
    p = np.pad(zf, 1, mode="edge")
    a, b, c = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d, f = p[1:-1, :-2], p[1:-1, 2:]
    g, h, i = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy)  # towards the south
    slope = np.arctan(np.hypot(dzdx, dzdy))
    aspect = np.arctan2(dzdy, -dzdx)
    zen = np.radians(90.0 - altitude_deg)
    az = np.radians(360.0 - azimuth_deg + 90.0) % (2 * np.pi)
    shade = np.cos(zen) * np.cos(slope) + np.sin(zen) * np.sin(slope) * np.cos(az - aspect)
    shade = np.clip(shade, 0.0, 1.0)
    shade[nan] = np.nan
    return shade


def hazard_class(depth_m: np.ndarray, speed_m_per_s: np.ndarray | None = None,
                 wet_m: float | None = None) -> np.ndarray:
    """Flood hazard class 0..3 (蓝 黄 橙 红), -1 where dry, for raster layers.

    The same scheme as the exposure lists (one definition: :func:`gis.exposure.hazard_rating`,
    Defra/EA FD2320/TR2 HR = d (v + 0.5) + DF, classes of FD2321/TR1 Table 13.1), so the map's
    colours and the officials' lists always agree. Without a speed the velocity term is taken as
    0.5 m/s, a slow-flow floodplain assumption.
    """
    from gis.exposure import HR_LIMITS, MIN_DEPTH_M, hazard_rating

    d = np.nan_to_num(np.asarray(depth_m, dtype=np.float64), nan=0.0)
    v = np.full_like(d, 0.5) if speed_m_per_s is None else np.nan_to_num(
        np.asarray(speed_m_per_s, dtype=np.float64), nan=0.0)
    cls = np.digitize(hazard_rating(d, v), HR_LIMITS).astype(np.int8)
    cls[d < (MIN_DEPTH_M if wet_m is None else wet_m)] = -1
    return cls


def section_status(stage_m: np.ndarray, warning_level_m: float, danger_level_m: float) -> str:
    """正常 / 警戒 / 危急 from the forecast stage peak against the section's two levels."""
    s = np.asarray(stage_m, dtype=float)
    if s.size == 0 or not np.isfinite(s).any():
        return "无预报"
    peak = np.nanmax(s)
    if np.isfinite(danger_level_m) and peak >= danger_level_m:
        return "危急"
    if np.isfinite(warning_level_m) and peak >= warning_level_m:
        return "警戒"
    return "正常"
