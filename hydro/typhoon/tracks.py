"""Typhoon tracks: read CMA best track, IBTrACS CSV and forecast CSV into one table.

Every reader returns a :class:`pandas.DataFrame` with one row per fix:

=================  ===============================================================
``time``           naive local Beijing time (UTC+8), strictly increasing
``lat``, ``lon``   centre, degrees north / east
``pressure_hpa``   central pressure
``vmax_m_per_s``   maximum sustained 10 m wind (2-min mean for CMA, see below)
``rmax_km``        radius of maximum wind, NaN where the source does not give it
``grade``          GB/T 19201-2006 class: TD, TS, STS, TY, STY, SuperTY ('' below TD)
``level``          wind-force level of ``vmax_m_per_s`` (GB/T 28591-2012, 0-17)
=================  ===============================================================

``df.attrs`` holds ``name``, ``source`` (file name) and ``format``.

Formats
-------
* **CMA best track** (tcdata.typhoon.org.cn, "CMABSTdata"): a header line per storm
  ``66666 BBBB CCC DDDD EEEE F G NAME DATE`` (``BBBB`` international number, ``CCC`` number of
  data lines, ``NAME`` English name), then ``CCC`` lines ``YYYYMMDDHH I LAT LON PRES WND [OWD]``
  with time in UTC, ``I`` the intensity category, ``LAT``/``LON`` in 0.1 degree, ``PRES`` hPa and
  ``WND`` the 2-min mean maximum wind in m/s.
* **IBTrACS CSV** (NOAA NCEI v04): columns ``SID``, ``NAME``, ``ISO_TIME`` (UTC), ``LAT``, ``LON`` and
  agency columns; the second line holds units and is skipped. Wind is taken from ``CMA_WIND``
  (2-min, knots), then ``WMO_WIND``, ``USA_WIND``; pressure from ``CMA_PRES``, ``WMO_PRES``,
  ``USA_PRES``; radius of maximum wind from ``USA_RMW`` (nautical miles). Gaps in wind or pressure
  between reported fixes are filled linearly in time.
* **Forecast CSV**: columns ``time`` (local Beijing time), ``lat``, ``lon``, ``pressure_hpa``,
  ``vmax_m_per_s`` and optionally ``rmax_km`` and ``name``. Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import InputError

KNOT_M_PER_S = 0.514444
EARTH_RADIUS_M = 6_371_000.0
NMI_KM = 1.852
UTC_TO_BEIJING = pd.Timedelta(hours=8)
COLUMNS = ["time", "lat", "lon", "pressure_hpa", "vmax_m_per_s", "rmax_km", "grade", "level"]

# GB/T 19201-2006 tropical cyclone grades: lower bounds of the 2-min mean max wind, m/s.
GRADE_LOWER_M_PER_S = (10.8, 17.2, 24.5, 32.7, 41.5, 51.0)
GRADE_NAMES = ("TD", "TS", "STS", "TY", "STY", "SuperTY")
GRADE_NAMES_ZH = {"TD": "热带低压", "TS": "热带风暴", "STS": "强热带风暴", "TY": "台风",
                  "STY": "强台风", "SuperTY": "超强台风", "": "低于热带低压"}
# GB/T 28591-2012 wind-force levels 1..17: lower bounds in m/s (level 0 below 0.3).
LEVEL_LOWER_M_PER_S = (0.3, 1.6, 3.4, 5.5, 8.0, 10.8, 13.9, 17.2, 20.8, 24.5, 28.5, 32.7, 37.0,
                       41.5, 46.2, 51.0, 56.1)


def _round01(v: np.ndarray) -> np.ndarray:
    # Both standards tabulate wind to 0.1 m/s; round first so 32.65 is 32.7 and edges are exact.
    return np.round(np.asarray(v, dtype=float) * 10.0) / 10.0


def grade_of(vmax_m_per_s) -> np.ndarray:
    """GB/T 19201-2006 grade of each maximum wind (m/s): TD, TS, STS, TY, STY, SuperTY or ''."""
    v = _round01(np.atleast_1d(vmax_m_per_s))
    idx = np.searchsorted(np.asarray(GRADE_LOWER_M_PER_S) - 1e-9, v, side="right") - 1
    names = np.array(("",) + GRADE_NAMES, dtype=object)
    return names[np.where(np.isnan(v), 0, idx + 1)]


def level_of(speed_m_per_s) -> np.ndarray:
    """GB/T 28591-2012 wind-force level (0-17) of each speed in m/s; speeds >= 56.1 are 17."""
    v = _round01(np.atleast_1d(speed_m_per_s))
    lvl = np.searchsorted(np.asarray(LEVEL_LOWER_M_PER_S) - 1e-9, v, side="right")
    return np.where(np.isnan(v), 0, lvl).astype(np.int64)


# ----------------------------------------------------------------------------- readers
def read_track(path: str | Path, fmt: str = "auto", storm: str | None = None) -> pd.DataFrame:
    """Read a track file in any supported format (see module docstring).

    Parameters
    ----------
    path : file path
    fmt : ``"auto"`` (detect), ``"cma"``, ``"ibtracs"`` or ``"csv"``
    storm : for files with several storms: the name, international number (CMA) or SID (IBTrACS)
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "track file not found", "give the path of a CMA, IBTrACS or forecast CSV track")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="gb18030", errors="replace")
    if fmt == "auto":
        fmt = detect_format(text, path)
    readers = {"cma": _read_cma, "ibtracs": _read_ibtracs, "csv": _read_forecast_csv}
    if fmt not in readers:
        raise InputError(path, f"unknown track format '{fmt}'", "use one of: auto, cma, ibtracs, csv")
    df = readers[fmt](text, path, storm)
    df.attrs.setdefault("name", "")
    df.attrs["source"] = path.name
    df.attrs["format"] = fmt
    return finish_track(df, path.name)


