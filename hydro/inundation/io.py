"""Reading the inputs of a 2-D run: rasters, rain files and boundary-condition files.

Every mistake a user can make raises :class:`gis.errors.InputError` naming the file, the field and
the fix. Formats (also in README.md, section "2-D inundation"):

- **Rasters** (DEM, Manning n, initial depth): GeoTIFF (anything rasterio reads). Manning and
  depth rasters must match the DEM in shape, transform and CRS.
- **Rain** (``--rain``): a CSV with ``time_s`` (seconds from the start) or ``time`` (local
  timestamps; the first row is the start) and ``rain_mm_per_h``, uniform over the grid; or a NetCDF
  with ``rain_mm_per_h`` (or ``precipitation``) on dims ``(time, y, x)`` on the DEM grid. Each row
  holds from its time until the next row (the last one for one more interval).
- **Inflow** (``--inflow``) and **stage** (``--stage``) CSV, one row per location and time::

      name,x,y,x2,y2,time_s,discharge_m3_per_s      (stage files: stage_m instead)
      一都,503210,3345170,,,0,12.5
      一都,503210,3345170,,,3600,180

  ``x,y`` in the DEM's CRS is a point; with ``x2,y2`` the location is the line from ``(x, y)`` to
  ``(x2, y2)`` and the discharge is shared between its cells (a stage is imposed on each).
  ``time`` (local timestamps) may replace ``time_s``. Values are linear in time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gis.errors import InputError

from .forcing import Hydrograph, Rain


def read_raster(path: str | Path, what: str) -> xr.DataArray:
    """Read band 1 of a raster as float64 with nodata as NaN."""
    import rioxarray  # noqa: F401 - registers .rio

    path = Path(path)
    if not path.exists():
        raise InputError(path, f"{what} raster not found", "check the path")
    try:
        da = xr.open_dataarray(path, engine="rasterio", mask_and_scale=True) if path.suffix.lower() in (
            ".tif", ".tiff", ".vrt", ".asc", ".img") else None
        if da is None:
            import rioxarray as rxr

            da = rxr.open_rasterio(path, masked=True)
        da = da.squeeze("band", drop=True) if "band" in da.dims else da
        da = da.astype("float64").load()
    except Exception as exc:  # rasterio raises many kinds
        raise InputError(path, f"cannot read the {what} raster ({type(exc).__name__}: {str(exc)[:120]})",
                         "give a GeoTIFF") from exc
    if da.ndim != 2:
        raise InputError(path, f"{what} raster has dims {da.dims}", "give a single-band raster")
    return da


def check_same_grid(dem: xr.DataArray, other: xr.DataArray, source: str | Path, what: str) -> None:
    """Raise unless ``other`` has the DEM's shape, transform and CRS."""
    if other.shape != dem.shape:
        raise InputError(source, f"{what} grid is {other.shape[0]}x{other.shape[1]} cells but the DEM is "
                         f"{dem.shape[0]}x{dem.shape[1]}", "resample it onto the DEM grid")
    ta, tb = dem.rio.transform(), other.rio.transform()
    if not np.allclose(tuple(ta)[:6], tuple(tb)[:6], rtol=0, atol=1e-6 * max(abs(ta.a), 1.0)):
        raise InputError(source, f"{what} transform {tuple(tb)[:6]} differs from the DEM's {tuple(ta)[:6]}",
                         "resample it onto the DEM grid")
    ca, cb = dem.rio.crs, other.rio.crs
    if (ca is None) != (cb is None) or (ca is not None and ca != cb):
        raise InputError(source, f"{what} CRS {cb} differs from the DEM's {ca}", "reproject it to the DEM's CRS")


def value_or_raster(arg: str, dem: xr.DataArray, what: str) -> float | np.ndarray:
    """A number, or a raster on the DEM grid."""
    try:
        return float(arg)
    except ValueError:
        pass
    da = read_raster(arg, what)
    check_same_grid(dem, da, arg, what)
    return da.values


def _times(df: pd.DataFrame, source: Path, start: pd.Timestamp | None) -> np.ndarray:
    if "time_s" in df:
        t = pd.to_numeric(df["time_s"], errors="coerce").to_numpy(float)
    elif "time" in df:
        ts = pd.to_datetime(df["time"], errors="coerce")
        if ts.isna().any():
            raise InputError(source, f"column `time` has an unreadable timestamp in row {int(ts.isna().argmax()) + 2}",
                             "use YYYY-MM-DD HH:MM")
        t = ((ts - (start if start is not None else ts.min())).dt.total_seconds()).to_numpy(float)
    else:
        raise InputError(source, "no `time_s` or `time` column", "add seconds from the start or local timestamps")
    if np.isnan(t).any():
        raise InputError(source, f"column `time_s` is not a number in row {int(np.isnan(t).argmax()) + 2}",
                         "give seconds from the start")
    return t


