"""Exposure: who is in the water, how deep, how fast, and when it arrives.

Three entry points, in the order an emergency needs them:

* :func:`quick_exposure` - the 10-second answer from the water-level forecast alone: each village
  whose control section's forecast stage reaches the village's flood level (成灾水位), and when.
* :func:`household_exposure` - per household (or building) sampling of the 2-D inundation products
  (max depth, max speed, arrival time, duration) with a four-colour hazard class 红橙黄蓝.
* :func:`aggregate_exposure` - affected households, persons, vulnerable persons and visitors per
  village and per town.

:func:`population_to_households` turns a population raster into household-like points so the same
path serves areas without a household register.

Hazard to people uses the UK Defra / Environment Agency depth-velocity hazard rating

    HR = d (v + 0.5) + DF

(HR Wallingford et al. 2006, *Flood Risks to People Phase 2*, FD2320/TR2 and FD2321/TR1, Defra/EA;
Defra 2008, *Supplementary note on assessing and valuing the risk to life from flooding*), with the
classes of FD2321/TR1 Table 13.1: HR < 0.75 "low / caution", 0.75-1.25 "danger for some",
1.25-2.0 "danger for most", > 2.0 "danger for all". We map them onto the Chinese four-colour scheme:
蓝 (blue) low, 黄 (yellow) danger for some, 橙 (orange) danger for most, 红 (red) danger for all.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from gis.errors import InputError

# FD2321/TR1 Table 13.1 class limits on HR and our colours, lowest first.
HR_LIMITS = (0.75, 1.25, 2.0)
HAZARD_COLOURS = ("蓝", "黄", "橙", "红")
HAZARD_MEANING = {
    "蓝": "低：浅水或静水，注意 (HR<0.75, caution)",
    "黄": "中：对部分人员危险（儿童、老人） (0.75≤HR<1.25, danger for some)",
    "橙": "高：对多数人员危险 (1.25≤HR<2.0, danger for most)",
    "红": "极高：对所有人员危险（含救援人员） (HR≥2.0, danger for all)",
}
# Debris factor by land use, FD2320/TR2 Table 3.1: rows depth 0-0.25 m, 0.25-0.75 m, >0.75 m or v>2 m/s.
_DEBRIS = {"pasture": (0.0, 0.0, 0.5), "woodland": (0.0, 0.5, 1.0), "urban": (0.0, 1.0, 1.0)}

MIN_DEPTH_M = 0.05  # a household counts as affected from 5 cm of water at its location


def debris_factor(depth_m: np.ndarray, speed_m_per_s: np.ndarray, land_use: str = "defra2008") -> np.ndarray:
    """Debris factor DF of the Defra/EA hazard rating.

    ``"defra2008"`` (default, conservative): DF = 0 for d <= 0.25 m, 1 for d > 0.25 m or v > 2 m/s
    (Defra 2008 supplementary note). ``"pasture"``, ``"woodland"``, ``"urban"``: FD2320/TR2 Table 3.1.
    """
    d = np.asarray(depth_m, dtype=float)
    v = np.asarray(speed_m_per_s, dtype=float)
    if land_use == "defra2008":
        return np.where((d > 0.25) | (v > 2.0), 1.0, 0.0)
    if land_use not in _DEBRIS:
        raise InputError("land_use", f"unknown land use '{land_use}'",
                         "use defra2008, pasture, woodland or urban")
    low, mid, high = _DEBRIS[land_use]
    return np.where((d > 0.75) | (v > 2.0), high, np.where(d > 0.25, mid, low))


def hazard_rating(depth_m: np.ndarray, speed_m_per_s: np.ndarray, land_use: str = "defra2008") -> np.ndarray:
    """Flood hazard rating HR = d (v + 0.5) + DF (FD2320/TR2 eq. 3.1; Defra 2008).

    Dry cells (d = 0) get HR = 0.
    """
    d = np.nan_to_num(np.asarray(depth_m, dtype=float), nan=0.0)
    v = np.nan_to_num(np.asarray(speed_m_per_s, dtype=float), nan=0.0)
    hr = d * (v + 0.5) + debris_factor(d, v, land_use)
    return np.where(d > 0.0, hr, 0.0)


def hazard_class(hr: np.ndarray, depth_m: np.ndarray, min_depth_m: float = MIN_DEPTH_M) -> np.ndarray:
    """Four-colour class 蓝/黄/橙/红 from HR (FD2321/TR1 Table 13.1); "" where depth < ``min_depth_m``."""
    hr = np.asarray(hr, dtype=float)
    idx = np.searchsorted(np.asarray(HR_LIMITS), hr, side="right")
    out = np.asarray(HAZARD_COLOURS, dtype=object)[idx]
    wet = np.nan_to_num(np.asarray(depth_m, dtype=float), nan=0.0) >= min_depth_m
    return np.where(wet, out, "").astype(object)


# ----------------------------------------------------------------------------- grid sampling
@dataclass(frozen=True)
class GridIndex:
    """Row/column of points on a regular (y, x) grid; ``inside`` False where a point falls off it."""

    iy: np.ndarray
    ix: np.ndarray
    inside: np.ndarray


def grid_index(x: np.ndarray, y: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> GridIndex:
    """Nearest cell of points (xs, ys) on a grid with 1-D cell-centre coordinates ``x``, ``y``."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    dx = (x[-1] - x[0]) / max(len(x) - 1, 1) if len(x) > 1 else 1.0
    dy = (y[-1] - y[0]) / max(len(y) - 1, 1) if len(y) > 1 else -1.0
    fx = (np.asarray(xs, dtype=float) - x[0]) / dx
    fy = (np.asarray(ys, dtype=float) - y[0]) / dy
    ix = np.rint(fx).astype(np.int64)
    iy = np.rint(fy).astype(np.int64)
    inside = (ix >= 0) & (ix < len(x)) & (iy >= 0) & (iy < len(y))
    return GridIndex(np.clip(iy, 0, len(y) - 1), np.clip(ix, 0, len(x) - 1), inside)


