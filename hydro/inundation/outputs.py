"""Products of a 2-D run: the xarray Dataset, NetCDF (CF-1.8, CRS, compression), flood-extent
polygons (GeoPackage), the water-balance table and the run summary. Every file is written
atomically (``gis.atomic``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gis.atomic import atomic_path, gpkg_metadata, write_text

from .simulation import BALANCE_COLUMNS, Simulation

ATTRS = {
    "depth_m": ("water depth", "m"),
    "max_depth_m": ("maximum water depth", "m"),
    "max_speed_m_per_s": ("maximum flow speed", "m s-1"),
    "max_depth_velocity_m2_per_s": ("maximum depth times speed (hazard)", "m2 s-1"),
    "arrival_time_s": ("first time the depth reaches the flood threshold", "s"),
    "duration_s": ("time the depth stays at or above the flood threshold", "s"),
    "time_of_max_depth_s": ("time of the maximum depth", "s"),
}


def sixth_root(a: np.ndarray) -> np.ndarray:
    """The speed maxima from the solver's accumulators, which keep sixth powers (see
    :func:`hydro.inundation.physics.cell_outputs`)."""
    return np.sqrt(np.cbrt(a))


def to_dataset(sim: Simulation, transform=None, crs=None, start_time: str | pd.Timestamp | None = None) -> xr.Dataset:
    """The run's results as a Dataset with dims ``time``, ``y``, ``x`` (see CONTRIBUTING.md).

    Parameters
    ----------
    sim : Simulation
        A finished (or partly run) simulation.
    transform : affine.Affine, optional
        Grid georeference (north-up); default: cell centres at ``(j + 0.5) dx``, ``-(i + 0.5) dy``.
    crs : anything pyproj accepts, optional
    start_time : str or Timestamp, optional
        Naive local time of t = 0 (default 2000-01-01 00:00); stored as the ``start_time`` attr.
    """
    s = sim.state
    ny, nx = sim.valid.shape
    if transform is None:
        from affine import Affine

        transform = Affine(sim.dx, 0.0, 0.0, 0.0, -sim.dy, 0.0)
    x = transform.c + (np.arange(nx) + 0.5) * transform.a
    y = transform.f + (np.arange(ny) + 0.5) * transform.e
    t0 = pd.Timestamp(start_time) if start_time is not None else pd.Timestamp("2000-01-01")
    outside = ~sim.valid
    thr = sim.options.h_arrival

    def grid(a, fill=np.nan, dry_nan=False):
        g = s.interior(a).astype(np.float32).copy()
        g[outside] = np.nan
        return g

    max_h = grid(s.max_h)
    t_max = grid(s.t_max)
    t_max[~(max_h > sim.options.hmin)] = np.nan
    data = {
        "max_depth_m": max_h,
        "max_speed_m_per_s": sixth_root(grid(s.max_speed)),  # the state keeps 6th powers (physics.cell_outputs)
        "max_depth_velocity_m2_per_s": sixth_root(grid(s.max_hv)),
        "arrival_time_s": grid(s.arrival),
        "duration_s": grid(s.duration),
        "time_of_max_depth_s": t_max,
    }
    ds = xr.Dataset({k: (("y", "x"), v) for k, v in data.items()}, coords={"y": y, "x": x})
    if sim.snapshots:
        times = np.array([t for t, _ in sim.snapshots])
        stack = np.stack([a for _, a in sim.snapshots]).astype(np.float32)
        stack[:, outside] = np.nan
        ds["depth_m"] = (("time", "y", "x"), stack)
        ds = ds.assign_coords(time=t0 + pd.to_timedelta(times, unit="s"), time_s=("time", times))
        ds["time_s"].attrs.update(units="s", long_name="seconds since start_time")
    for k, (long_name, units) in ATTRS.items():
        if k in ds:
            ds[k].attrs.update(long_name=long_name, units=units)
    ds["arrival_time_s"].attrs["threshold_m"] = thr
    ds["duration_s"].attrs["threshold_m"] = thr
    ds["x"].attrs.update(standard_name="projection_x_coordinate", units="m", axis="X")
    ds["y"].attrs.update(standard_name="projection_y_coordinate", units="m", axis="Y")
    ds.attrs.update(
        Conventions="CF-1.8",
        title="floodkit 2-D inundation (local-inertial scheme)",
        references="Bates et al. 2010, J. Hydrol. 387:33-45; de Almeida et al. 2012, WRR 48:W05528",
        start_time=t0.isoformat(),
        flood_threshold_m=thr,
        boundary=sim.boundary,
        dtype=sim.options.dtype,
        stats_interval_s=sim.options.stats_interval,
        stats_note="max depth/speed, arrival, duration and time of max are sampled every stats_interval_s "
                   "simulated seconds and at every output time (0: every time step)",
    )
    if crs is not None:
        ds = ds.rio.write_crs(crs).rio.write_transform(transform)
        for k in ds.data_vars:
            ds[k].attrs["grid_mapping"] = "spatial_ref"
    return ds


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write with zlib compression (level 4) and float32 variables."""
    enc = {k: {"zlib": True, "complevel": 4} for k, v in ds.data_vars.items() if v.ndim >= 2}
    for k in enc:
        if "depth_m" == k:
            enc[k]["chunksizes"] = (1, *ds[k].shape[1:])
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
    return Path(path)


