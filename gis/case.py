"""Case folders: load every layer, validate all of it, return typed objects.

A case is a folder holding ``case.toml`` (its layers and CRS, see README "The case format") and
the layers in common formats. :func:`load_case` reads and checks everything and raises one
:class:`~gis.errors.CaseError` listing *every* problem, one line each, naming the file, the
feature or column, and the fix. A county office fixing its data at night should see all the
problems at once, not one per run.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gis.errors import CaseError, InputError, Problem
from hydro.stage import flat_between, profile_problem, read_profile, section_rating

VECTOR_LAYERS = ("sections", "subbasins", "rivers", "gauges", "villages", "households", "visitor_sites",
                 "shelters", "roads")
OPTIONAL_LAYERS = {"rivers", "visitor_sites", "manning", "households"}
GEOMETRY = {
    "sections": "Point", "gauges": "Point", "villages": "Point", "households": "Point",
    "visitor_sites": "Point", "shelters": "Point", "subbasins": "Polygon", "rivers": "LineString",
    "roads": "LineString",
}
# column -> kind; kinds: str, num (finite float), int (non-negative integer), pos (> 0)
COLUMNS: dict[str, dict[str, str]] = {
    "sections": {"id": "str", "name": "str", "bed_slope": "pos", "manning_n": "pos", "warning_level_m": "num",
                 "danger_level_m": "num"},
    "subbasins": {"id": "str", "name": "str", "outlet_section": "opt_str", "length_km": "pos", "slope": "pos"},
    "rivers": {},
    "gauges": {"id": "str"},
    "villages": {"id": "str", "name": "str", "town": "str", "population": "int", "responsible": "str",
                 "phone": "str", "control_section": "str", "flood_level_m": "num"},
    "households": {"id": "str", "village": "str", "persons": "int", "elderly": "int", "children": "int",
                   "disabled": "int"},
    "visitor_sites": {"id": "str", "name": "str", "village": "str", "visitors": "int"},
    "shelters": {"id": "str", "name": "str", "capacity": "int"},
    "roads": {},
}
DESIGN_STORM_COLUMNS = ("name", "return_period_years", "a", "b", "n", "peak_ratio", "duration_h")


@dataclass
class Case:
    """A loaded, validated case. Every layer is in ``crs``.

    Attributes hold plain objects an analyst already knows: the DEM and Manning's n as
    ``xarray.DataArray`` (dims ``y``, ``x``; NaN outside the domain; CRS through ``.rio``), vector
    layers as ``GeoDataFrame``, rainfall events as hourly ``DataFrame`` (columns = gauge ids, mm/h).
    """

    root: Path
    name: str
    title: str
    crs: Any  # pyproj.CRS
    synthetic: bool
    config: dict
    dem: Any  # xarray.DataArray
    manning: Any  # xarray.DataArray or float
    sections: Any
    subbasins: Any
    gauges: Any
    villages: Any
    households: Any
    shelters: Any
    roads: Any
    rivers: Any = None
    visitor_sites: Any = None
    profiles: dict[str, np.ndarray] = field(default_factory=dict)
    section_n: dict[str, np.ndarray] = field(default_factory=dict)  # n by station (cross_sections.csv)
    ratings: dict[str, Any] = field(default_factory=dict)  # hydro.stage.Rating per section id
    events: dict[str, pd.DataFrame] = field(default_factory=dict)
    design_storms: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def resolution_m(self) -> float:
        return float(abs(self.dem.rio.resolution()[0]))

    @property
    def valid_cells(self) -> int:
        return int(np.isfinite(self.dem.values).sum())

    def path(self, key: str) -> Path:
        """Absolute path of a layer named in ``case.toml``'s [layers]."""
        return self.root / self.config["layers"][key]

    def summary(self) -> dict:
        """Figures an office checks first: area, grid, CRS, counts and population."""
        cell_area = self.resolution_m**2
        s = {
            "name": self.name, "title": self.title, "synthetic": self.synthetic,
            "crs": self.crs.to_string(), "crs_name": self.crs.name,
            "resolution_m": self.resolution_m, "grid": list(self.dem.shape), "valid_cells": self.valid_cells,
            "area_km2": round(self.valid_cells * cell_area / 1e6, 2),
            "elevation_m": [round(float(np.nanmin(self.dem.values)), 1), round(float(np.nanmax(self.dem.values)), 1)],
            "sections": list(self.sections["name"]), "subbasins": len(self.subbasins), "gauges": len(self.gauges),
            "towns": sorted(self.villages["town"].unique().tolist()), "villages": len(self.villages),
            "population": int(self.villages["population"].sum()),
            "households": 0 if self.households is None else len(self.households),
            "household_persons": 0 if self.households is None else int(self.households["persons"].sum()),
            "visitors": 0 if self.visitor_sites is None else int(self.visitor_sites["visitors"].sum()),
            "shelters": len(self.shelters), "shelter_capacity": int(self.shelters["capacity"].sum()),
            "road_km": round(float(self.roads.length.sum()) / 1000.0, 1),
            "rainfall_events": {k: f"{v.index[0]:%Y-%m-%d %H:%M} +{len(v)} h" for k, v in self.events.items()},
            "design_storms": [] if self.design_storms is None else list(self.design_storms.index),
            "sections_one_channel": self.one_channel_sections(),
        }
        return s

    def one_channel_sections(self) -> list[str]:
        """Names of sections rated as one channel (no bank stations): no separate main-channel velocity."""
        names = dict(zip(self.sections["id"], self.sections["name"], strict=False)) if self.sections is not None else {}
        return [str(names.get(k, k)) for k, r in self.ratings.items() if not getattr(r, "subdivided", False)]

    def __repr__(self) -> str:
        return f"<Case {self.describe()}>"

    def describe(self) -> str:
        s = self.summary()
        lines = [
            f"{s['title']} ({s['name']}){'  [SYNTHETIC DATA]' if s['synthetic'] else ''}",
            f"  CRS          {s['crs']} ({s['crs_name']})",
            f"  grid         {s['grid'][0]} x {s['grid'][1]} at {s['resolution_m']:g} m, "
            f"{s['valid_cells']:,} valid cells, {s['area_km2']:.1f} km²",
            f"  elevation    {s['elevation_m'][0]:.0f} - {s['elevation_m'][1]:.0f} m",
            f"  sections     {', '.join(s['sections'])}; {s['subbasins']} sub-basins; {s['gauges']} rain gauges",
            f"  people       {s['population']:,} in {len(s['towns'])} towns, {s['villages']} villages, "
            f"{s['households']:,} households; {s['visitors']:,} visitors at peak",
            f"  shelters     {s['shelters']} with {s['shelter_capacity']:,} places; roads {s['road_km']} km",
            f"  rainfall     {len(s['rainfall_events'])} events; design storms {', '.join(s['design_storms'])}",
        ]
        if s["sections_one_channel"]:
            lines.append(f"  note         section(s) {', '.join(s['sections_one_channel'])} have no bank stations: the "
                         "whole section is rated as the main channel (main-channel velocity = mean velocity); add "
                         "left_bank_m, right_bank_m, channel_n, overbank_n to subdivide the conveyance (HEC-RAS method)")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# parsing helpers (pure, tested on their own)
