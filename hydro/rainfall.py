"""Rainfall inputs for the forecast: gauge series -> sub-basin areal rain, gridded rain -> sub-basin
means, nowcasts/forecasts appended after the observed period, and Chicago design storms.

All series are pandas DataFrames at one regular step of 5 to 60 minutes (naive local time index,
intensities in mm per hour whatever the step) with one column per gauge or per sub-basin; gauge CSV
files hold the depth of each step (mm), which for hourly files is the same number. Every reader validates: no NaN, no negative rain, no gaps in time, and
full coverage of every sub-basin; problems raise :class:`gis.errors.InputError` naming the file.

Methods
-------
- Thiessen, A. H. (1911). Precipitation averages for large areas. Monthly Weather Review 39(7),
  1082-1084: gauge weights = area fraction of each sub-basin nearest to each gauge.
- Inverse distance weighting (Shepard 1968, Proc. 23rd ACM national conference, 517-524): gauge
  weights = mean over points filling the sub-basin of d^-p / sum d^-p.
- Gridded rain: each cell contributes by the area of its overlap with the sub-basin polygon.
- Keifer, C. J. & Chu, H. H. (1957). Synthetic storm pattern for drainage design. J. Hydraul. Div.
  ASCE 83(HY4), 1-25 (the Chicago hyetograph) from i = a / (t + b)^n (mm/min, t in min).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import InputError

COVERAGE_TOLERANCE = 0.99  # fraction of a sub-basin the rain must cover


# ----------------------------------------------------------------------------- validation
MIN_STEP_MIN, MAX_STEP_MIN = 5.0, 60.0


def check_step_h(step_h: float, source: str = "step") -> float:
    """A forecast step in hours, checked: 5 to 60 minutes, dividing the hour (5, 6, 10, 12, 15, 20, 30, 60)."""
    m = float(step_h) * 60.0
    if not (MIN_STEP_MIN - 1e-9 <= m <= MAX_STEP_MIN + 1e-9) or abs(60.0 / m - round(60.0 / m)) > 1e-6:
        raise InputError(source, f"time step of {m:g} minutes",
                         "use a step of 5 to 60 minutes that divides the hour (5, 10, 15, 20, 30 or 60)")
    return float(step_h)


def parse_step(text: str | float | None) -> float | None:
    """``--step`` as minutes: ``15``, ``15min``, ``1h`` or ``None``."""
    if text is None or text == "":
        return None
    t = str(text).strip().lower()
    try:
        if t.endswith(("min", "m")):
            m = float(t.rstrip("min"))
        elif t.endswith("h"):
            m = 60.0 * float(t[:-1])
        else:
            m = float(t)
    except ValueError:
        raise InputError("--step", f"'{text}' is not a time step", "give minutes, e.g. 15 or 15min, or 1h") from None
    check_step_h(m / 60.0, "--step")
    return m


def step_minutes(df: pd.DataFrame) -> float:
    """The regular step of a rain table in minutes (60 for a single row)."""
    if len(df.index) < 2:
        return float(df.attrs.get("step_minutes", 60.0))
    return float((df.index[1] - df.index[0]) / pd.Timedelta(minutes=1))


def validate_series(df: pd.DataFrame, source: str, step_s: float | None = None) -> pd.DataFrame:
    """Check a rain table: increasing index at one regular step of 5-60 minutes (``step_s`` when given)
    with no gaps, finite rain >= 0 (mm/h)."""
    if not isinstance(df.index, pd.DatetimeIndex) or len(df.index) == 0:
        raise InputError(source, "no `time` index", "add a `time` column, YYYY-MM-DD HH:MM")
    step = np.diff(df.index.values).astype("timedelta64[s]").astype(np.int64)
    if np.any(step <= 0):
        i = int(np.nonzero(step <= 0)[0][0]) + 1
        raise InputError(source, f"time {df.index[i]} does not increase", "sort the rows by time; remove duplicates")
    want = step_s if step_s is not None else (int(step.min()) if step.size else 3600)
    if want > 3600 or np.any(step > want):
        i = int(np.nonzero(step > min(want, 3600))[0][0])
        raise InputError(source, f"gap in the time series after {df.index[i]} (next row {df.index[i + 1]})",
                         f"give one row every {min(want, 3600) / 60:g} minutes with no gaps (write 0 for dry steps)")
    if np.any(step != want):
        i = int(np.nonzero(step != want)[0][0])
        raise InputError(source, f"gap in the time series after {df.index[i]} (next row {df.index[i + 1]})",
                         f"give one row every {want / 60:g} minutes with no gaps (write 0 for dry steps)")
    check_step_h(want / 3600.0, source)
    values = df.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(source, f"missing or NaN rain at {df.index[r]} in column '{df.columns[c]}'",
                         "fill the gap (0 if dry) or drop the gauge column")
    if (values < 0).any():
        r, c = np.argwhere(values < 0)[0]
        raise InputError(source, f"negative rain {values[r, c]} at {df.index[r]} in column '{df.columns[c]}'",
                         "rain must be >= 0 mm/h")
    out = df.astype(float)
    out.attrs = dict(df.attrs)
    out.attrs.setdefault("step_minutes", want / 60.0)
    return out


def validate_hourly(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check an hourly rain table (:func:`validate_series` at a step of one hour)."""
    return validate_series(df, source, 3600)


