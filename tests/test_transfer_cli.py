"""`exposure` and `plan` commands on (a thinned copy of) the sample case with a synthetic flood:
products, Chinese headers, masking, and bad input -> one line and exit code 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr

import cli

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "dongguanxi"
pytestmark = pytest.mark.skipif(not (SAMPLE / "case.toml").exists(), reason="sample case not generated")


def synthetic_flood(case_dir: Path, out: Path, width_m: float = 150.0, arrival0_s: float = 4 * 3600.0) -> Path:
    """Water along the rivers: 2.5 m on the channel falling to 0 at ``width_m``; it arrives later
    downstream (eastwards) and rises over an hour; snapshots every 30 minutes."""
    import rioxarray  # noqa: F401

    dem = xr.open_dataarray(case_dir / "dem.tif").squeeze("band", drop=True)
    rivers = gpd.read_file(case_dir / "rivers.geojson")
    X, Y = np.meshgrid(dem.x.values, dem.y.values)
    d = shapely.distance(shapely.union_all(rivers.geometry.values), shapely.points(X.ravel(), Y.ravel()))
    depth = np.clip(2.5 * (1 - d.reshape(X.shape) / width_m), 0, None)
    depth = np.where(np.isfinite(dem.values) & (dem.values > -1000), depth, np.nan)
    arrival = np.where(depth > 0, arrival0_s + (X - X.min()) / 4.0, np.nan)
    t = np.arange(0, 10 * 3600 + 1, 1800.0)
    snaps = np.stack([np.where(depth > 0, depth * np.clip((k - arrival) / 3600.0, 0, 1), 0) for k in t])
    ds = xr.Dataset({
        "max_depth_m": (("y", "x"), depth), "max_speed_m_per_s": (("y", "x"), 0.6 * depth),
        "arrival_time_s": (("y", "x"), arrival), "duration_s": (("y", "x"), np.where(depth > 0, 4 * 3600.0, 0)),
        "depth_m": (("time", "y", "x"), snaps.astype("f4")),
    }, coords={"x": dem.x.values, "y": dem.y.values, "time": t}, attrs={"start_time": "2019-08-10T02:00:00"})
    ds = ds.rio.write_crs(dem.rio.crs)
    out.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(out / "inundation.nc")
    return out


@pytest.fixture(scope="module")
def small_case(tmp_path_factory) -> Path:
    """The sample case with one household in ten, so the CLI test stays quick."""
    root = tmp_path_factory.mktemp("case") / "dongguanxi"
    shutil.copytree(SAMPLE, root)
    hh = gpd.read_file(root / "households.gpkg")
    hh.iloc[::10].to_file(root / "households.gpkg", driver="GPKG")
    synthetic_flood(root, root.parent / "inundation")
    return root


def test_exposure_and_plan_commands(small_case, tmp_path, capsys):
    inund = small_case.parent / "inundation"
    assert cli.main(["exposure", str(small_case), "--inundation", str(inund), "--out", str(tmp_path / "e")]) == 0
    v = pd.read_csv(tmp_path / "e" / "villages.csv", encoding="utf-8-sig")
    assert {"村名", "受影响人数", "重点人员", "游客", "最高风险等级", "包保责任人"} <= set(v.columns)
    s = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert v["受影响人数"].sum() == s["persons_exposed"] > 0
    assert cli.main(["plan", str(small_case), "--inundation", str(inund), "--out", str(tmp_path / "p"),
                     "--mask-personal"]) == 0
    p = pd.read_csv(tmp_path / "p" / "plan.csv", encoding="utf-8-sig", dtype=str)
    assert {"户主", "联系电话", "安置点", "步行时间(分钟)", "车行时间(分钟)", "最迟转移时间", "包保责任人", "责任人电话",
            "状态", "未安置原因"} <= set(p.columns)
    assert p["联系电话"].str.contains(r"^\d{3}\*{4}\d{4}$|^$", na=True).all()  # residents masked
    assert p["责任人电话"].str.match(r"^\d{11}$").all()  # the official's contact is not
    ps = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert ps["persons"] == s["persons_exposed"] + s["visitors_exposed"]
    assert ps["assigned_persons"] + ps["unplaced_persons"] == ps["persons"]
    layers = set(gpd.list_layers(tmp_path / "p" / "plan.gpkg")["name"])
    assert layers == {"households", "routes", "shelters"}
    sh = gpd.read_file(tmp_path / "p" / "plan.gpkg", layer="shelters")
    assert (sh["occupied"] <= sh["capacity"]).all()
    un = pd.read_csv(tmp_path / "p" / "unplaced.csv", encoding="utf-8-sig")
    assert len(un) == ps["unplaced_parties"]
    import openpyxl

    wb = openpyxl.load_workbook(tmp_path / "p" / "plan.xlsx", read_only=True)
    assert wb.sheetnames == ["转移安置清单", "未安置人员", "安置点"]


def test_run_stage_without_2d_product_does_quick_exposure_only(small_case, tmp_path, capsys):
    out = tmp_path / "run"
    t = pd.date_range("2019-08-10 00:00", periods=4, freq="h")
    fc = xr.Dataset({"stage": (("time", "section"), np.full((4, 3), 1e4))},
                    coords={"time": t, "section": ["S1", "S2", "S3"]})
    (out / "forecast").mkdir(parents=True)
    fc.to_netcdf(out / "forecast" / "forecast.nc")
    assert cli.main(["run", str(small_case), "--out", str(out), "--stages", "exposure,plan"]) == 0
    said = capsys.readouterr().out
    assert "quick exposure from the forecast only" in said
    q = pd.read_csv(out / "exposure" / "quick_exposure.csv", encoding="utf-8-sig")
    assert (q["受影响"] == "是").sum() == q["控制断面"].notna().sum() > 0
    assert not (out / "plan").exists()


def test_bad_inputs_exit_2_with_one_line(small_case, tmp_path, capsys):
    # an inundation grid that does not cover the households
    ds = xr.open_dataset(small_case.parent / "inundation" / "inundation.nc").load()
    small = ds.isel(x=slice(0, 40), y=slice(0, 40))
    (tmp_path / "small").mkdir()
    small.to_netcdf(tmp_path / "small" / "inundation.nc")
    rc = cli.main(["plan", str(small_case), "--inundation", str(tmp_path / "small"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "does not cover" in err[0]
    assert not (tmp_path / "o").exists()  # no partial outputs
    # a road network in another CRS
    gpd.read_file(small_case / "roads.geojson").to_crs("EPSG:4326").to_file(tmp_path / "wgs.gpkg", driver="GPKG")
    rc = cli.main(["plan", str(small_case), "--inundation", str(small_case.parent / "inundation"),
                   "--out", str(tmp_path / "o"), "--roads", str(tmp_path / "wgs.gpkg")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "EPSG:4549" in err[0] and "wgs.gpkg" in err[0]
    # a missing product
    rc = cli.main(["exposure", str(small_case), "--inundation", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert rc == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_population_raster_mode(small_case, tmp_path):
    import rioxarray  # noqa: F401

    dem = xr.open_dataarray(small_case / "dem.tif").squeeze("band", drop=True)
    pop = xr.zeros_like(dem, dtype="f4").rio.write_nodata(None)
    pop.values[::20, ::20] = 3.0  # 3 persons in one cell of 400
    pop = pop.where(np.isfinite(dem.values) & (dem.values > -1000), 0.0)
    pop.rio.to_raster(tmp_path / "pop.tif")
    inund = small_case.parent / "inundation"
    assert cli.main(["exposure", str(small_case), "--inundation", str(inund), "--out", str(tmp_path / "e"),
                     "--population", str(tmp_path / "pop.tif")]) == 0
    s = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert s["persons_exposed"] > 0 and s["persons_exposed"] % 3 == 0
    pop.rio.write_crs("EPSG:32650").rio.to_raster(tmp_path / "utm.tif")
    assert cli.main(["plan", str(small_case), "--inundation", str(inund), "--out", str(tmp_path / "p"),
                     "--population", str(tmp_path / "utm.tif")]) == 2


def test_households_outside_every_village_exit_2(small_case, tmp_path, capsys):
    case = tmp_path / "case"
    shutil.copytree(small_case, case)
    hh = gpd.read_file(case / "households.gpkg")
    hh.loc[0, "village"] = "V99"
    hh.to_file(case / "households.gpkg", driver="GPKG")
    rc = cli.main(["exposure", str(case), "--inundation", str(small_case.parent / "inundation"),
                   "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "V99" in err and "households" in err
    assert not (tmp_path / "o").exists()