def _start_time(ds: xr.Dataset) -> pd.Timestamp:
    st = ds.attrs.get("start_time")
    if st is None:
        raise InputError("inundation.nc", "attribute `start_time` is missing",
                         "write the simulation start as an ISO local time in attrs['start_time']")
    return pd.Timestamp(st)


REQUIRED_VARS = ("max_depth_m", "max_speed_m_per_s", "arrival_time_s", "duration_s")


def check_inundation(ds: xr.Dataset, source: str = "inundation.nc") -> None:
    """Raise :class:`InputError` if ``ds`` lacks a product the exposure needs."""
    missing = [v for v in REQUIRED_VARS if v not in ds]
    if missing:
        raise InputError(source, f"variables {', '.join(missing)} are missing",
                         "rerun the inundation stage (it writes " + ", ".join(REQUIRED_VARS) + ")")
    _start_time(ds)


def affected_depth_m(ds: xr.Dataset, min_depth_m: float | None = None) -> float:
    """Depth from which a household counts as affected: ``min_depth_m`` if given, else the larger of
    5 cm and the product's own ``flood_threshold_m`` (below it the solver records no arrival or
    duration, so a household there would have none)."""
    if min_depth_m is not None:
        return float(min_depth_m)
    return max(MIN_DEPTH_M, float(ds.attrs.get("flood_threshold_m", 0.0) or 0.0))


