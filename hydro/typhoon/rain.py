"""Typhoon rainfall scenario from a track: hourly gridded rain and station series (R-CLIPER).

The rate profile and its citation are in :mod:`hydro.typhoon.core_rain` (Tuleya et al. 2007).
Hourly amounts are the trapezoidal mean of the rate over each hour, sampled every 10 minutes,
labelled with the hour's start time (naive local Beijing time). The grid product follows
"Gridded rainfall files" in CONTRIBUTING.md: variable ``rain_mm_per_h`` (time, y, x) in the case
CRS with a CF ``spatial_ref`` grid mapping, which the forecast stage reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS, Transformer

from . import core_rain
from .tracks import interpolate_track

SUBSTEPS_PER_HOUR = 6
RAIN_CUT_KM = 800.0  # beyond this R-CLIPER rain is < 0.1 mm/h for any intensity


def _hourly_rates(track: pd.DataFrame, lat: np.ndarray, lon: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray]:
    fine = interpolate_track(track, step_min=60.0 / SUBSTEPS_PER_HOUR)
    if fine["time"].iloc[0].minute != 0:  # start the hours at a whole hour
        fine = fine[fine["time"] >= fine["time"].iloc[0].ceil("h")].reset_index(drop=True)
    rate = core_rain.rain_at_points(fine["lat"].to_numpy(), fine["lon"].to_numpy(),
                                    fine["vmax_m_per_s"].to_numpy(), np.ascontiguousarray(lat, dtype=np.float64),
                                    np.ascontiguousarray(lon, dtype=np.float64), RAIN_CUT_KM)
    n_hours = (len(fine) - 1) // SUBSTEPS_PER_HOUR
    k = SUBSTEPS_PER_HOUR
    hourly = np.empty((n_hours, rate.shape[1]), dtype=np.float32)
    for h in range(n_hours):
        seg = rate[h * k:(h + 1) * k + 1].astype(np.float64)
        hourly[h] = (seg[1:-1].sum(axis=0) + 0.5 * (seg[0] + seg[-1])) / k
    times = pd.DatetimeIndex(fine["time"].iloc[0:n_hours * k:k].to_numpy())
    return times, hourly


def rain_at_stations(track: pd.DataFrame, lat, lon, names) -> pd.DataFrame:
    """Hourly rain (mm per hour) at stations: DataFrame indexed by hour start, one column per name."""
    times, hourly = _hourly_rates(track, np.asarray(lat, float), np.asarray(lon, float))
    return pd.DataFrame(hourly, index=pd.DatetimeIndex(times, name="time"), columns=list(names))


def rain_grid(track: pd.DataFrame, crs, bounds: tuple[float, float, float, float], res_m: float = 1000.0,
              issue_time: pd.Timestamp | None = None) -> xr.Dataset:
    """Hourly R-CLIPER rain on a regular grid in a projected CRS.

    Parameters
    ----------
    track : a track table
    crs : the grid's CRS (the case CRS, e.g. EPSG:4549)
    bounds : (xmin, ymin, xmax, ymax) in that CRS; the grid covers them with cells of ``res_m``
    issue_time : written as attr ``issue_time`` (forecast tracks)
    """
    crs = CRS.from_user_input(crs)
    xmin, ymin, xmax, ymax = bounds
    nx = max(int(np.ceil((xmax - xmin) / res_m)), 1)
    ny = max(int(np.ceil((ymax - ymin) / res_m)), 1)
    x = xmin + (np.arange(nx) + 0.5) * res_m
    y = ymax - (np.arange(ny) + 0.5) * res_m
    gx, gy = np.meshgrid(x, y)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(gx.ravel(), gy.ravel())
    times, hourly = _hourly_rates(track, np.asarray(lat), np.asarray(lon))
    da = xr.DataArray(hourly.reshape(len(times), ny, nx), dims=("time", "y", "x"),
                      coords={"time": times.to_numpy(), "y": y, "x": x}, name="rain_mm_per_h",
                      attrs={"units": "mm h-1", "long_name": "typhoon rain in the hour starting at time"})
    ds = da.to_dataset()
    ds = ds.rio.write_crs(crs)
    ds.attrs.update({
        "title": "typhoon rain scenario",
        "model": "R-CLIPER symmetric rain-rate profile (Tuleya, DeMaria & Kuligowski 2007, Wea. Forecasting 22, 56-70)",
        "track": str(track.attrs.get("source", "")), "storm": str(track.attrs.get("name", "")),
        "time_zone": "Asia/Shanghai (naive local time, hour start)",
    })
    if issue_time is not None:
        ds.attrs["issue_time"] = pd.Timestamp(issue_time).isoformat()
    return ds