def to_step(df: pd.DataFrame, step_min: float, source: str = "rain") -> pd.DataFrame:
    """Rain (mm/h intensities) brought to a step of ``step_min`` minutes, keeping every step's volume.

    A coarser series is spread uniformly over the finer steps inside each of its steps; a finer one is
    averaged over each coarser step (the steps must nest: one divides the other, and for averaging the
    series must start on the coarse step's boundary).
    """
    check_step_h(step_min / 60.0, "step")
    have = step_minutes(df)
    attrs = dict(df.attrs)
    if abs(have - step_min) < 1e-9:
        return df
    if have > step_min:
        k = have / step_min
        if abs(k - round(k)) > 1e-9:
            raise InputError(source, f"rain at a {have:g}-minute step cannot be split into {step_min:g}-minute steps",
                             "use a step that divides the rain's step")
        k = int(round(k))
        idx = pd.date_range(df.index[0], periods=len(df) * k, freq=pd.Timedelta(minutes=step_min), name="time")
        out = pd.DataFrame(np.repeat(df.to_numpy(float), k, axis=0), index=idx, columns=df.columns)
    else:
        k = step_min / have
        if abs(k - round(k)) > 1e-9:
            raise InputError(source, f"rain at a {have:g}-minute step does not add up to {step_min:g}-minute steps",
                             "use a step that is a multiple of the rain's step")
        k = int(round(k))
        t0 = pd.Timestamp(df.index[0])
        if (t0 - t0.normalize()) % pd.Timedelta(minutes=step_min):
            raise InputError(source, f"rain starts at {t0}, not on a {step_min:g}-minute boundary",
                             f"start the rain on the {step_min:g}-minute step")
        n = len(df) // k * k
        if n < len(df):  # a last partial step: pad with dry steps so no rain is lost
            pad = pd.DataFrame(0.0, index=pd.date_range(df.index[-1] + pd.Timedelta(minutes=have), periods=k * (len(df) // k + 1) - len(df),
                                                        freq=pd.Timedelta(minutes=have)), columns=df.columns)
            df = pd.concat([df, pad])
        v = df.to_numpy(float).reshape(-1, k, df.shape[1]).mean(axis=1)
        idx = pd.date_range(df.index[0], periods=len(v), freq=pd.Timedelta(minutes=step_min), name="time")
        out = pd.DataFrame(v, index=idx, columns=df.columns)
    out.attrs = attrs
    out.attrs["step_minutes"] = float(step_min)
    return out


def read_gauge_csv(path: str | Path, gauge_ids: list[str] | None = None) -> pd.DataFrame:
    """Read a gauge event CSV: ``time`` + one column per gauge id holding the rain depth (mm) of each
    row's step (时段雨量), at one regular step of 5-60 minutes. For hourly rows that is mm/h; the
    frame returned holds intensities in mm/h whatever the step."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path.name, "file not found", "give the path of an hourly rainfall CSV")
    df = pd.read_csv(path, dtype={"time": str})
    if "time" not in df.columns:
        raise InputError(path.name, "no `time` column", "add a `time` column, YYYY-MM-DD HH:MM local time")
    try:
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("time"), format="%Y-%m-%d %H:%M"), name="time")
    except (ValueError, TypeError) as exc:
        raise InputError(path.name, f"cannot read `time` ({exc})", "write times as YYYY-MM-DD HH:MM") from None
    df.columns = [str(c) for c in df.columns]
    if gauge_ids is not None:
        unknown = [c for c in df.columns if c not in set(gauge_ids)]
        if unknown:
            raise InputError(path.name, f"column(s) {', '.join(unknown)} are not gauge ids of the case",
                             f"name columns after gauges.id ({', '.join(gauge_ids)})")
    df = df.apply(pd.to_numeric, errors="coerce")
    df = validate_series(df, path.name)
    return df / (step_minutes(df) / 60.0) if len(df) > 1 else df


# ----------------------------------------------------------------------------- gauges -> areal rain
def thiessen_weights(gauges, subbasins, id_col: str = "id") -> pd.DataFrame:
    """Thiessen (1911) weights: rows sub-basins, columns gauges, each row summing to 1."""
    import shapely
    from shapely.geometry import MultiPoint

    pts = list(gauges.geometry)
    env = shapely.box(*np.array(subbasins.total_bounds) + np.array([-1, -1, 1, 1]) * 1e5)
    cells = shapely.ops.voronoi_diagram(MultiPoint(pts), envelope=env)
    cells = list(cells.geoms)
    # voronoi_diagram does not keep the order of points: match each cell to the gauge inside it
    owner = [int(np.argmax([c.contains(p) for c in cells])) for p in pts]
    w = np.zeros((len(subbasins), len(pts)))
    for i, poly in enumerate(subbasins.geometry):
        for j, k in enumerate(owner):
            w[i, j] = cells[k].intersection(poly).area
        w[i] /= poly.area
    return pd.DataFrame(w, index=subbasins[id_col].astype(str), columns=gauges[id_col].astype(str))


def _points_in(poly, n: int = 400) -> np.ndarray:
    import shapely

    x0, y0, x1, y1 = poly.bounds
    k = int(np.ceil(np.sqrt(n * (x1 - x0) * (y1 - y0) / max(poly.area, 1e-12))))
    xs, ys = np.meshgrid(np.linspace(x0, x1, k + 2)[1:-1], np.linspace(y0, y1, k + 2)[1:-1])
    p = np.column_stack([xs.ravel(), ys.ravel()])
    inside = shapely.contains_xy(poly, p[:, 0], p[:, 1])
    return p[inside] if inside.any() else np.array([[poly.centroid.x, poly.centroid.y]])


def idw_weights(gauges, subbasins, power: float = 2.0, id_col: str = "id") -> pd.DataFrame:
    """Inverse-distance (Shepard 1968) weights averaged over points filling each sub-basin."""
    g = np.array([[p.x, p.y] for p in gauges.geometry])
    w = np.zeros((len(subbasins), len(g)))
    for i, poly in enumerate(subbasins.geometry):
        p = _points_in(poly)
        d = np.hypot(p[:, None, 0] - g[None, :, 0], p[:, None, 1] - g[None, :, 1])
        inv = 1.0 / np.maximum(d, 1.0) ** power
        w[i] = (inv / inv.sum(axis=1, keepdims=True)).mean(axis=0)
    return pd.DataFrame(w, index=subbasins[id_col].astype(str), columns=gauges[id_col].astype(str))


def areal_rain(gauge_rain: pd.DataFrame, weights: pd.DataFrame, source: str = "rain") -> pd.DataFrame:
    """Sub-basin mean rain (time x sub-basin) from gauge rain (time x gauge) and a weight table."""
    missing = [g for g in weights.columns[(weights > 0).any(axis=0)] if g not in gauge_rain.columns]
    if missing:
        raise InputError(source, f"no rain for gauge(s) {', '.join(missing)} that cover sub-basins",
                         "add their columns to the rain file")
    w = weights.reindex(columns=gauge_rain.columns, fill_value=0.0)
    cover = w.sum(axis=1)
    if (cover < COVERAGE_TOLERANCE).any():
        sb = cover.index[cover < COVERAGE_TOLERANCE][0]
        raise InputError(source, f"rain does not cover sub-basin '{sb}'", "add gauges in or near it")
    out = gauge_rain.to_numpy() @ (w.to_numpy() / cover.to_numpy()[:, None]).T
    return pd.DataFrame(out, index=gauge_rain.index, columns=weights.index)


# ----------------------------------------------------------------------------- gridded rain
def read_grid(path: str | Path):
    """Read gridded hourly rain (NetCDF, or a GeoTIFF whose band descriptions are times).

    Returns an xarray DataArray (time, y, x) in mm/h with ``attrs['issue_time']`` kept and a CRS
    (``rio.crs``; WGS84 when the file has ``lat``/``lon`` dims). Format: CONTRIBUTING.md.
    """
    import rioxarray  # noqa: F401 - registers .rio
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise InputError(path.name, "file not found", "give the path of a gridded rain NetCDF")
    if path.suffix.lower() in (".tif", ".tiff"):
        da = rioxarray.open_rasterio(path).load()
        names = da.attrs.get("long_name")
        try:
            times = pd.to_datetime(list(names) if isinstance(names, (list, tuple)) else [names])
        except (TypeError, ValueError):
            raise InputError(path.name, "band descriptions are not times",
                             "set each band's description to its hour, YYYY-MM-DD HH:MM") from None
        da = da.rename(band="time").assign_coords(time=times)
    else:
        try:
            ds = xr.open_dataset(path, decode_coords="all").load()
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file for the user
            raise InputError(path.name, f"cannot read as NetCDF ({type(exc).__name__})",
                             "write NetCDF4 with a `rain_mm_per_h` variable") from None
        var = next((v for v in ("rain_mm_per_h", "precipitation") if v in ds), None)
        if var is None:
            raise InputError(path.name, "no `rain_mm_per_h` or `precipitation` variable",
                             "name the rain variable rain_mm_per_h (mm per hour)")
        da = ds[var]
        if "issue_time" in ds.attrs and "issue_time" not in da.attrs:
            da.attrs["issue_time"] = ds.attrs["issue_time"]
        if "lat" in da.dims and "lon" in da.dims:
            da = da.rename(lat="y", lon="x").rio.write_crs("EPSG:4326")
        elif da.rio.crs is None and "spatial_ref" not in da.coords:
            raise InputError(path.name, f"variable `{var}` has no CRS",
                             "write a CF `spatial_ref` grid mapping (rioxarray .rio.write_crs) or use lat/lon")
    if set(da.dims) != {"time", "y", "x"}:
        raise InputError(path.name, f"rain has dims {da.dims}", "use dims (time, y, x) or (time, lat, lon)")
    da = da.transpose("time", "y", "x")
    vals = da.values
    if (vals < 0).any():
        raise InputError(path.name, "negative rain in the grid", "rain must be >= 0 mm/h")
    return da


def grid_weights(da, subbasins, id_col: str = "id"):
    """Cell-overlap weights (sub-basin x cell, rows sum to 1) of a (time, y, x) grid.

    Cells whose overlap is zero get weight 0. Raises InputError when the grid covers less than 99 %
    of a sub-basin.
    """
    import rioxarray  # noqa: F401 - registers .rio
    import shapely

    crs = da.rio.crs
    polys = subbasins.to_crs(crs) if crs is not None and subbasins.crs is not None else subbasins
    x = np.asarray(da["x"].values, dtype=float)
    y = np.asarray(da["y"].values, dtype=float)

    def edges(c):
        if len(c) == 1:
            return np.array([c[0] - 0.5, c[0] + 0.5])
        mid = 0.5 * (c[1:] + c[:-1])
        return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])

    xe, ye = edges(x), edges(y)
    x0, x1 = np.minimum(xe[:-1], xe[1:]), np.maximum(xe[:-1], xe[1:])
    y0, y1 = np.minimum(ye[:-1], ye[1:]), np.maximum(ye[:-1], ye[1:])
    X0, Y0 = np.meshgrid(x0, y0)
    X1, Y1 = np.meshgrid(x1, y1)
    boxes = shapely.box(X0.ravel(), Y0.ravel(), X1.ravel(), Y1.ravel())
    w = np.zeros((len(polys), boxes.size))
    for i, poly in enumerate(polys.geometry):
        cand = np.nonzero(shapely.intersects(boxes, poly))[0]
        if cand.size:
            w[i, cand] = shapely.area(shapely.intersection(boxes[cand], poly))
        cover = w[i].sum() / poly.area
        if cover < COVERAGE_TOLERANCE:
            sid = subbasins[id_col].iloc[i]
            raise InputError("rain grid", f"rain does not cover sub-basin '{sid}' ({100 * cover:.0f} % covered)",
                             "give a grid that spans the whole catchment in the case CRS or WGS84")
        w[i] /= w[i].sum()
    return w


def grid_to_subbasins(da, subbasins, source: str = "rain grid", id_col: str = "id") -> pd.DataFrame:
    """Sub-basin mean rain (time x sub-basin) from a gridded (time, y, x) DataArray."""
    try:
        w = grid_weights(da, subbasins, id_col)
    except InputError as exc:
        raise InputError(source, exc.problems[0].message, exc.problems[0].fix) from None
    vals = da.values.reshape(da.sizes["time"], -1)
    used = w.sum(axis=0) > 0
    if not np.all(np.isfinite(vals[:, used])):
        raise InputError(source, "NaN rain in cells over the catchment",
                         "fill the cells (0 if dry) or give a grid without holes")
    out = vals[:, used] @ w[:, used].T
    df = pd.DataFrame(out, index=pd.DatetimeIndex(pd.to_datetime(da["time"].values), name="time"),
                      columns=subbasins[id_col].astype(str))
    df = validate_series(df, source)
    if "issue_time" in da.attrs:
        df.attrs["issue_time"] = str(da.attrs["issue_time"])
    return df


# ----------------------------------------------------------------------------- forecasts appended
def append_forecast(observed: pd.DataFrame, forecast: pd.DataFrame, issue_time: str | pd.Timestamp | None = None,
                    source: str = "forecast") -> pd.DataFrame:
    """Observed rain followed by a nowcast/forecast; the forecast replaces any overlap.

    The result carries ``attrs['issue_time']`` (the forecast's own attr, else ``issue_time``, else
    the first forecast hour) and must be gap-free.
    """
    cols = [c for c in observed.columns if c not in forecast.columns]
    if cols:
        raise InputError(source, f"no forecast for sub-basin(s) {', '.join(map(str, cols))}",
                         "the forecast must cover every sub-basin of the observed rain")
    issue = issue_time or forecast.attrs.get("issue_time") or forecast.index[0]
    issue = pd.Timestamp(issue)
    obs = observed[observed.index < forecast.index[0]]
    out = pd.concat([obs, forecast[observed.columns]])
    out = validate_series(out, source)
    out.attrs["issue_time"] = issue.isoformat()
    return out


# ----------------------------------------------------------------------------- design storms
def chicago_depth(a: float, b: float, n: float, t_min: np.ndarray | float) -> np.ndarray:
    """Depth (mm) of the IDF storm of duration ``t_min``: D(t) = a t / (t + b)^n."""
    t = np.asarray(t_min, dtype=float)
    return a * t / (t + b) ** n


def chicago_hyetograph(a: float, b: float, n: float, peak_ratio: float, duration_h: float,
                       dt_min: float = 60.0) -> np.ndarray:
    """Chicago design hyetograph (Keifer & Chu 1957): rain depth (mm) in each step of ``dt_min``.

    Built from its mass curve: with the peak at t_p = r T, rain within tb before the peak is
    r D(tb / r) and within ta after it (1 - r) D(ta / (1 - r)), so every window around the peak
    (split r : 1 - r) holds the IDF depth of its duration and the total is D(T).
    """
    if not (0.0 < peak_ratio < 1.0):
        raise InputError("design_storms.csv", f"peak_ratio {peak_ratio} is not in (0, 1)", "use e.g. 0.4")
    total_min = duration_h * 60.0
    tp = peak_ratio * total_min
    edges = np.arange(0.0, total_min + 1e-9, dt_min)
    if edges[-1] < total_min:
        edges = np.append(edges, total_min)
    r = peak_ratio
    cum = np.where(edges <= tp,
                   r * chicago_depth(a, b, n, total_min) - r * chicago_depth(a, b, n, np.maximum(tp - edges, 0) / r),
                   r * chicago_depth(a, b, n, total_min)
                   + (1 - r) * chicago_depth(a, b, n, np.maximum(edges - tp, 0) / (1 - r)))
    return np.diff(cum)


def design_storm(storms: pd.DataFrame, name: str, duration_h: float | None = None,
                 start: str | pd.Timestamp = "2000-01-01 00:00", columns: list[str] | None = None,
                 source: str = "design_storms.csv", step_min: float = 60.0) -> pd.DataFrame:
    """Chicago storm ``name`` from the case's design_storms table at a step of ``step_min`` minutes,
    uniform over ``columns``, as intensities in mm/h."""
    table = storms if storms.index.name == "name" or "name" not in storms.columns else storms.set_index("name")
    if name not in table.index:
        raise InputError(source, f"design storm '{name}' is not defined",
                         f"use one of {', '.join(map(str, table.index))}")
    row = table.loc[name]
    for col in ("a", "b", "n", "peak_ratio"):
        if col not in row or not np.isfinite(float(row[col])):
            raise InputError(source, f"design storm '{name}' has no `{col}`", "give a, b, n and peak_ratio")
    dur = float(duration_h if duration_h is not None else row.get("duration_h", 24))
    check_step_h(step_min / 60.0, "step")
    mm = chicago_hyetograph(float(row["a"]), float(row["b"]), float(row["n"]), float(row["peak_ratio"]), dur,
                            dt_min=step_min)
    idx = pd.date_range(pd.Timestamp(start), periods=len(mm), freq=pd.Timedelta(minutes=step_min), name="time")
    cols = columns or ["rain"]
    df = pd.DataFrame(np.repeat(mm[:, None] / (step_min / 60.0), len(cols), axis=1), index=idx, columns=cols)
    df.attrs["issue_time"] = idx[0].isoformat()
    df.attrs["design_storm"] = name
    df.attrs["step_minutes"] = float(step_min)
    return df