def sample_inundation(ds: xr.Dataset, xs: np.ndarray, ys: np.ndarray, ids: np.ndarray | None = None,
                      source: str = "inundation.nc", what: str = "households",
                      land_use: str = "defra2008", min_depth_m: float | None = None) -> pd.DataFrame:
    """Sample max depth, max speed, arrival time and duration at points; add HR and its colour.

    Raises :class:`InputError` when a point lies outside the grid: the inundation grid must cover
    every household. Points on cells outside the simulated domain (NaN max depth) are dry, with
    ``in_domain`` False.
    """
    check_inundation(ds, source)
    gi = grid_index(ds["x"].values, ds["y"].values, xs, ys)
    depth = ds["max_depth_m"].transpose("y", "x").values
    bad = ~gi.inside
    if bad.any():
        first = ids[np.flatnonzero(bad)[0]] if ids is not None else int(np.flatnonzero(bad)[0])
        raise InputError(source, f"the inundation grid does not cover {int(bad.sum())} {what} (first: {first})",
                         "run the inundation over a grid that contains every household, "
                         "or remove the households outside it")
    d = depth[gi.iy, gi.ix]
    # inside the grid but outside the simulated domain (NaN, e.g. hillsides above a valley-floor
    # model): not reached by the modelled water, so dry; flagged so the summary can say how many
    in_domain = np.isfinite(d)
    d = np.where(in_domain, d, 0.0)
    v = ds["max_speed_m_per_s"].transpose("y", "x").values[gi.iy, gi.ix].astype(float)
    v = np.nan_to_num(v, nan=0.0)
    arr = ds["arrival_time_s"].transpose("y", "x").values[gi.iy, gi.ix].astype(float)
    dur = np.nan_to_num(ds["duration_s"].transpose("y", "x").values[gi.iy, gi.ix].astype(float), nan=0.0)
    d = d.astype(float)
    hr = hazard_rating(d, v, land_use)
    cls = hazard_class(hr, d, affected_depth_m(ds, min_depth_m))
    exposed = cls != ""
    t0 = _start_time(ds)
    arr = np.where(exposed, arr, np.nan)
    arrival = pd.to_datetime(t0) + pd.to_timedelta(arr, unit="s")
    return pd.DataFrame({
        "max_depth_m": np.round(d, 3), "max_speed_m_per_s": np.round(v, 3),
        "arrival_time_s": arr, "arrival_time": arrival, "duration_s": np.where(exposed, dur, 0.0),
        "hazard_rating": np.round(hr, 3), "hazard_class": cls, "exposed": exposed, "in_domain": in_domain,
    })


def _vulnerable(h: pd.DataFrame) -> np.ndarray:
    cols = [c for c in ("elderly", "children", "disabled") if c in h]
    if not cols:
        return np.zeros(len(h), dtype=np.int64)
    return h[cols].fillna(0).astype(np.int64).sum(axis=1).to_numpy()


def household_exposure(households: gpd.GeoDataFrame, ds: xr.Dataset, villages: gpd.GeoDataFrame | None = None,
                       source: str = "inundation.nc", land_use: str = "defra2008",
                       min_depth_m: float | None = None) -> gpd.GeoDataFrame:
    """Per-household exposure: the household columns plus the sampled inundation and hazard class.

    Parameters
    ----------
    households : GeoDataFrame
        Points with ``id``, ``village``, ``persons`` and optionally ``elderly``, ``children``,
        ``disabled``, ``head``, ``phone``.
    ds : Dataset
        Inundation products (``max_depth_m``, ``max_speed_m_per_s``, ``arrival_time_s``,
        ``duration_s``; attr ``start_time``) on the households' CRS.
    villages : GeoDataFrame, optional
        Adds ``village_name``, ``town``, ``responsible``, ``phone_responsible``; every household must
        name a village in it.
    """
    _check_households(households, villages)
    xs = households.geometry.x.to_numpy()
    ys = households.geometry.y.to_numpy()
    s = sample_inundation(ds, xs, ys, households["id"].astype(str).to_numpy(), source, "households",
                          land_use, min_depth_m)
    out = households.reset_index(drop=True).copy()
    out["vulnerable"] = _vulnerable(out)
    for c in s.columns:
        out[c] = s[c].to_numpy()
    if villages is not None:
        out = _join_villages(out, villages)
    return out


def _check_households(households: gpd.GeoDataFrame, villages: gpd.GeoDataFrame | None,
                      source: str = "households") -> None:
    for col in ("id", "village", "persons"):
        if col not in households:
            raise InputError(source, f"column `{col}` is missing", "add it (see README, case format)")
    if villages is not None:
        known = set(villages["id"].astype(str))
        unknown = ~households["village"].astype(str).isin(known)
        if unknown.any():
            first = households.loc[unknown, "id"].iloc[0]
            raise InputError(source, f"{int(unknown.sum())} households lie outside every village "
                             f"(first: {first}, village '{households.loc[unknown, 'village'].iloc[0]}')",
                             "set `village` to an id in the villages layer")


