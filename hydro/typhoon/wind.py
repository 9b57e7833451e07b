"""Typhoon wind field: the user-facing layer over :mod:`hydro.typhoon.core_wind`.

Evaluate the parametric field (Holland 1980 profile, Holland 2008 B, Willoughby et al. 2006
Rmax, Lin & Chavas 2012 asymmetry, Kr gradient-to-10 m; see ``core_wind``) at points, on
grids (maximum-wind swath) and as wind-circle radii.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from . import core_wind as cw
from .tracks import level_of

# Thresholds of the wind circles (GB/T 28591-2012 lower bounds of levels 7, 10, 12).
CIRCLE_THRESHOLDS_M_PER_S = {7: 13.9, 10: 24.5, 12: 32.7}
QUADRANTS = ("NE", "SE", "SW", "NW")


@dataclass(frozen=True)
class WindParams:
    """Tunable constants of the wind model (defaults as cited in ``core_wind``)."""

    kr: float = 0.8  # 10 m / gradient-level wind ratio (Franklin et al. 2003)
    background_ratio: float = 0.55  # Lin & Chavas (2012)
    background_turn_deg: float = 20.0  # Lin & Chavas (2012), cyclonic
    ambient_pressure_hpa: float = 1010.0
    r_cut_km: float = 1000.0  # beyond this the storm adds no wind


DEFAULT_PARAMS = WindParams()


def storm_arrays(track: pd.DataFrame, params: WindParams = DEFAULT_PARAMS) -> dict[str, np.ndarray]:
    """Per-time storm parameters for the kernels from an interpolated track.

    ``track`` must come from :func:`hydro.typhoon.tracks.interpolate_track` (it needs the
    translation velocity). Missing ``rmax_km`` values come from Willoughby et al. (2006).
    """
    lat = track["lat"].to_numpy(dtype=np.float64)
    vmax = track["vmax_m_per_s"].to_numpy(dtype=np.float64)
    u = track["vt_u_m_per_s"].to_numpy(dtype=np.float64)
    v = track["vt_v_m_per_s"].to_numpy(dtype=np.float64)
    vt = np.hypot(u, v)
    dp = params.ambient_pressure_hpa - track["pressure_hpa"].to_numpy(dtype=np.float64)
    dpdt = track["dpdt_hpa_per_h"].to_numpy(dtype=np.float64)
    rmax = track["rmax_km"].to_numpy(dtype=np.float64).copy()
    b = np.empty_like(lat)
    for i in range(lat.size):
        if not np.isfinite(rmax[i]) or rmax[i] <= 0:
            rmax[i] = cw.rmax_willoughby_2006(vmax[i], lat[i])
        b[i] = cw.holland_b_2008(dp[i], dpdt[i], lat[i], vt[i])
    hemi = np.where(lat >= 0, 1.0, -1.0)
    turn = np.deg2rad(params.background_turn_deg) * hemi
    bg_u = params.background_ratio * (u * np.cos(turn) - v * np.sin(turn))
    bg_v = params.background_ratio * (u * np.sin(turn) + v * np.cos(turn))
    vrel = np.maximum(vmax - params.background_ratio * vt, 0.0)
    return {"clat": lat, "clon": track["lon"].to_numpy(dtype=np.float64), "vg_max": vrel / params.kr,
            "rmax_km": rmax, "b": b, "bg_u": bg_u, "bg_v": bg_v}


def wind_at_points(track: pd.DataFrame, lat, lon, names=None, params: WindParams = DEFAULT_PARAMS) -> xr.Dataset:
    """Wind time series at points: Dataset with ``wind_m_per_s``, ``wind_from_deg``, ``level`` (time, point)."""
    s = storm_arrays(track, params)
    plat = np.ascontiguousarray(lat, dtype=np.float64)
    plon = np.ascontiguousarray(lon, dtype=np.float64)
    speed, dirn = cw.wind_at_points(s["clat"], s["clon"], s["vg_max"], s["rmax_km"], s["b"], params.kr,
                                    s["bg_u"], s["bg_v"], plat, plon, params.r_cut_km)
    names = list(names) if names is not None else list(range(plat.size))
    ds = xr.Dataset(
        {"wind_m_per_s": (("time", "point"), speed, {"units": "m s-1", "long_name": "10 m sustained wind"}),
         "wind_from_deg": (("time", "point"), dirn, {"units": "degree", "long_name": "direction the wind blows from"}),
         "level": (("time", "point"), level_of(speed).reshape(speed.shape).astype(np.int8),
                   {"long_name": "wind-force level, GB/T 28591-2012"})},
        coords={"time": track["time"].to_numpy(), "point": names, "lat": ("point", plat), "lon": ("point", plon)},
    )
    return ds


def wind_swath(track: pd.DataFrame, lat1d, lon1d, params: WindParams = DEFAULT_PARAMS) -> xr.Dataset:
    """Maximum 10 m wind over the whole track on a regular lat/lon grid (WGS84).

    Returns a Dataset with ``max_wind_m_per_s`` (lat, lon), ``max_level`` and ``time_of_max``.
    """
    s = storm_arrays(track, params)
    lat1d = np.asarray(lat1d, dtype=np.float64)
    lon1d = np.asarray(lon1d, dtype=np.float64)
    glon, glat = np.meshgrid(lon1d, lat1d)
    vmax, tidx = cw.wind_swath(s["clat"], s["clon"], s["vg_max"], s["rmax_km"], s["b"], params.kr,
                               s["bg_u"], s["bg_v"], glat.ravel(), glon.ravel(), params.r_cut_km)
    times = track["time"].to_numpy()
    tmax = np.where(tidx >= 0, times[np.clip(tidx, 0, None)], np.datetime64("NaT"))
    shape = glat.shape
    return xr.Dataset(
        {"max_wind_m_per_s": (("lat", "lon"), vmax.reshape(shape), {"units": "m s-1", "long_name": "maximum 10 m sustained wind"}),
         "max_level": (("lat", "lon"), level_of(vmax).reshape(shape).astype(np.int8), {"long_name": "wind-force level of the maximum"}),
         "time_of_max": (("lat", "lon"), tmax.reshape(shape), {"long_name": "time of the maximum (local Beijing time)"})},
        coords={"lat": ("lat", lat1d, {"units": "degrees_north"}), "lon": ("lon", lon1d, {"units": "degrees_east"})},
    )


def circle_radii(track: pd.DataFrame, params: WindParams = DEFAULT_PARAMS, n_bearings: int = 36,
                 dr_km: float = 1.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Radii of the 7-, 10- and 12-level wind circles for every track time.

    Returns a table (time, lat, lon, vmax, grade, ``r7_NE_km`` ... ``r12_NW_km``: the largest radius
    in each quadrant, the way CMA reports them) and the full array (time, level, bearing) of
    radii along ``n_bearings`` bearings clockwise from north, for drawing circle polygons.
    """
    s = storm_arrays(track, params)
    thr = np.array(list(CIRCLE_THRESHOLDS_M_PER_S.values()), dtype=np.float64)
    radii = cw.circle_radii(s["clat"], s["vg_max"], s["rmax_km"], s["b"], params.kr, s["bg_u"], s["bg_v"],
                            thr, n_bearings, dr_km, params.r_cut_km)
    table = track[["time", "lat", "lon", "pressure_hpa", "vmax_m_per_s", "grade", "level"]].copy()
    table["rmax_km"] = s["rmax_km"]
    table["holland_b"] = s["b"]
    per_q = n_bearings // 4
    for m, lvl in enumerate(CIRCLE_THRESHOLDS_M_PER_S):
        for q, name in enumerate(QUADRANTS):
            # quadrant q spans bearings [90 q, 90 (q+1)] degrees, both edges included
            idx = [(q * per_q + k) % n_bearings for k in range(per_q + 1)]
            table[f"r{lvl}_{name}_km"] = radii[:, m, idx].max(axis=1)
    return table, radii


def circle_polygon_lonlat(clat: float, clon: float, radii_km: np.ndarray) -> list[tuple[float, float]]:
    """Vertices (lon, lat) of a wind-circle polygon from radii along equally spaced bearings."""
    n = radii_km.size
    pts = []
    for k in range(n):
        az = math.radians(360.0 * k / n)
        dy = radii_km[k] * math.cos(az)
        dx = radii_km[k] * math.sin(az)
        lat = clat + dy / cw.KM_PER_DEG
        lon = clon + dx / (cw.KM_PER_DEG * math.cos(math.radians(0.5 * (lat + clat))))
        pts.append((lon, lat))
    pts.append(pts[0])
    return pts