def extent_polygons(ds: xr.Dataset, threshold_m: float = 0.1):
    """Flood-extent polygons where ``max_depth_m >= threshold_m`` (GeoDataFrame with area)."""
    import geopandas as gpd
    import rasterio.features
    from shapely.geometry import shape

    mask = (ds["max_depth_m"].fillna(0).values >= threshold_m).astype(np.uint8)
    transform = ds.rio.transform() if ds.rio.crs is not None else None
    if transform is None:
        from affine import Affine

        x, y = ds["x"].values, ds["y"].values
        dx = float(x[1] - x[0]) if len(x) > 1 else 1.0
        dy = float(y[1] - y[0]) if len(y) > 1 else -1.0
        transform = Affine(dx, 0, x[0] - dx / 2, 0, dy, y[0] - dy / 2)
    geoms = [shape(g) for g, v in rasterio.features.shapes(mask, mask=mask.astype(bool), transform=transform)
             if v == 1]
    gdf = gpd.GeoDataFrame({"threshold_m": [threshold_m] * len(geoms)}, geometry=geoms, crs=ds.rio.crs)
    gdf["area_m2"] = gdf.geometry.area
    return gdf


def write_extent(ds: xr.Dataset, path: str | Path, threshold_m: float = 0.1) -> Path:
    gdf = extent_polygons(ds, threshold_m)
    with atomic_path(path) as tmp:
        named = tmp.with_name(tmp.name + ".gpkg")  # GDAL wants the .gpkg extension
        gdf.to_file(named, driver="GPKG", layer="extent", engine="pyogrio", **gpkg_metadata())
        named.replace(tmp)
    return Path(path)


def water_balance(sim: Simulation) -> pd.DataFrame:
    """Cumulative volumes (m3) at each output time: rain, inflow, stage boundary, outflow, storage, error."""
    return pd.DataFrame(sim.balance_rows, columns=list(BALANCE_COLUMNS))


def product_dataset(sim: Simulation, transform=None, crs=None, start_time=None,
                    extra_summary: dict | None = None) -> xr.Dataset:
    """:func:`to_dataset` plus the run summary (JSON attr ``summary_json``) and the water balance
    (``balance_*`` variables, m3, on ``balance_time``, seconds): the whole in-memory product."""
    ds = to_dataset(sim, transform, crs, start_time)
    summary = sim.summary()
    mx = ds["max_depth_m"].values
    summary["flooded_cells"] = int(np.nansum(mx >= sim.options.h_arrival))
    summary["flooded_area_km2"] = summary["flooded_cells"] * sim.area / 1e6
    summary["max_depth_m"] = float(np.nanmax(mx)) if np.isfinite(mx).any() else 0.0
    summary.update(extra_summary or {})
    ds.attrs["summary_json"] = json.dumps(summary, ensure_ascii=False)
    for k in ("flooded_area_km2", "max_depth_m", "volume_error_relative"):
        if summary.get(k) is not None:
            ds.attrs[k] = float(summary[k])
    wb = water_balance(sim)
    ds = ds.assign_coords(balance_time=("balance_time", wb["time_s"].to_numpy(float)))
    for c in wb.columns[1:]:
        ds[f"balance_{c}"] = ("balance_time", wb[c].to_numpy(float), {"units": "m3", "long_name": f"cumulative {c}"})
    return ds


def balance_table(ds: xr.Dataset) -> pd.DataFrame:
    """The water-balance table back from a product Dataset (see :func:`product_dataset`)."""
    cols = [c for c in BALANCE_COLUMNS[1:] if f"balance_{c}" in ds]
    data = {"time_s": ds["balance_time"].values} if "balance_time" in ds.coords else {}
    data.update({c: ds[f"balance_{c}"].values for c in cols})
    return pd.DataFrame(data)


def write_dataset_products(ds: xr.Dataset, out_dir: str | Path, summary_json: str | Path | None = None) -> None:
    """Write ``inundation.nc``, ``extent.gpkg``, ``water_balance.csv`` and ``summary.json`` of a product Dataset."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_netcdf(ds, out / "inundation.nc")
    write_extent(ds, out / "extent.gpkg", float(ds["arrival_time_s"].attrs.get("threshold_m", 0.1)))
    write_text(out / "water_balance.csv", balance_table(ds).to_csv(index=False, float_format="%.6g"))
    text = json.dumps(json.loads(ds.attrs.get("summary_json", "{}")), ensure_ascii=False, indent=2)
    write_text(out / "summary.json", text)
    if summary_json is not None:
        write_text(summary_json, text)


def write_products(sim: Simulation, out_dir: str | Path, transform=None, crs=None, start_time=None,
                   summary_json: str | Path | None = None, extra_summary: dict | None = None) -> xr.Dataset:
    """Write ``inundation.nc``, ``extent.gpkg``, ``water_balance.csv`` and ``summary.json`` into ``out_dir``."""
    ds = product_dataset(sim, transform, crs, start_time, extra_summary)
    write_dataset_products(ds, out_dir, summary_json)
    return ds