def _join_villages(out: pd.DataFrame, villages: gpd.GeoDataFrame) -> pd.DataFrame:
    v = pd.DataFrame(villages.drop(columns="geometry", errors="ignore")).copy()
    v["id"] = v["id"].astype(str)
    cols = {"id": "village", "name": "village_name", "town": "town", "responsible": "responsible",
            "phone": "responsible_phone"}
    v = v[[c for c in cols if c in v]].rename(columns=cols)
    out = out.copy()
    out["village"] = out["village"].astype(str)
    merged = out.merge(v, on="village", how="left")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=getattr(out, "crs", None)) \
        if "geometry" in merged else merged


def visitor_exposure(visitor_sites: gpd.GeoDataFrame, ds: xr.Dataset, villages: gpd.GeoDataFrame | None = None,
                     source: str = "inundation.nc", land_use: str = "defra2008",
                     min_depth_m: float | None = None) -> gpd.GeoDataFrame:
    """Exposure of farm-stays (农家乐) and scenic spots: their peak ``visitors`` at the site."""
    if visitor_sites is None or len(visitor_sites) == 0:
        return gpd.GeoDataFrame(columns=["id", "village", "visitors", "exposed", "geometry"], geometry="geometry")
    s = sample_inundation(ds, visitor_sites.geometry.x.to_numpy(), visitor_sites.geometry.y.to_numpy(),
                          visitor_sites["id"].astype(str).to_numpy(), source, "visitor sites",
                          land_use, min_depth_m)
    out = visitor_sites.reset_index(drop=True).copy()
    for c in s.columns:
        out[c] = s[c].to_numpy()
    if villages is not None:
        out = _join_villages(out, villages)
    return out