def detect_format(text: str, source: str | Path = "track") -> str:
    """Guess the track format from the first non-comment line."""
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("66666"):
            return "cma"
        head = [c.strip().lower() for c in s.split(",")]
        if "sid" in head and "iso_time" in head:
            return "ibtracs"
        if "time" in head and "lat" in head and "lon" in head:
            return "csv"
        break
    raise InputError(source, "unknown track format (not a CMA best track, IBTrACS CSV or forecast CSV)",
                     "CMA files start with a '66666' header line; IBTrACS CSV has SID and ISO_TIME columns; "
                     "a forecast CSV has columns time,lat,lon,pressure_hpa,vmax_m_per_s")


def _read_cma(text: str, path: Path, storm: str | None) -> pd.DataFrame:
    storms: list[dict] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        i += 1
        if not s:
            continue
        parts = s.split()
        if parts[0] != "66666":
            raise InputError(path, f"line {i}: expected a '66666' header line, got '{s[:40]}'",
                             "check the file follows the CMA best-track format")
        try:
            intl, nrows = parts[1], int(parts[2])
        except (IndexError, ValueError):
            raise InputError(path, f"line {i}: header has no row count", "fields: 66666 BBBB CCC ...") from None
        name_tokens = parts[7:-1] if len(parts) > 8 and parts[-1].isdigit() else parts[7:]
        name = " ".join(name_tokens) or intl
        rows = []
        for k in range(nrows):
            if i >= len(lines) or lines[i].strip().startswith("66666"):
                raise InputError(path, f"storm {intl} {name}: header says {nrows} data lines, found {k}",
                                 "fix the row count in the header or restore the missing lines")
            f = lines[i].split()
            i += 1
            try:
                t = pd.Timestamp(f"{f[0][:8]} {f[0][8:10]}:00") + UTC_TO_BEIJING
                rows.append((t, int(f[2]) / 10.0, int(f[3]) / 10.0, float(f[4]), float(f[5])))
            except (IndexError, ValueError):
                raise InputError(path, f"line {i}: cannot read 'YYYYMMDDHH I LAT LON PRES WND' from '{lines[i-1].strip()}'",
                                 "latitude/longitude are integers in 0.1 degree, time is UTC") from None
        storms.append({"intl": intl, "name": name, "rows": rows})
    if not storms:
        raise InputError(path, "no storm in file", "a CMA best-track file starts with a '66666' header")
    chosen = _choose(storms, storm, path, keys=("name", "intl"))
    df = pd.DataFrame(chosen["rows"], columns=["time", "lat", "lon", "pressure_hpa", "vmax_m_per_s"])
    df["rmax_km"] = np.nan
    df.attrs["name"] = chosen["name"]
    return df


