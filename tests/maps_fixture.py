"""A small synthetic case and results folder for the map and briefing tests (no sample case needed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon

CRS_CASE = CRS.from_epsg(4549)
X0, Y0, RES, NY, NX = 432_000.0, 3_345_000.0, 30.0, 90, 120  # top-left corner, 3.6 x 2.7 km


def _grid():
    x = X0 + RES * (np.arange(NX) + 0.5)
    y = Y0 - RES * (np.arange(NY) + 0.5)
    return x, y


def make_case(personal: bool = True) -> SimpleNamespace:
    x, y = _grid()
    xx, yy = np.meshgrid(x - x.mean(), y - y.mean())
    dem = (200 + 0.02 * np.abs(yy) + 30 * np.sin(xx / 400) + 0.01 * xx).astype("float32")
    dem[:3, :3] = np.nan
    da = xr.DataArray(dem, coords={"y": y, "x": x}, dims=("y", "x"), name="dem").rio.write_crs(CRS_CASE)
    da = da.rio.write_nodata(np.nan, encoded=False)
    cx, cy = x.mean(), y.mean()

    def gdf(rows, geoms):
        return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=CRS_CASE)

    sections = gdf({"id": ["S1", "S2", "S3"], "name": ["一都", "白鹤", "绍鲁"],
                    "warning_level_m": [3.0, 3.0, 3.0], "danger_level_m": [4.0, 4.0, 4.0]},
                   [Point(cx - 1200, cy), Point(cx, cy), Point(cx + 1200, cy)])
    subbasins = gdf({"id": ["B1", "B2"], "outlet_section": ["S1", "S2"]},
                    [Polygon([(cx - 1500, cy), (cx - 1500, cy + 900), (cx - 300, cy + 900), (cx - 300, cy)]),
                     Polygon([(cx, cy), (cx, cy + 900), (cx + 900, cy + 900), (cx + 900, cy)])])
    villages = gdf({"id": ["V1", "V2", "V3", "V4"], "name": ["溪口村", "白鹤村", "绍鲁村", "上庄村"],
                    "town": ["岛石镇", "岛石镇", "清凉峰镇", "清凉峰镇"], "population": [820, 640, 410, 300],
                    "households": [260, 200, 130, 95], "responsible": ["王建国", "李卫东", "赵春华", "陈晓明"],
                    "phone": ["13900000001", "13900000002", "13900000003", "13900000004"],
                    "control_section": ["S1", "S2", "S3", "S3"]},
                   [Point(cx - 900, cy + 150), Point(cx + 100, cy - 200), Point(cx + 1000, cy + 120),
                    Point(cx + 1500, cy + 700)])
    shelters = gdf({"id": ["H1", "H2"], "name": ["岛石中学", "清凉峰镇文化礼堂"], "town": ["岛石镇", "清凉峰镇"],
                    "capacity": [600, 400], "kind": ["学校", "礼堂"]},
                   [Point(cx - 700, cy + 800), Point(cx + 1200, cy + 900)])
    case = SimpleNamespace(root=Path("."), name="testcase", title="东关溪小流域（合成示例）", crs=CRS_CASE,
                           synthetic=True, dem=da, sections=sections, subbasins=subbasins, villages=villages,
                           shelters=shelters, warnings=[])
    if not personal:
        case.villages = villages.drop(columns=["phone"])
    return case


def make_results(root: Path, case=None, *, skip: tuple[str, ...] = ()) -> Path:
    """Write a synthetic results folder under ``root``; ``skip`` names stages to leave out."""
    case = case or make_case()
    root = Path(root)
    x, y = _grid()
    t = pd.date_range("2024-07-01 08:00", periods=12, freq="h")
    if "forecast" not in skip:
        (root / "forecast").mkdir(parents=True, exist_ok=True)
        stage = np.stack([2.0 + 0.1 * np.arange(12), 2.0 + 0.25 * np.arange(12), 1.5 + 0.01 * np.arange(12)], 1)
        ds = xr.Dataset({"stage": (("time", "section"), stage),
                         "rain_mm_per_h": (("time", "subbasin"), np.tile([[5.0, 12.0]], (12, 1)))},
                        coords={"time": t, "section": ["S1", "S2", "S3"], "subbasin": ["B1", "B2"]},
                        attrs={"issue_time": "2024-07-01T08:00:00"})
        ds.to_netcdf(root / "forecast" / "forecast.nc")
        pd.DataFrame({"section": ["S1", "S2", "S3"], "status": ["警戒", "危急", "正常"]}).to_csv(
            root / "forecast" / "warnings.csv", index=False)
        pd.DataFrame({"village": ["V1", "V1", "V2", "V2"], "level": ["准备转移", "立即转移"] * 2,
                      "rain_1h_mm": [40, 55, 38, 52], "rain_3h_mm": [70, 90, 65, 85],
                      "stage_m": [2.8, 3.4, 2.9, 3.5]}).to_csv(root / "forecast" / "thresholds.csv", index=False)
    if "inundation" not in skip:
        (root / "inundation").mkdir(parents=True, exist_ok=True)
        xx, yy = np.meshgrid(x - x.mean(), y - y.mean())
        band = np.clip(2.5 - np.abs(yy) / 200.0, 0, None)
        frames = np.stack([band * k / 6 for k in range(7)])
        arrival = np.where(band > 0.05, np.abs(xx) / 0.5, np.nan)
        ds = xr.Dataset({"depth_m": (("time", "y", "x"), frames.astype("float32")),
                         "max_depth_m": (("y", "x"), band.astype("float32")),
                         "max_speed_m_per_s": (("y", "x"), np.full_like(band, 1.2, dtype="float32")),
                         "arrival_time_s": (("y", "x"), arrival.astype("float32"))},
                        coords={"time": np.arange(7) * 1800.0, "y": y, "x": x},
                        attrs={"start_time": "2024-07-01T08:00:00"}).rio.write_crs(CRS_CASE)
        ds.to_netcdf(root / "inundation" / "inundation.nc")
    if "exposure" not in skip:
        (root / "exposure").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"village": ["V1", "V2", "V3", "V4"], "affected_persons": [120, 300, 0, 0],
                      "affected_households": [40, 95, 0, 0]}).to_csv(root / "exposure" / "villages.csv", index=False)
        v = case.villages.set_index("id")
        pts, rows = [], []
        for k in range(40):
            vid = "V1" if k < 15 else "V2"
            p = v.loc[vid].geometry
            pts.append(Point(p.x + 10 * (k % 7), p.y + 10 * (k // 7)))
            rows.append({"id": f"HH{k:03d}", "village": vid, "persons": 2 + k % 4, "elderly": k % 2,
                         "children": (k // 2) % 2, "disabled": int(k % 9 == 0), "head": f"张{k}",
                         "phone": f"1380000{k:04d}"})
        gpd.GeoDataFrame(rows, geometry=pts, crs=CRS_CASE).to_file(root / "exposure" / "households.gpkg")
    if "plan" not in skip:
        (root / "plan").mkdir(parents=True, exist_ok=True)
        v = case.villages.set_index("id")
        s = case.shelters.set_index("id")
        pd.DataFrame({"household": [f"HH{k:03d}" for k in range(40)],
                      "village": ["V1"] * 15 + ["V2"] * 25, "persons": [2 + k % 4 for k in range(40)],
                      "elderly": [k % 2 for k in range(40)], "children": [(k // 2) % 2 for k in range(40)],
                      "disabled": [int(k % 9 == 0) for k in range(40)], "priority": [k % 3 for k in range(40)],
                      "shelter": ["H1"] * 15 + ["H2"] * 25, "head": ["户主甲"] * 40,
                      "phone": ["13700000000"] * 40}
                     ).to_csv(root / "plan" / "plan.csv", index=False)
        routes = gpd.GeoDataFrame({"village": ["V1", "V2"], "shelter": ["H1", "H2"], "length_m": [900.0, 1500.0]},
                                  geometry=[LineString([v.loc["V1"].geometry, s.loc["H1"].geometry]),
                                            LineString([v.loc["V2"].geometry, s.loc["H2"].geometry])], crs=CRS_CASE)
        routes.to_file(root / "plan" / "plan.gpkg", layer="routes")
        sh = case.shelters.copy()
        sh["occupancy"] = [45, 80]
        sh.to_file(root / "plan" / "plan.gpkg", layer="shelters")
    if "typhoon" not in skip:
        (root / "typhoon").mkdir(parents=True, exist_ok=True)
        lon, lat = [121.5, 121.0, 120.4, 119.9], [28.0, 28.8, 29.6, 30.3]
        fixes = gpd.GeoDataFrame({"time": ["2024-07-01 00:00", "06:00", "12:00", "18:00"], "vmax_m_per_s": [45, 42, 35, 28]},
                                 geometry=[Point(a, b) for a, b in zip(lon, lat)], crs=4326)
        path = gpd.GeoDataFrame({"time": [""], "vmax_m_per_s": [0]}, geometry=[LineString(zip(lon, lat))], crs=4326)
        pd.concat([fixes, path]).to_file(root / "typhoon" / "track.geojson", driver="GeoJSON")
        circ = gpd.GeoDataFrame({"level": [7, 10]}, geometry=[Point(119.9, 30.3).buffer(2.0),
                                                              Point(119.9, 30.3).buffer(0.7)], crs=4326)
        circ.to_file(root / "typhoon" / "circles.geojson", driver="GeoJSON")
    return root