def aggregate_exposure(hh: pd.DataFrame, visitors: pd.DataFrame | None = None,
                       villages: gpd.GeoDataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-village and per-town totals of the exposed: households, persons, vulnerable, visitors.

    Returns ``(villages_table, towns_table)``; villages with nobody exposed are kept with zeros so
    the list is complete. The worst colour and the earliest arrival are given per village.
    """
    e = hh[hh["exposed"]].copy()
    e["village"] = e["village"].astype(str)
    rank = {c: i for i, c in enumerate(HAZARD_COLOURS)}
    e["_rank"] = e["hazard_class"].map(rank)
    g = e.groupby("village")
    table = pd.DataFrame({
        "households": g.size(),
        "persons": g["persons"].sum(),
        "vulnerable": g["vulnerable"].sum(),
        **{c: g[c].sum() for c in ("elderly", "children", "disabled") if c in e},
        "red_households": g["_rank"].apply(lambda r: int((r == 3).sum())),
        "worst_class": g["_rank"].max().map(lambda i: HAZARD_COLOURS[int(i)]),
        "first_arrival": g["arrival_time"].min(),
        "max_depth_m": g["max_depth_m"].max(),
    })
    if visitors is not None and len(visitors) and "exposed" in visitors:
        ve = visitors[visitors["exposed"]].copy()
        ve["village"] = ve["village"].astype(str)
        table = table.join(ve.groupby("village")["visitors"].sum().rename("visitors"), how="outer")
    if "visitors" not in table:
        table["visitors"] = 0
    if villages is not None:
        v = pd.DataFrame(villages.drop(columns="geometry", errors="ignore")).copy()
        v["id"] = v["id"].astype(str)
        v = v.set_index("id")
        table = table.reindex(v.index.union(table.index))
        for c in ("name", "town", "population", "responsible", "phone"):
            if c in v:
                table[c if c not in ("phone",) else "responsible_phone"] = v[c].reindex(table.index)
    counts = [c for c in ("households", "persons", "vulnerable", "elderly", "children", "disabled",
                          "red_households", "visitors") if c in table]
    table[counts] = table[counts].fillna(0).astype(np.int64)
    table["worst_class"] = table["worst_class"].fillna("")
    table.index.name = "village"
    table = table.reset_index()
    town_col = "town" if "town" in table else None
    if town_col:
        t = table.groupby(town_col)
        towns = t[counts].sum()
        towns["villages_affected"] = t["persons"].apply(lambda p: int((p > 0).sum()))
        towns["first_arrival"] = t["first_arrival"].min()
        towns = towns.reset_index()
    else:
        towns = pd.DataFrame(table[counts].sum()).T
    return table, towns


# ----------------------------------------------------------------------------- population raster mode
def population_to_households(population: xr.DataArray, villages: gpd.GeoDataFrame,
                             min_persons: float = 0.5, vulnerable_share: float = 0.0) -> gpd.GeoDataFrame:
    """Household-like points from a population raster (persons per cell), for areas with no register.

    Each populated cell becomes one point at its centre with ``persons`` = the rounded count; it is
    given to the nearest village point (a Voronoi partition), so the per-village aggregation and the
    transfer plan work unchanged. ``vulnerable_share`` (e.g. the census share of people over 65)
    fills ``elderly`` when known; ``head`` and ``phone`` stay empty.
    """
    from scipy.spatial import cKDTree

    pop = population.transpose("y", "x")
    vals = np.nan_to_num(pop.values.astype(float), nan=0.0)
    iy, ix = np.nonzero(vals >= min_persons)
    if len(iy) == 0:
        return gpd.GeoDataFrame(columns=["id", "village", "persons", "geometry"], geometry="geometry",
                                crs=villages.crs)
    xs = pop["x"].values[ix].astype(float)
    ys = pop["y"].values[iy].astype(float)
    persons = np.maximum(np.rint(vals[iy, ix]).astype(np.int64), 1)
    tree = cKDTree(np.column_stack([villages.geometry.x, villages.geometry.y]))
    _, nearest = tree.query(np.column_stack([xs, ys]))
    elderly = np.rint(persons * vulnerable_share).astype(np.int64)
    return gpd.GeoDataFrame({
        "id": [f"cell_{a}_{b}" for a, b in zip(iy, ix)],
        "village": villages["id"].astype(str).to_numpy()[nearest],
        "persons": persons, "elderly": elderly,
        "children": np.zeros_like(persons), "disabled": np.zeros_like(persons),
    }, geometry=gpd.points_from_xy(xs, ys), crs=villages.crs)


# ----------------------------------------------------------------------------- quick exposure
def quick_exposure(forecast: xr.Dataset, villages: gpd.GeoDataFrame, source: str = "forecast.nc") -> pd.DataFrame:
    """Villages whose control section's forecast stage reaches ``flood_level_m`` (成灾水位), and when.

    The first emergency answer, before any 2-D run: for each village tied to a section it gives the
    forecast peak stage and its time, the first time the stage reaches the flood level (linear between
    forecast steps; empty if it does not) and the margin (peak minus flood level, m). Villages with no control section are listed
    as not assessed.
    """
    if "stage" not in forecast:
        raise InputError(source, "variable `stage` is missing", "rerun the forecast stage")
    stage = forecast["stage"].transpose("time", "section")
    sections = [str(s) for s in stage["section"].values]
    times = pd.to_datetime(stage["time"].values)
    vals = stage.values.astype(float)
    rows = []
    for _, v in villages.iterrows():
        sec = v.get("control_section")
        sec = "" if sec is None or (isinstance(sec, float) and np.isnan(sec)) else str(sec)
        level = float(v.get("flood_level_m", np.nan))
        row = {"village": str(v["id"]), "name": v.get("name", ""), "town": v.get("town", ""),
               "control_section": sec, "flood_level_m": level, "population": v.get("population", np.nan),
               "households": v.get("households", np.nan), "responsible": v.get("responsible", ""),
               "responsible_phone": v.get("phone", ""), "peak_stage_m": np.nan, "peak_time": pd.NaT,
               "reaches_flood_level_at": pd.NaT, "margin_m": np.nan, "affected": False,
               "assessed": False}
        if sec in sections and np.isfinite(level):
            s = vals[:, sections.index(sec)]
            if np.isfinite(s).any():
                k = int(np.nanargmax(s))
                hit = np.flatnonzero(s >= level)
                at = pd.NaT
                if len(hit):  # linear in time between the forecast steps around the crossing
                    j = int(hit[0])
                    at = times[j]
                    if j > 0 and s[j] > s[j - 1]:
                        f = (level - s[j - 1]) / (s[j] - s[j - 1])
                        at = (times[j - 1] + f * (times[j] - times[j - 1])).round("min")
                row.update(peak_stage_m=round(float(s[k]), 3), peak_time=times[k],
                           margin_m=round(float(s[k]) - level, 3), assessed=True, affected=bool(len(hit)),
                           reaches_flood_level_at=at)
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.sort_values(["affected", "reaches_flood_level_at"], ascending=[False, True],
                           na_position="last").reset_index(drop=True)