# --------------------------------------------------------------------------------------------
def parse_profile(text: Any) -> np.ndarray:
    """Parse a cross-section profile into an (N, 2) array of station, elevation (m).

    The one parser of the project (:func:`hydro.stage.read_profile`), so a profile that passes
    ``case validate`` is the profile the forecast uses. Raises ``ValueError`` with a short reason.
    """
    return read_profile(text)


def check_profile(arr: np.ndarray) -> str | None:
    """Return why a profile cannot be used for a Manning rating, or ``None`` (:func:`hydro.stage.profile_problem`)."""
    return profile_problem(arr)


def read_hourly_csv(path: Path, source: str | None = None, allowed_columns: set[str] | None = None
                    ) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read a rainfall CSV (``time`` + one column per gauge: rain depth in mm of each row's step) and check it.

    Returns the frame (``DatetimeIndex`` named ``time``, intensities in mm/h) and a list of problems.
    Times must increase by one regular step of 5 to 60 minutes dividing the hour (hourly: mm = mm/h)
    with no gaps; values numeric, finite and ≥ 0.
    """
    source = source or path.name
    problems: list[Problem] = []
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        return None, [Problem(source, "file not found", "check the path in case.toml [rainfall] events")]
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        return None, [Problem(source, f"malformed CSV ({first})",
                              "save it as UTF-8 CSV with a header row: time,<gauge id>,...")]
    if "time" not in df.columns:
        return None, [Problem(source, f"no `time` column (columns: {', '.join(df.columns[:6])})",
                              "name the first column `time` (local time, YYYY-MM-DD HH:MM)")]
    times = pd.to_datetime(df["time"], errors="coerce", format="mixed")
    bad = np.flatnonzero(times.isna().to_numpy())
    if bad.size:
        return None, [Problem(source, f"row {bad[0] + 2}: time '{df['time'].iloc[bad[0]]}' is not a date-time",
                              "write times as YYYY-MM-DD HH:MM")]
    if len(times) < 1:
        return None, [Problem(source, "no data rows", "add hourly rows")]
    steps = np.diff(times.to_numpy()).astype("timedelta64[s]").astype(np.int64)
    back = np.flatnonzero(steps <= 0)
    if back.size:
        r = back[0] + 3
        problems.append(Problem(source, f"row {r}: time {times.iloc[back[0] + 1]} is not after the row before "
                                        "(times must increase)", "sort the rows by time and remove duplicates"))
    step0 = int(steps[steps > 0].min()) if (steps > 0).any() else 3600
    if not back.size and steps.size and (step0 < 300 or step0 > 3600 or 3600 % step0):
        problems.append(Problem(source, f"time step of {step0 / 60:g} min after {times.iloc[0]}",
                                "use one regular step of 5 to 60 minutes that divides the hour (5, 10, 15, 20, 30, "
                                "60), or aggregate to hourly totals"))
    else:
        gaps = np.flatnonzero(steps != step0)
        if not back.size and gaps.size:
            problems.append(Problem(source, f"gap after {times.iloc[gaps[0]]}: next row is "
                                            f"{steps[gaps[0]] / 60:g} min later (the step is {step0 / 60:g} min)",
                                    "give one row per step with no gaps (0 if no rain)"))
    data = df.drop(columns=["time"])
    if data.shape[1] == 0:
        problems.append(Problem(source, "no gauge columns", "add one column per gauge id, mm per hour"))
    if allowed_columns is not None:
        unknown = [c for c in data.columns if c not in allowed_columns]
        if unknown:
            problems.append(Problem(source, f"column '{unknown[0]}' is not a gauge id "
                                            f"(known: {', '.join(sorted(allowed_columns))})",
                                    "rename the column to a gauge id from the gauges layer"))
    values = data.apply(pd.to_numeric, errors="coerce")
    for col in values.columns:
        v = values[col]
        nan = np.flatnonzero(v.isna().to_numpy())
        if nan.size:
            raw = data[col].iloc[nan[0]]
            problems.append(Problem(source, f"column '{col}' row {nan[0] + 2}: '{raw}' is not a number (NaN/blank)",
                                    "write the rainfall in mm; use 0 for no rain"))
            continue
        neg = np.flatnonzero((v < 0).to_numpy())
        if neg.size:
            problems.append(Problem(source, f"column '{col}' row {neg[0] + 2}: negative rainfall {v.iloc[neg[0]]}",
                                    "rainfall must be >= 0 mm"))
        inf = np.flatnonzero(~np.isfinite(v.to_numpy()))
        if inf.size:
            problems.append(Problem(source, f"column '{col}' row {inf[0] + 2}: infinite value",
                                    "write the rainfall in mm"))
    if problems:
        return None, problems
    values.index = pd.DatetimeIndex(times, name="time")
    # rows hold the depth of their step (mm); the case keeps intensities (mm/h) at that step
    step_h = step0 / 3600.0
    return values.astype(float) / step_h, []


def read_design_storms(path: Path, source: str | None = None) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read ``design_storms.csv`` (see README) and check every parameter."""
    source = source or path.name
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        return None, [Problem(source, "file not found", "check [layers] design_storms in case.toml")]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return None, [Problem(source, f"malformed CSV ({str(exc).strip().splitlines()[0]})",
                              "one row per storm: " + ",".join(DESIGN_STORM_COLUMNS))]
    missing = [c for c in DESIGN_STORM_COLUMNS if c not in df.columns]
    if missing:
        return None, [Problem(source, f"missing column(s) {', '.join(missing)}",
                              "columns: " + ",".join(DESIGN_STORM_COLUMNS))]
    problems = []
    df["name"] = df["name"].astype(str)
    for col in DESIGN_STORM_COLUMNS[1:]:
        v = pd.to_numeric(df[col], errors="coerce")
        for i in np.flatnonzero(~(v > 0) if col not in ("b",) else ~(v >= 0)):
            problems.append(Problem(source, f"storm '{df['name'].iloc[i]}': {col} = {df[col].iloc[i]!r}",
                                    f"{col} must be a {'non-negative' if col == 'b' else 'positive'} number"))
        df[col] = v
    r = df["peak_ratio"]
    for i in np.flatnonzero((r >= 1).to_numpy()):
        problems.append(Problem(source, f"storm '{df['name'].iloc[i]}': peak_ratio {r.iloc[i]} is not below 1",
                                "peak_ratio is the peak's position as a fraction of the duration (0-1)"))
    dup = df["name"][df["name"].duplicated()].tolist()
    if dup:
        problems.append(Problem(source, f"storm name '{dup[0]}' appears twice", "give each storm its own name"))
    if problems:
        return None, problems
    return df.set_index("name"), []


# --------------------------------------------------------------------------------------------
# the loader
# --------------------------------------------------------------------------------------------
def _layer_source(root: Path, rel: str) -> str:
    return rel if not Path(rel).is_absolute() else Path(rel).name


def _read_raster(path: Path, source: str, problems: list[Problem]):
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    try:
        da = xr.open_dataarray(path, engine="rasterio", mask_and_scale=True).squeeze("band", drop=True)
        da = da.load()
    except FileNotFoundError:
        problems.append(Problem(source, "file not found", "check the path in case.toml [layers]"))
        return None
    except Exception as exc:  # rasterio raises several classes for unreadable files
        problems.append(Problem(source, f"cannot read raster ({type(exc).__name__}: "
                                        f"{str(exc).splitlines()[0][:120]})", "write it as a GeoTIFF"))
        return None
    da = da.astype(np.float32)
    da.attrs.pop("_FillValue", None)
    return da


def _check_crs(obj_crs, case_crs, source: str, problems: list[Problem]) -> bool:
    if obj_crs is None:
        problems.append(Problem(source, "has no CRS", f"assign its CRS or reproject it to {case_crs.to_string()}"))
        return False
    from pyproj import CRS

    try:
        c = CRS.from_user_input(obj_crs)
    except Exception:
        problems.append(Problem(source, f"CRS '{obj_crs}' is not understood", f"use {case_crs.to_string()}"))
        return False
    if not c.equals(case_crs, ignore_axis_order=True):
        problems.append(Problem(source, f"CRS is {c.to_string()} but the case is {case_crs.to_string()}",
                                f"reproject it to {case_crs.to_string()} (e.g. ogr2ogr -t_srs "
                                f"{case_crs.to_string()} or GeoDataFrame.to_crs)"))
        return False
    return True


def _nodata_holes(valid: np.ndarray) -> tuple[int, tuple[int, int] | None]:
    """Count nodata cells not connected to the raster's edge (holes inside the domain)."""
    from scipy.ndimage import label

    lab, _n = label(~valid)
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    hole = (~valid) & ~np.isin(lab, edge)
    n = int(hole.sum())
    if not n:
        return 0, None
    r, c = np.argwhere(hole)[0]
    return n, (int(r), int(c))


def _check_columns(gdf, layer: str, source: str, problems: list[Problem]) -> bool:
    ok = True
    for col, kind in COLUMNS[layer].items():
        if col not in gdf.columns:
            if kind == "opt_str":
                gdf[col] = ""
                continue
            problems.append(Problem(source, f"missing column `{col}`", f"add `{col}` ({_kind_text(kind)})"))
            ok = False
            continue
        s = gdf[col]
        if kind in ("str", "opt_str"):
            gdf[col] = s.fillna("").astype(str).str.strip()
            if kind == "str":
                empty = np.flatnonzero((gdf[col] == "").to_numpy())
                if empty.size:
                    problems.append(Problem(source, f"feature {_fid(gdf, empty[0])}: `{col}` is empty",
                                            f"fill in `{col}`"))
                    ok = False
            continue
        v = pd.to_numeric(s, errors="coerce")
        if kind == "num":
            bad = np.flatnonzero(~np.isfinite(v.to_numpy(dtype=float)))
        elif kind == "pos":
            bad = np.flatnonzero(~(v.to_numpy(dtype=float) > 0))
        else:  # int: non-negative integer
            arr = v.to_numpy(dtype=float)
            bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0) | (np.abs(arr - np.round(arr)) > 1e-9))
        if bad.size:
            what = "" if bad.size == 1 else f" (and {bad.size - 1} more)"
            problems.append(Problem(source, f"feature {_fid(gdf, bad[0])}: `{col}` = {_show(s.iloc[bad[0]])}{what}",
                                    f"`{col}` must be {_kind_text(kind)}"))
            ok = False
        else:
            gdf[col] = v.astype(np.int64) if kind == "int" else v.astype(float)
    if "id" in gdf.columns and gdf["id"].duplicated().any():
        dup = gdf["id"][gdf["id"].duplicated()].iloc[0]
        problems.append(Problem(source, f"id '{dup}' appears more than once", "give every feature its own id"))
        ok = False
    return ok