def read_rain(path: str | Path, dem: xr.DataArray, runoff_coefficient: float = 1.0, loss_mm_per_h: float = 0.0,
              start: pd.Timestamp | None = None) -> Rain:
    """Uniform rain from CSV or gridded rain from NetCDF (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "rain file not found", "check the path")
    if path.suffix.lower() == ".csv":
        df = pd.read_csv(path)
        if "rain_mm_per_h" not in df:
            raise InputError(path, "no `rain_mm_per_h` column", "add the rain rate in mm per hour")
        t = _times(df, path, start)
        r = pd.to_numeric(df["rain_mm_per_h"], errors="coerce").to_numpy(float)
    elif path.suffix.lower() in (".nc", ".nc4", ".netcdf"):
        try:
            ds = xr.open_dataset(path, decode_coords="all")
        except Exception as exc:
            raise InputError(path, f"cannot read the rain NetCDF ({type(exc).__name__})", "give a NetCDF file") from exc
        var = next((v for v in ("rain_mm_per_h", "precipitation") if v in ds), None)
        if var is None:
            raise InputError(path, "no `rain_mm_per_h` or `precipitation` variable", "name the rain variable so")
        da = ds[var].transpose("time", "y", "x") if {"time", "y", "x"} <= set(ds[var].dims) else None
        if da is None:
            raise InputError(path, f"`{var}` has dims {ds[var].dims}", "give dims (time, y, x) on the DEM grid")
        check_same_grid(dem, da.isel(time=0), path, "rain")
        tt = pd.to_datetime(da["time"].values)
        t = np.asarray((tt - (start if start is not None else tt.min())).total_seconds(), float)
        r = da.values.astype(np.float32)
    else:
        raise InputError(path, f"unknown rain file type '{path.suffix}'", "give a .csv series or a .nc grid")
    if len(t) == 0 or np.any(np.diff(t) <= 0):
        raise InputError(path, "times are empty or not strictly increasing", "sort the rows by time")
    if not np.all(np.nan_to_num(r, nan=-1.0) >= 0):
        raise InputError(path, "rain rate is negative or missing", "rain_mm_per_h must be >= 0")
    return Rain(t, r, runoff_coefficient=runoff_coefficient, loss_mm_per_h=loss_mm_per_h)


def location_cells(dem: xr.DataArray, x: float, y: float, x2: float | None = None, y2: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Grid cells (rows, cols) of a point, or of the cells a segment passes through."""
    inv = ~dem.rio.transform()
    if x2 is None or y2 is None or not (np.isfinite(x2) and np.isfinite(y2)):
        pts = [(x, y)]
    else:
        res = abs(dem.rio.transform().a)
        k = max(int(np.hypot(x2 - x, y2 - y) / (0.5 * res)), 1)
        pts = [(x + (x2 - x) * f, y + (y2 - y) * f) for f in np.linspace(0, 1, k + 1)]
    cells = []
    for px, py in pts:
        c, r = inv @ (px, py)
        cells.append((int(np.floor(r)), int(np.floor(c))))
    rc = np.array(sorted(set(cells)), dtype=np.int64)
    return rc[:, 0], rc[:, 1]


def read_hydrographs(path: str | Path, dem: xr.DataArray, kind: str, start: pd.Timestamp | None = None
                     ) -> list[Hydrograph]:
    """Inflow (``kind='inflow'``, m3/s) or stage (``kind='stage'``, m) hydrographs from a CSV file."""
    path = Path(path)
    col = "discharge_m3_per_s" if kind == "inflow" else "stage_m"
    if not path.exists():
        raise InputError(path, f"{kind} file not found", "check the path")
    try:
        df = pd.read_csv(path)
    except Exception as exc:
        raise InputError(path, f"cannot read the {kind} CSV ({type(exc).__name__})", "give a CSV file") from exc
    missing = [c for c in ("name", "x", "y", col) if c not in df]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join('`' + m + '`' for m in missing)}",
                         f"columns are name,x,y[,x2,y2],time_s|time,{col}")
    t_all = _times(df, path, start)
    df = df.assign(_t=t_all)
    out = []
    ny, nx = dem.shape
    valid = np.isfinite(dem.values)
    for name, g in df.groupby("name", sort=False):
        g = g.sort_values("_t")
        x, y = float(g["x"].iloc[0]), float(g["y"].iloc[0])
        x2 = float(g["x2"].iloc[0]) if "x2" in g and pd.notna(g["x2"].iloc[0]) else None
        y2 = float(g["y2"].iloc[0]) if "y2" in g and pd.notna(g["y2"].iloc[0]) else None
        rows, cols = location_cells(dem, x, y, x2, y2)
        inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
        ok = inside.copy()
        ok[inside] = valid[rows[inside], cols[inside]]
        if not ok.all():
            raise InputError(path, f"{kind} location '{name}' at ({x:.1f}, {y:.1f}) is outside the domain "
                             "(off the DEM or on nodata)", "move it onto the DEM's valid cells")
        v = pd.to_numeric(g[col], errors="coerce").to_numpy(float)
        if np.isnan(v).any():
            raise InputError(path, f"`{col}` of '{name}' is not a number", "fill every row")
        if kind == "inflow" and (v < 0).any():
            raise InputError(path, f"`{col}` of '{name}' is negative", "inflows must be >= 0")
        out.append(Hydrograph(str(name), rows, cols, g["_t"].to_numpy(float), v))
    return out