def _choose(storms: list[dict], storm: str | None, path: Path, keys: tuple[str, ...]) -> dict:
    if storm is None:
        if len(storms) == 1:
            return storms[0]
        names = ", ".join(str(s[keys[0]]) for s in storms[:8])
        raise InputError(path, f"{len(storms)} storms in the file ({names}{', ...' if len(storms) > 8 else ''})",
                         "choose one with --storm NAME")
    for s in storms:
        if any(str(s[k]).strip().lower() == storm.strip().lower() for k in keys):
            return s
    raise InputError(path, f"no storm '{storm}' in the file", f"use one of: {', '.join(str(s[keys[0]]) for s in storms[:8])}")


def _first_column(df: pd.DataFrame, names: tuple[str, ...]) -> pd.Series | None:
    # The first agency column that has any value; None when none is present.
    for n in names:
        if n in df.columns:
            col = pd.to_numeric(df[n], errors="coerce")
            if col.notna().any():
                return col
    return None


def _read_ibtracs(text: str, path: Path, storm: str | None) -> pd.DataFrame:
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    df.columns = [c.strip().upper() for c in df.columns]
    if len(df) and str(df.iloc[0].get("SEASON", "")).strip().lower() == "year":
        df = df.iloc[1:]  # the units line
    for col in ("SID", "ISO_TIME", "LAT", "LON"):
        if col not in df.columns:
            raise InputError(path, f"IBTrACS column '{col}' is missing", "export the full IBTrACS CSV (v04) columns")
    df = df.replace(r"^\s*$", np.nan, regex=True)
    storms = [{"sid": sid, "name": str(g["NAME"].iloc[0]) if "NAME" in g else sid, "rows": g}
              for sid, g in df.groupby("SID", sort=False)]
    if not storms:
        raise InputError(path, "no data rows", "the file holds only a header")
    g = _choose(storms, storm, path, keys=("sid", "name"))["rows"]
    wind = _first_column(g, ("CMA_WIND", "WMO_WIND", "USA_WIND", "TOKYO_WIND"))
    pres = _first_column(g, ("CMA_PRES", "WMO_PRES", "USA_PRES", "TOKYO_PRES"))
    if wind is None:
        raise InputError(path, "no wind column with values (CMA_WIND, WMO_WIND, USA_WIND)",
                         "export IBTrACS with agency wind columns")
    if pres is None:
        raise InputError(path, "no pressure column with values (CMA_PRES, WMO_PRES, USA_PRES)",
                         "export IBTrACS with agency pressure columns")
    try:
        t = pd.to_datetime(g["ISO_TIME"].str.strip(), format="%Y-%m-%d %H:%M:%S") + UTC_TO_BEIJING
    except (ValueError, TypeError):
        raise InputError(path, "ISO_TIME is not 'YYYY-MM-DD HH:MM:SS'", "keep the IBTrACS time format") from None
    out = pd.DataFrame({
        "time": t.to_numpy(),
        "lat": pd.to_numeric(g["LAT"], errors="coerce").to_numpy(),
        "lon": pd.to_numeric(g["LON"], errors="coerce").to_numpy(),
        "pressure_hpa": pres.to_numpy(dtype=float),
        "vmax_m_per_s": wind.to_numpy(dtype=float) * KNOT_M_PER_S,
        "rmax_km": (pd.to_numeric(g["USA_RMW"], errors="coerce").to_numpy(dtype=float) * NMI_KM
                    if "USA_RMW" in g else np.full(len(g), np.nan)),
    })
    # IBTrACS interleaves 3-hourly interpolated positions without agency intensity: fill those
    # gaps in time and drop the ends that lie outside the agency's record.
    sec = (out["time"] - out["time"].iloc[0]).dt.total_seconds().to_numpy()
    for col in ("pressure_hpa", "vmax_m_per_s", "rmax_km"):
        v = out[col].to_numpy()
        ok = np.isfinite(v)
        if ok.sum() >= 2:
            inside = (sec >= sec[ok][0]) & (sec <= sec[ok][-1])
            out.loc[inside, col] = np.interp(sec[inside], sec[ok], v[ok])
    out = out[out["pressure_hpa"].notna() & out["vmax_m_per_s"].notna()].reset_index(drop=True)
    out.attrs["name"] = str(g["NAME"].iloc[0]).strip() if "NAME" in g else ""
    return out