def _show(value: Any) -> str:
    """A value as a user wrote it (no numpy reprs in messages)."""
    if hasattr(value, "item"):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _kind_text(kind: str) -> str:
    return {"str": "text", "opt_str": "text or empty", "num": "a number", "pos": "a number > 0",
            "int": "a whole number >= 0"}[kind]


def _fid(gdf, i: int) -> str:
    for key in ("name", "id"):
        if key in gdf.columns:
            v = gdf[key].iloc[i]
            if isinstance(v, str) and v.strip():
                return f"'{v}'"
    return f"#{i + 1}"


def _read_vector(path: Path, source: str, layer: str, case_crs, problems: list[Problem]):
    import geopandas as gpd

    if not path.exists():
        problems.append(Problem(source, "file not found", f"check [layers] {layer} in case.toml"))
        return None
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        problems.append(Problem(source, f"cannot read ({str(exc).splitlines()[0][:120]})",
                                "write it as GeoJSON, GeoPackage or Shapefile"))
        return None
    if not _check_crs(gdf.crs, case_crs, source, problems):
        return None
    want = GEOMETRY[layer]
    types = set(gdf.geom_type.dropna().unique())
    allowed = {want, f"Multi{want}"}
    if gdf.geometry.isna().any() or gdf.geometry.is_empty.any():
        i = int(np.flatnonzero((gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy())[0])
        problems.append(Problem(source, f"feature {_fid(gdf, i)} has no geometry", "give every feature a geometry"))
        return None
    if not types <= allowed:
        problems.append(Problem(source, f"geometry is {', '.join(sorted(types))}, expected {want}",
                                f"store the {layer} as {want} features"))
        return None
    _check_columns(gdf, layer, source, problems)
    return gdf


def load_case(path: str | Path, *, check_households_inside: bool = True) -> Case:
    """Load and validate the case in folder ``path``.

    Raises
    ------
    CaseError
        With one :class:`~gis.errors.Problem` per thing wrong, across all layers.
    """
    from pyproj import CRS

    root = Path(path)
    problems: list[Problem] = []
    toml_path = root / "case.toml"
    if not root.is_dir():
        raise CaseError(str(root), "is not a folder", "give the case folder that holds case.toml")
    if not toml_path.exists():
        raise CaseError(str(root), "has no case.toml", "create case.toml naming the layers and the CRS (see README)")
    try:
        config = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CaseError("case.toml", f"not valid TOML ({exc})", "fix the syntax (see README)") from None
    meta = config.get("case", {})
    layers = config.get("layers", {})
    crs_text = meta.get("crs")
    if not crs_text:
        raise CaseError("case.toml", "[case] has no `crs`", 'add e.g. crs = "EPSG:4549"')
    try:
        crs = CRS.from_user_input(crs_text)
    except Exception:
        raise CaseError("case.toml", f"[case] crs '{crs_text}' is not a known CRS",
                        'use an EPSG code such as "EPSG:4549"') from None
    if crs.is_geographic:
        problems.append(Problem("case.toml", f"crs {crs_text} is geographic (degrees)",
                                "use a projected CRS in metres, e.g. EPSG:4549 (CGCS2000 / 3-degree GK CM 120E)"))
    required = ["dem", *[k for k in VECTOR_LAYERS if k not in OPTIONAL_LAYERS], "design_storms"]
    for key in required:
        if key not in layers:
            problems.append(Problem("case.toml", f"[layers] has no `{key}`", f"add {key} = \"<file>\""))

    def src(key: str) -> str:
        return _layer_source(root, str(layers[key]))

    # rasters
    dem = manning = None
    if "dem" in layers:
        dem = _read_raster(root / layers["dem"], src("dem"), problems)
        if dem is not None:
            _check_crs(dem.rio.crs, crs, src("dem"), problems)
            valid = np.isfinite(dem.values)
            if not valid.any():
                problems.append(Problem(src("dem"), "has no valid cells", "check its nodata value"))
            else:
                n, at = _nodata_holes(valid)
                if n:
                    x, y = (float(v) for v in dem.rio.transform() * (at[1] + 0.5, at[0] + 0.5))
                    problems.append(Problem(src("dem"), f"{n} nodata cell(s) inside the domain, first at row {at[0]}, "
                                                        f"col {at[1]} (x={x:.0f}, y={y:.0f})",
                                            "fill the holes (e.g. gdal_fillnodata.py) so only cells outside the "
                                            "domain are nodata"))
            res = dem.rio.resolution()
            if abs(abs(res[0]) - abs(res[1])) > 1e-6 * abs(res[0]):
                problems.append(Problem(src("dem"), f"cells are not square ({abs(res[0])} x {abs(res[1])} m)",
                                        "resample to square cells"))
    mval = layers.get("manning", 0.05)
    if isinstance(mval, int | float):
        if not mval > 0:
            problems.append(Problem("case.toml", f"[layers] manning = {mval}", "Manning's n must be > 0"))
        manning = float(mval)
    else:
        manning = _read_raster(root / str(mval), src("manning"), problems)
        if manning is not None and dem is not None:
            if _check_crs(manning.rio.crs, crs, src("manning"), problems):
                if manning.shape != dem.shape or not np.allclose(tuple(manning.rio.transform())[:6],
                                                                tuple(dem.rio.transform())[:6]):
                    problems.append(Problem(src("manning"), f"grid {manning.shape} does not match the DEM's "
                                                            f"{dem.shape} (or its transform differs)",
                                            "resample it onto the DEM grid"))
                else:
                    m = manning.values[np.isfinite(dem.values)]
                    if np.any(~(m > 0)):
                        problems.append(Problem(src("manning"), f"{int(np.sum(~(m > 0)))} cell(s) inside the "
                                                                "domain have n <= 0 or no value",
                                                "Manning's n must be > 0 on every DEM cell"))

    # vectors
    gdfs: dict[str, Any] = {}
    for key in VECTOR_LAYERS:
        if key in layers:
            gdfs[key] = _read_vector(root / layers[key], src(key), key, crs, problems)
        else:
            gdfs[key] = None

    # sections: profile, levels, links
    profiles: dict[str, np.ndarray] = {}
    ratings: dict[str, Any] = {}
    xs_n = None
    sec = gdfs.get("sections")
    if sec is not None and {"id", "name", "warning_level_m", "danger_level_m"} <= set(sec.columns):
        xs_table, xs_n = _cross_sections_table(root, layers, problems)
        for _i, row in sec.iterrows():
            sid, name = row["id"], row["name"]
            try:
                if xs_table is not None and sid in xs_table:
                    prof = xs_table[sid]
                elif "profile" in sec.columns:
                    prof = parse_profile(row["profile"])
                else:
                    raise ValueError("no profile")
            except ValueError as exc:
                problems.append(Problem(src("sections"), f"section '{name}' has no usable cross-section profile ({exc})",
                                        "add a `profile` column of station,elevation pairs (\"0,105.2;5,103.1;...\")"))
                continue
            why = check_profile(prof)
            if why:
                problems.append(Problem(src("sections"), f"section '{name}' profile {why}",
                                        "give the surveyed station,elevation pairs across the channel"))
                continue
            profiles[sid] = prof
            w, d = row["warning_level_m"], row["danger_level_m"]
            if isinstance(w, float) and isinstance(d, float):
                if w >= d:
                    problems.append(Problem(src("sections"), f"section '{name}': warning level {w} m is not below "
                                                             f"danger level {d} m",
                                            "警戒水位 (warning_level_m) must be lower than 危急水位 (danger_level_m)"))
                lo = prof[:, 1].min()
                if w <= lo:
                    problems.append(Problem(src("sections"), f"section '{name}': warning level {w} m is at or "
                                                             f"below the channel bed ({lo:.2f} m)",
                                            "check the datum of the levels and the profile"))
                top = min(prof[0, 1], prof[-1, 1])
                if d > top:
                    problems.append(Problem(src("sections"), f"section '{name}': danger level {d} m is above the "
                                                             f"profile's lower end ({top:.2f} m)",
                                            "extend the surveyed profile up the banks above the danger level"))
            if isinstance(row.get("bed_slope"), float) and isinstance(row.get("manning_n"), float):
                try:
                    rating = section_rating(row, prof, (xs_n or {}).get(sid), src("sections"))
                except InputError as exc:
                    problems.extend(exc.problems)
                    continue
                ratings[sid] = rating
                if isinstance(w, float) and isinstance(d, float) and w < d and flat_between(rating, w, d):
                    q0, q1 = (float(v) for v in rating.discharge(np.array([w, d])))
                    problems.append(Problem(src("sections"), f"section '{name}': the rating is flat between the "
                                                             f"warning level {w} m ({q0:.1f} m3/s) and the danger "
                                                             f"level {d} m ({q1:.1f} m3/s), so both are crossed at "
                                                             "the same discharge",
                                            "add bank stations and overbank n (left_bank_m, right_bank_m, "
                                            "overbank_n) or check the levels against the profile"))
        ids = set(sec["id"])
        if "downstream" in sec.columns:
            sec["downstream"] = sec["downstream"].fillna("").astype(str).str.strip()
            for _, row in sec.iterrows():
                if row["downstream"] and row["downstream"] not in ids:
                    problems.append(Problem(src("sections"), f"section '{row['name']}': downstream "
                                                             f"'{row['downstream']}' is not a section id",
                                            f"use one of {', '.join(sorted(ids))} or leave it empty"))
        else:
            sec["downstream"] = ""
        if "reach_length_m" not in sec.columns:
            sec["reach_length_m"] = 0.0
        sec["reach_length_m"] = pd.to_numeric(sec["reach_length_m"], errors="coerce").fillna(0.0)
        for _, row in sec.iterrows():
            if row["downstream"] and not row["reach_length_m"] > 0:
                problems.append(Problem(src("sections"), f"section '{row['name']}': reach_length_m must be > 0 "
                                                         "when `downstream` is set", "give the channel length (m)"))
        _check_acyclic(sec, src("sections"), problems)
    sec_ids = set(sec["id"]) if sec is not None and "id" in sec.columns else set()

    sub = gdfs.get("subbasins")
    if sub is not None and "outlet_section" in sub.columns and sec_ids:
        for _, row in sub.iterrows():
            if row["outlet_section"] and row["outlet_section"] not in sec_ids:
                problems.append(Problem(src("subbasins"), f"sub-basin '{row['name']}': outlet_section "
                                                          f"'{row['outlet_section']}' is not a section id",
                                        f"use one of {', '.join(sorted(sec_ids))} or leave it empty"))
        sub["area_km2"] = sub.geometry.area / 1e6

    vil = gdfs.get("villages")
    if vil is not None and sec_ids and "control_section" in vil.columns:
        for _, row in vil.iterrows():
            if row["control_section"] and row["control_section"] not in sec_ids:
                problems.append(Problem(src("villages"), f"village '{row['name']}': control_section "
                                                         f"'{row['control_section']}' is not a section id",
                                        f"use one of {', '.join(sorted(sec_ids))}"))
    vil_ids = set(vil["id"]) if vil is not None and "id" in vil.columns else set()
    warnings: list[str] = []

    hh = gdfs.get("households")
    if hh is not None and {"village", "persons", "elderly", "children", "disabled"} <= set(hh.columns):
        if np.issubdtype(hh["persons"].dtype, np.number):
            zero = np.flatnonzero((hh["persons"] < 1).to_numpy())
            if zero.size:
                problems.append(Problem(src("households"), f"household {_fid(hh, zero[0])}: persons = 0"
                                        + (f" (and {zero.size - 1} more)" if zero.size > 1 else ""),
                                        "every household holds at least 1 person; remove empty ones"))
            for col in ("elderly", "children", "disabled"):
                if np.issubdtype(hh[col].dtype, np.number):
                    over = np.flatnonzero((hh[col] > hh["persons"]).to_numpy())
                    if over.size:
                        problems.append(Problem(src("households"), f"household {_fid(hh, over[0])}: {col} "
                                                                   f"({hh[col].iloc[over[0]]}) exceeds persons",
                                                f"{col} counts members of the household"))
        if vil_ids:
            unknown = np.flatnonzero(~hh["village"].isin(vil_ids).to_numpy())
            if unknown.size:
                problems.append(Problem(src("households"), f"household {_fid(hh, unknown[0])}: village "
                                                           f"'{hh['village'].iloc[unknown[0]]}' is not a village id"
                                        + (f" (and {unknown.size - 1} more)" if unknown.size > 1 else ""),
                                        "use the id of a village in the villages layer"))
            elif vil is not None and np.issubdtype(vil["population"].dtype, np.number):
                per = hh.groupby("village")["persons"].sum()
                for _, row in vil.iterrows():
                    n = int(per.get(row["id"], 0))
                    if n != row["population"]:
                        warnings.append(f"{src('villages')}: village '{row['name']}' population "
                                        f"{row['population']} but its households hold {n} persons")
    vs = gdfs.get("visitor_sites")
    if vs is not None and vil_ids and "village" in vs.columns:
        unknown = np.flatnonzero(~vs["village"].isin(vil_ids).to_numpy())
        if unknown.size:
            problems.append(Problem(src("visitor_sites"), f"site {_fid(vs, unknown[0])}: village "
                                                          f"'{vs['village'].iloc[unknown[0]]}' is not a village id",
                                    "use the id of a village in the villages layer"))
    sh = gdfs.get("shelters")
    if sh is not None and "capacity" in sh.columns and np.issubdtype(sh["capacity"].dtype, np.number):
        zero = np.flatnonzero((sh["capacity"] <= 0).to_numpy())
        if zero.size:
            problems.append(Problem(src("shelters"), f"shelter {_fid(sh, zero[0])} has no capacity (capacity = 0)"
                                    + (f"; {zero.size - 1} more" if zero.size > 1 else ""),
                                    "give the number of places (persons) or remove the shelter"))

    # points must lie on the DEM's valid area
    if dem is not None:
        for key in ("sections", "villages", "shelters", "gauges", "visitor_sites", "households"):
            gdf = gdfs.get(key)
            if gdf is None or key == "households" and not check_households_inside:
                continue
            outside = _outside_dem(gdf, dem)
            if outside.size:
                problems.append(Problem(src(key), f"feature {_fid(gdf, outside[0])} lies outside the DEM's "
                                                  "valid area" + (f" (and {outside.size - 1} more)"
                                                                  if outside.size > 1 else ""),
                                        "check its coordinates and CRS, or extend the DEM"))

    # rainfall
    gauge_ids = set(gdfs["gauges"]["id"]) if gdfs.get("gauges") is not None and "id" in gdfs["gauges"] else None
    events: dict[str, pd.DataFrame] = {}
    for rel in config.get("rainfall", {}).get("events", []):
        df, probs = read_hourly_csv(root / rel, source=str(rel), allowed_columns=gauge_ids)
        problems.extend(probs)
        if df is not None:
            events[Path(rel).stem] = df
    storms = None
    if "design_storms" in layers:
        storms, probs = read_design_storms(root / layers["design_storms"], src("design_storms"))
        problems.extend(probs)

    if problems:
        raise CaseError(problems=problems)
    return Case(
        root=root, name=str(meta.get("name", root.name)), title=str(meta.get("title", root.name)), crs=crs,
        synthetic=bool(meta.get("synthetic", False)), config=config, dem=dem, manning=manning,
        sections=sec, subbasins=sub, gauges=gdfs["gauges"], villages=vil, households=hh, shelters=sh,
        roads=gdfs["roads"], rivers=gdfs.get("rivers"), visitor_sites=vs, profiles=profiles,
        section_n={k: v for k, v in (xs_n or {}).items() if k in profiles}, ratings=ratings, events=events,
        design_storms=storms, warnings=warnings,
    )


def _cross_sections_table(root: Path, layers: dict, problems: list[Problem]
                          ) -> tuple[dict[str, np.ndarray] | None, dict[str, np.ndarray] | None]:
    """Profiles per section from ``cross_sections.csv`` (section,station_m,elevation_m[,manning_n]) and,
    with the optional ``manning_n`` column, n from each station to the next (HEC-RAS n breakpoints)."""
    rel = layers.get("cross_sections")
    if not rel:
        return None, None
    try:
        df = pd.read_csv(root / rel)
    except (FileNotFoundError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problems.append(Problem(str(rel), f"cannot read ({type(exc).__name__})",
                                "columns: section,station_m,elevation_m[,manning_n]"))
        return None, None
    need = {"section", "station_m", "elevation_m"}
    if not need <= set(df.columns):
        problems.append(Problem(str(rel), f"missing column(s) {', '.join(sorted(need - set(df.columns)))}",
                                "columns: section,station_m,elevation_m[,manning_n]"))
        return None, None
    groups = df.groupby(df["section"].astype(str), sort=False)
    profiles = {k: g[["station_m", "elevation_m"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
                for k, g in groups}
    n = None
    if "manning_n" in df.columns:
        n = {k: pd.to_numeric(g["manning_n"], errors="coerce").to_numpy(float) for k, g in groups}
    return profiles, n


def _check_acyclic(sec, source: str, problems: list[Problem]) -> None:
    nxt = dict(zip(sec["id"], sec["downstream"], strict=True))
    for start in nxt:
        seen, cur = set(), start
        while cur:
            if cur in seen:
                problems.append(Problem(source, f"the `downstream` links loop through section '{start}'",
                                        "each section must lead downstream to the last one"))
                return
            seen.add(cur)
            cur = nxt.get(cur, "")


def _outside_dem(gdf, dem) -> np.ndarray:
    from rasterio.transform import rowcol

    pts = gdf.geometry.representative_point()
    rows, cols = rowcol(dem.rio.transform(), pts.x.to_numpy(), pts.y.to_numpy())
    rows, cols = np.asarray(rows), np.asarray(cols)
    ny, nx = dem.shape
    inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    ok = np.zeros(len(gdf), dtype=bool)
    ok[inside] = np.isfinite(dem.values[rows[inside], cols[inside]])
    return np.flatnonzero(~ok)


def validate_case(path: str | Path) -> list[Problem]:
    """Return the list of problems of the case in ``path`` (empty when it is valid)."""
    try:
        load_case(path)
    except CaseError as exc:
        return exc.problems
    return []
