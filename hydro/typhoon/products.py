"""The ``typhoon`` stage: from a track and a case to the products in OUT/typhoon/.

=====================  =====================================================================
``wind_villages.csv``  hourly wind at every village: time, village id/name, town, wind_m_per_s,
                       wind_from_deg, level (GB/T 28591 wind-force level)
``swath.nc``           maximum wind over the track on a WGS84 grid (lat, lon): max_wind_m_per_s,
                       max_level, time_of_max
``circles.csv``        per village and per town (column ``kind``) and circle level 7/10/12:
                       arrival, leaving, duration_h, max wind and its time
``deadlines.csv``      time-ordered deadlines per village and town (e.g. leave dilapidated houses
                       before the 7-level circle arrives)
``circle_radii.csv``   hourly track with grade and the 7/10/12-level radii per quadrant (km)
``rain.nc``            hourly R-CLIPER rain ``rain_mm_per_h`` (time, y, x) in the case CRS
``rain_gauges.csv``    the same rain at the case gauges, in the rainfall-event CSV format
``triggers.json``      index-insurance rules: fired, time, tier, payout
``track.geojson``      track fixes (Points) and path (LineString), WGS84, for the web map
``circles.geojson``    7/10/12-level circle polygons every 6 h, WGS84
``typhoon.gpkg``       the same as layers ``track_points``, ``track_line``, ``circles`` (WGS84)
``summary.json``       key figures
=====================  =====================================================================
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gis.atomic import atomic_path, gpkg_metadata, write_text
from gis.errors import InputError

from .circles import deadline_timeline, point_timing, town_timing
from .rain import rain_at_stations, rain_grid
from .tracks import GRADE_NAMES_ZH, interpolate_track, read_track
from .triggers import RainRule, evaluate_rules, rules_from_toml, taizhou_rules
from .wind import CIRCLE_THRESHOLDS_M_PER_S, circle_polygon_lonlat, circle_radii, wind_at_points, wind_swath

SWATH_MARGIN_DEG = 3.0
SWATH_RES_DEG = 0.02
RAIN_MARGIN_M = 10_000.0
RAIN_RES_M = 1000.0
TIME_FMT = "%Y-%m-%d %H:%M"


def _lonlat(gdf) -> tuple[np.ndarray, np.ndarray]:
    g = gdf.to_crs("EPSG:4326").geometry
    return g.x.to_numpy(), g.y.to_numpy()


def _fmt_times(df: pd.DataFrame, cols) -> pd.DataFrame:
    df = df.copy()
    for c in cols:
        df[c] = pd.to_datetime(df[c]).dt.strftime(TIME_FMT).fillna("")
    return df


def run_typhoon(track_path: str | Path, case, out_dir: str | Path | None, fmt: str = "auto", storm: str | None = None,
                rules_path: str | Path | None = None, rain_res_m: float = RAIN_RES_M,
                swath_res_deg: float = SWATH_RES_DEG, say=print) -> dict:
    """Compute every typhoon product for ``case`` (a loaded :class:`gis.case.Case`) and write them to
    ``out_dir`` (None: nothing written). Returns the summary dict."""
    return compute_typhoon(track_path, case, out_dir, fmt, storm, rules_path, rain_res_m, swath_res_deg, say).summary


@dataclass
class TyphoonResult:
    """The typhoon stage's product: ``summary``, the rain grid ``rain`` (Dataset, case CRS), the
    track's ``fixes`` and ``line`` and the wind ``circles`` (GeoDataFrames, WGS84); ``write(dir)``
    writes every file (see CONTRIBUTING.md).

    The tables behind those files, in memory (None for a result read back from files): ``wind``
    (hourly wind at every village), ``timing`` (7/10/12-level circle arrival, leaving and duration
    per village and town), ``deadlines``, ``radii`` (hourly track with circle radii per quadrant,
    km), ``swath`` (maximum wind, Dataset on a WGS84 grid), ``rain_gauges`` (the rain at the case
    gauges, mm/h) and ``triggers`` (one dict per insurance rule: fired, time, tier, payout).
    """

    summary: dict
    rain: object
    fixes: object
    line: object
    circles: object
    write: Callable[[str | Path], None]
    wind: pd.DataFrame | None = None
    timing: pd.DataFrame | None = None
    deadlines: pd.DataFrame | None = None
    radii: pd.DataFrame | None = None
    swath: object = None
    rain_gauges: pd.DataFrame | None = None
    triggers: list | None = None

    @property
    def track(self):
        """Fixes (Points) and path (LineString) in one GeoDataFrame, as the maps draw them."""
        import geopandas as gpd

        return gpd.GeoDataFrame(pd.concat([self.line, self.fixes], ignore_index=True), crs="EPSG:4326")

    def __repr__(self) -> str:
        s = self.summary
        return (f"<TyphoonResult {s['storm']}: peak {s['peak_wind_m_per_s']:.0f} m/s, max rain "
                f"{s['max_total_rain_mm']} mm, triggers fired: {', '.join(s['triggers_fired']) or 'none'}>")


def compute_typhoon(track_path: str | Path, case, out_dir: str | Path | None = None, fmt: str = "auto",
                    storm: str | None = None, rules_path: str | Path | None = None, rain_res_m: float = RAIN_RES_M,
                    swath_res_deg: float = SWATH_RES_DEG, say=print) -> TyphoonResult:
    """Every typhoon product for ``case``, in memory (written to ``out_dir`` when given).

    All products are computed before the first file is written, so bad input leaves no partial output.
    """
    import geopandas as gpd
    from shapely.geometry import LineString, Point, Polygon

    track = read_track(track_path, fmt=fmt, storm=storm)
    user_rules = rules_from_toml(rules_path) if rules_path else []
    hourly = interpolate_track(track)
    name = track.attrs.get("name", "") or Path(track_path).stem
    synthetic = "synthetic" in name.lower() or "synthetic" in Path(track_path).read_text(encoding="utf-8", errors="replace")[:400].lower()
    say(f"  track {name}: {len(track)} fixes, {hourly['time'].iloc[0]:%Y-%m-%d %H:%M} .. "
        f"{hourly['time'].iloc[-1]:%Y-%m-%d %H:%M}, peak {track['vmax_m_per_s'].max():.0f} m/s "
        f"({track['grade'].iloc[int(track['vmax_m_per_s'].argmax())]}), min {track['pressure_hpa'].min():.0f} hPa")

    # --- wind at villages (hourly)
    vil = case.villages
    vlon, vlat = _lonlat(vil)
    ds = wind_at_points(hourly, vlat, vlon, names=vil["id"].astype(str).tolist())
    wind_rows = pd.DataFrame({
        "time": np.repeat(ds["time"].to_numpy(), vil.shape[0]),
        "village": np.tile(vil["id"].astype(str).to_numpy(), ds.sizes["time"]),
        "name": np.tile(vil["name"].astype(str).to_numpy(), ds.sizes["time"]),
        "town": np.tile(vil["town"].astype(str).to_numpy(), ds.sizes["time"]),
        "wind_m_per_s": ds["wind_m_per_s"].to_numpy().ravel().round(2),
        "wind_from_deg": ds["wind_from_deg"].to_numpy().ravel().round(0),
        "level": ds["level"].to_numpy().ravel(),
    })

    # --- circle timing and deadlines
    pts = pd.DataFrame({"id": vil["id"].astype(str), "name": vil["name"].astype(str),
                        "town": vil["town"].astype(str), "lat": vlat, "lon": vlon})
    vt = point_timing(track, pts)
    tt = town_timing(vt)
    timing = pd.concat([vt.assign(kind="village"), tt.assign(kind="town")], ignore_index=True)
    deadlines = deadline_timeline(timing)

    # --- swath on a WGS84 grid around the case
    clon, clat = float(np.mean(vlon)), float(np.mean(vlat))
    lat1d = np.arange(clat - SWATH_MARGIN_DEG, clat + SWATH_MARGIN_DEG + 1e-9, swath_res_deg)
    lon1d = np.arange(clon - SWATH_MARGIN_DEG, clon + SWATH_MARGIN_DEG + 1e-9, swath_res_deg)
    swath = wind_swath(hourly, lat1d, lon1d)
    swath = swath.rio.write_crs("EPSG:4326").rio.set_spatial_dims(x_dim="lon", y_dim="lat")
    swath.attrs.update({"title": f"maximum 10 m wind swath, {name}", "track": Path(track_path).name,
                        "model": "Holland (1980) profile, Holland (2008) B, Willoughby et al. (2006) Rmax, "
                                 "Lin & Chavas (2012) translation asymmetry; see hydro/typhoon/core_wind.py",
                        "synthetic_track": int(synthetic)})

    # --- circle radii and map layers
    radii_tab, radii = circle_radii(hourly)
    rain_ds = rain_grid(track, case.crs, _rain_bounds(case), res_m=rain_res_m,
                        issue_time=track["time"].iloc[0] if track.attrs.get("format") == "csv" else None)
    glon, glat = _lonlat(case.gauges)
    gauge_ids = case.gauges["id"].astype(str).tolist()
    rain_gauges = rain_at_stations(track, glat, glon, gauge_ids)

    # --- triggers: 台州 built-in, the case gauges as designated stations, user rules
    rules = taizhou_rules() + [RainRule(f"{case.name} gauges 72 h >= 140 mm", dict(zip(gauge_ids, zip(glon, glat))))]
    rules += user_rules

    def rain_for(stations: dict) -> pd.DataFrame:
        names = list(stations)
        return rain_at_stations(track, [stations[n][1] for n in names], [stations[n][0] for n in names], names)

    trig = evaluate_rules(rules, track, rain_for)

    # --- map layers (WGS84)
    fixes = gpd.GeoDataFrame(_fmt_times(track.assign(grade_zh=track["grade"].map(GRADE_NAMES_ZH)), ["time"]),
                             geometry=[Point(xy) for xy in zip(track["lon"], track["lat"])], crs="EPSG:4326")
    line = gpd.GeoDataFrame({"name": [name], "synthetic": [synthetic]},
                            geometry=[LineString(list(zip(hourly["lon"], hourly["lat"])))], crs="EPSG:4326")
    polys = []
    for i, t in enumerate(hourly["time"]):
        if t.minute or t.hour % 6:
            continue
        for m, lvl in enumerate(CIRCLE_THRESHOLDS_M_PER_S):
            if radii[i, m].max() <= 0:
                continue
            polys.append({"time": t.strftime(TIME_FMT), "level": lvl,
                          "max_radius_km": float(radii[i, m].max()),
                          "geometry": Polygon(circle_polygon_lonlat(hourly["lat"].iloc[i], hourly["lon"].iloc[i], radii[i, m]))})
    circles_gdf = gpd.GeoDataFrame(polys, geometry="geometry", crs="EPSG:4326") if polys else \
        gpd.GeoDataFrame({"time": [], "level": [], "max_radius_km": []}, geometry=[], crs="EPSG:4326")

    first7 = vt[vt["circle_level"] == 7]["arrival"].min()
    summary = {
        "track": Path(track_path).name, "storm": name, "format": track.attrs.get("format"), "synthetic": synthetic,
        "start": hourly["time"].iloc[0].strftime(TIME_FMT), "end": hourly["time"].iloc[-1].strftime(TIME_FMT),
        "peak_wind_m_per_s": float(track["vmax_m_per_s"].max()), "min_pressure_hpa": float(track["pressure_hpa"].min()),
        "max_wind_at_villages_m_per_s": round(float(vt["max_wind_m_per_s"].max()), 1),
        "first_7_level_arrival": None if pd.isna(first7) else pd.Timestamp(first7).strftime(TIME_FMT),
        "villages_in_7_level": int(vt[(vt["circle_level"] == 7)]["arrival"].notna().sum()),
        "villages_in_10_level": int(vt[(vt["circle_level"] == 10)]["arrival"].notna().sum()),
        "max_hourly_rain_mm": round(float(rain_ds["rain_mm_per_h"].max()), 1),
        "max_total_rain_mm": round(float(rain_ds["rain_mm_per_h"].sum("time").max()), 1),
        "triggers_fired": [t["rule"] for t in trig if t["fired"]],
    }

    # --- write (everything is computed; no partial products on bad input)
    def write(out_dir: str | Path) -> None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "wind_villages.csv", _fmt_times(wind_rows, ["time"]).to_csv(index=False))
        cols = ["kind", "id", "name", "town", "circle_level", "threshold_m_per_s", "arrival", "leaving", "duration_h",
                "max_wind_m_per_s", "time_of_max", "note"]
        write_text(out / "circles.csv", _fmt_times(timing[cols], ["arrival", "leaving", "time_of_max"])
                   .round({"duration_h": 2, "max_wind_m_per_s": 2}).to_csv(index=False))
        write_text(out / "deadlines.csv", _fmt_times(deadlines, ["time"]).to_csv(index=False))
        write_text(out / "circle_radii.csv", _fmt_times(radii_tab, ["time"]).round(3).to_csv(index=False))
        with atomic_path(out / "swath.nc") as tmp:
            swath.to_netcdf(tmp, engine="h5netcdf", encoding=_zlib(swath, ("max_wind_m_per_s", "max_level")))
        with atomic_path(out / "rain.nc") as tmp:
            rain_ds.to_netcdf(tmp, engine="h5netcdf", encoding=_zlib(rain_ds, ("rain_mm_per_h",)))
        rg = rain_gauges.round(3)
        rg.index = rg.index.strftime(TIME_FMT)
        write_text(out / "rain_gauges.csv", rg.to_csv(index_label="time"))
        write_text(out / "triggers.json", json.dumps({"track": summary["track"], "storm": name, "synthetic": synthetic,
                                                      "rules": trig}, ensure_ascii=False, indent=2))
        features = json.loads(line.to_json())["features"] + json.loads(fixes.to_json())["features"]
        write_text(out / "track.geojson", json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
        write_text(out / "circles.geojson", circles_gdf.to_json(ensure_ascii=False) if len(circles_gdf) else
                   json.dumps({"type": "FeatureCollection", "features": []}))
        with tempfile.TemporaryDirectory(dir=out, prefix=".typhoon-gpkg-") as d:
            tmp = Path(d) / "typhoon.gpkg"  # GDAL wants the .gpkg extension, so not atomic_path's .part
            fixes.to_file(tmp, layer="track_points", driver="GPKG", engine="pyogrio", **gpkg_metadata())
            line.to_file(tmp, layer="track_line", driver="GPKG")
            if len(circles_gdf):
                circles_gdf.to_file(tmp, layer="circles", driver="GPKG")
            os.replace(tmp, out / "typhoon.gpkg")
        write_text(out / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2))

    result = TyphoonResult(summary, rain_ds, fixes, line, circles_gdf, write, wind=wind_rows, timing=timing,
                           deadlines=deadlines, radii=radii_tab, swath=swath, rain_gauges=rain_gauges,
                           triggers=trig)
    if out_dir is not None:
        result.write(out_dir)
    return result


def _zlib(ds, names) -> dict:
    # keep rioxarray's grid_mapping link, which lives in the variable's encoding
    return {n: {"zlib": True, "complevel": 4,
                **{k: v for k, v in ds[n].encoding.items() if k == "grid_mapping"}} for n in names if n in ds}


def _rain_bounds(case) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = case.dem.rio.bounds()
    m = RAIN_MARGIN_M
    return (np.floor((xmin - m) / 1000) * 1000, np.floor((ymin - m) / 1000) * 1000,
            np.ceil((xmax + m) / 1000) * 1000, np.ceil((ymax + m) / 1000) * 1000)


def case_track_path(case_dir: str | Path) -> Path | None:
    """The track named by ``[typhoon] track`` in the case's case.toml, or None."""
    import tomllib

    toml_path = Path(case_dir) / "case.toml"
    try:
        cfg = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    rel = cfg.get("typhoon", {}).get("track")
    if not rel:
        return None
    p = Path(case_dir) / rel
    if not p.is_file():
        raise InputError("case.toml", f"[typhoon] track '{rel}' does not exist", "fix the path or remove the entry")
    return p