_CSV_ALIASES = {"pressure_hpa": ("pressure_hpa", "pressure", "pres", "p_hpa"),
                "vmax_m_per_s": ("vmax_m_per_s", "vmax", "wind_m_per_s", "wind"),
                "rmax_km": ("rmax_km", "rmw_km")}


def _read_forecast_csv(text: str, path: Path, storm: str | None) -> pd.DataFrame:
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    try:
        df = pd.read_csv(io.StringIO(body), skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(path, f"cannot read CSV ({exc})".replace("\n", " "), "write a plain comma-separated table") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    for canon, aliases in _CSV_ALIASES.items():
        for a in aliases:
            if a in df.columns and canon not in df.columns:
                df = df.rename(columns={a: canon})
    for col in ("time", "lat", "lon", "pressure_hpa", "vmax_m_per_s"):
        if col not in df.columns:
            what = {"pressure_hpa": "central pressure", "vmax_m_per_s": "maximum wind"}.get(col, col)
            raise InputError(path, f"column '{col}' ({what}) is missing",
                             "columns are time,lat,lon,pressure_hpa,vmax_m_per_s[,rmax_km]")
    if storm is not None and "name" in df.columns:
        df = df[df["name"].astype(str).str.lower() == storm.lower()]
        if df.empty:
            raise InputError(path, f"no rows with name '{storm}'", "check --storm")
    try:
        t = pd.to_datetime(df["time"].astype(str).str.strip(), format="mixed")
    except (ValueError, TypeError):
        raise InputError(path, "column 'time' has values that are not dates", "write local time as YYYY-MM-DD HH:MM") from None
    out = pd.DataFrame({"time": t.to_numpy()})
    for col in ("lat", "lon", "pressure_hpa", "vmax_m_per_s"):
        v = pd.to_numeric(df[col], errors="coerce")
        bad = v.isna().to_numpy()
        if bad.any():
            row = int(np.argmax(bad)) + 2
            raise InputError(path, f"row {row}: '{col}' is empty or not a number", "fill every fix with a number")
        out[col] = v.to_numpy(dtype=float)
    out["rmax_km"] = pd.to_numeric(df["rmax_km"], errors="coerce").to_numpy(dtype=float) if "rmax_km" in df else np.nan
    if "name" in df.columns and len(df):
        out.attrs["name"] = str(df["name"].iloc[0])
    return out


# ----------------------------------------------------------------------------- checks
def finish_track(df: pd.DataFrame, source: str = "track") -> pd.DataFrame:
    """Validate a track table and add ``grade`` and ``level``; raise InputError naming the row."""
    if len(df) < 2:
        raise InputError(source, f"track has {len(df)} fix(es)", "a track needs at least two fixes")
    t = pd.to_datetime(df["time"]).to_numpy()
    dt = np.diff(t).astype("timedelta64[s]").astype(np.int64)
    if (dt <= 0).any():
        k = int(np.argmax(dt <= 0)) + 1
        raise InputError(source, f"fix {k + 1} at {pd.Timestamp(t[k])} is not after the previous fix ({pd.Timestamp(t[k-1])})",
                         "sort the fixes by time and remove duplicates")
    checks = (("lat", -90.0, 90.0, "latitude must be within -90..90 degrees"),
              ("lon", -180.0, 360.0, "longitude must be within -180..360 degrees"),
              ("pressure_hpa", 850.0, 1050.0, "central pressure must be 850..1050 hPa"),
              ("vmax_m_per_s", 0.0, 120.0, "maximum wind must be 0..120 m/s"))
    for col, lo, hi, fix in checks:
        v = df[col].to_numpy(dtype=float)
        bad = ~((v >= lo) & (v <= hi))
        if bad.any():
            k = int(np.argmax(bad))
            raise InputError(source, f"fix {k + 1} ({pd.Timestamp(t[k])}): {col} = {v[k]}", fix)
    out = df.copy()
    out["time"] = pd.to_datetime(out["time"])
    if "rmax_km" not in out:
        out["rmax_km"] = np.nan
    out["grade"] = grade_of(out["vmax_m_per_s"].to_numpy())
    out["level"] = level_of(out["vmax_m_per_s"].to_numpy())
    out = out[COLUMNS].reset_index(drop=True)
    out.attrs.update(df.attrs)
    return out


# ----------------------------------------------------------------------------- interpolation
def interpolate_track(track: pd.DataFrame, step_min: float = 60.0) -> pd.DataFrame:
    """Interpolate a track linearly in time to a regular step (default hourly).

    The first and last times are rounded inwards to whole steps. Longitudes are unwrapped
    across the date line. Adds translation velocity ``vt_u_m_per_s``/``vt_v_m_per_s``
    (east/north, centred differences of the interpolated positions) and ``dpdt_hpa_per_h``.
    """
    step = pd.Timedelta(minutes=step_min)
    t0 = track["time"].iloc[0].ceil(step)
    t1 = track["time"].iloc[-1].floor(step)
    times = pd.date_range(t0, t1, freq=step)
    if len(times) < 2:
        raise InputError(track.attrs.get("source", "track"), "track spans less than two time steps",
                         "give fixes at least two steps apart")
    src = (track["time"] - t0).dt.total_seconds().to_numpy()
    dst = (times - t0).total_seconds().to_numpy()
    lon = np.rad2deg(np.unwrap(np.deg2rad(track["lon"].to_numpy(dtype=float))))
    out = pd.DataFrame({"time": times})
    out["lat"] = np.interp(dst, src, track["lat"].to_numpy(dtype=float))
    out["lon"] = np.interp(dst, src, lon)
    for col in ("pressure_hpa", "vmax_m_per_s"):
        out[col] = np.interp(dst, src, track[col].to_numpy(dtype=float))
    rm = track["rmax_km"].to_numpy(dtype=float)
    ok = np.isfinite(rm)
    out["rmax_km"] = np.interp(dst, src[ok], rm[ok]) if ok.sum() >= 2 else np.nan
    out["grade"] = grade_of(out["vmax_m_per_s"].to_numpy())
    out["level"] = level_of(out["vmax_m_per_s"].to_numpy())
    # translation from the interpolated positions, centred differences, metres per second
    lat_rad = np.deg2rad(out["lat"].to_numpy())
    out["vt_u_m_per_s"] = np.gradient(np.deg2rad(out["lon"].to_numpy()), dst) * EARTH_RADIUS_M * np.cos(lat_rad)
    out["vt_v_m_per_s"] = np.gradient(lat_rad, dst) * EARTH_RADIUS_M
    out["dpdt_hpa_per_h"] = np.gradient(out["pressure_hpa"].to_numpy(), dst / 3600.0)
    out.attrs.update(track.attrs)
    return out
