"""`python cli.py simulate`: products on good input, one line and exit 2 on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

import cli

CRS = "EPSG:4549"
T = from_origin(500000.0, 3350000.0, 10.0, 10.0)


def write_tif(path, arr, transform=T, crs=CRS, nodata=-9999.0):
    arr = np.asarray(arr, dtype="float32")
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(np.where(np.isnan(arr), nodata, arr), 1)
    return path


@pytest.fixture()
def inputs(tmp_path):
    yy, xx = np.mgrid[0:30, 0:40]
    dem = 10.0 - 0.05 * xx + 0.02 * np.abs(yy - 15)
    dem[0, 0] = np.nan
    write_tif(tmp_path / "dem.tif", dem)
    (tmp_path / "rain.csv").write_text("time_s,rain_mm_per_h\n0,40\n600,80\n1200,0\n")
    (tmp_path / "inflow.csv").write_text(
        "name,x,y,time_s,discharge_m3_per_s\n上游,500015,3349845,0,0\n上游,500015,3349845,900,3\n")
    return tmp_path


def run(*args):
    return cli.main(["simulate", *map(str, args)])


def test_simulate_writes_every_product(inputs, capsys):
    out = inputs / "out"
    rc = run("--dem", inputs / "dem.tif", "--rain", inputs / "rain.csv", "--inflow", inputs / "inflow.csv",
             "--boundary", "open", "--duration", 1800, "--output-interval", 600, "--out", out,
             "--summary-json", inputs / "s.json", "--quiet")
    assert rc == 0, capsys.readouterr().err
    for name in ("inundation.nc", "extent.gpkg", "water_balance.csv", "summary.json"):
        assert (out / name).exists(), name
    s = json.loads((inputs / "s.json").read_text())
    for key in ("cells", "steps", "wall_seconds", "cell_updates_per_second", "volume_error_relative"):
        assert key in s
    assert s["cells"] == 30 * 40 - 1
    assert s["volume_error_relative"] < 1e-6
    assert s["inflow_m3"] == pytest.approx(0.5 * 3 * 900 + 3 * 900, rel=1e-6)
    ds = xr.open_dataset(out / "inundation.nc", decode_coords="all")
    for v in ("depth_m", "max_depth_m", "max_speed_m_per_s", "max_depth_velocity_m2_per_s", "arrival_time_s",
              "duration_s", "time_of_max_depth_s"):
        assert v in ds, v
    assert ds["depth_m"].sizes["time"] == 4
    assert ds.rio.crs.to_epsg() == 4549
    assert np.isnan(ds["max_depth_m"].values[0, 0])
    assert ds.attrs["stats_interval_s"] == 5.0 and s["stats_interval_s"] == 5.0
    snaps = ds["depth_m"].fillna(0).max("time")  # the outputs are sampled at every output time too
    assert bool((ds["max_depth_m"].fillna(0) >= snaps).all())
    wb = (out / "water_balance.csv").read_text().splitlines()
    assert wb[0] == "time_s,rain_m3,inflow_m3,stage_m3,outflow_m3,storage_m3,error_m3"


def test_stage_line_and_hot_start(inputs, capsys):
    (inputs / "stage.csv").write_text("name,x,y,x2,y2,time_s,stage_m\n"
                                      "west,500005,3349985,500005,3349705,0,10.5\nwest,500005,3349985,500005,3349705,600,10.5\n")
    base = ["--dem", inputs / "dem.tif", "--stage", inputs / "stage.csv", "--output-interval", 300, "--quiet"]
    assert run(*base, "--duration", 600, "--out", inputs / "a", "--checkpoint", inputs / "ck.npz") == 0
    assert run(*base, "--duration", 900, "--out", inputs / "b", "--hot-start", inputs / "ck.npz") == 0
    assert run(*base, "--duration", 900, "--out", inputs / "c") == 0
    b = xr.open_dataset(inputs / "b" / "inundation.nc")
    c = xr.open_dataset(inputs / "c" / "inundation.nc")
    np.testing.assert_array_equal(b["max_depth_m"].values, c["max_depth_m"].values)
    assert float(c["max_depth_m"].max()) > 0.3


@pytest.mark.parametrize("case", ["manning_shape", "manning_transform", "manning_crs", "inflow_outside", "n_zero",
                                  "negative_duration", "unreadable", "rain_grid_shape", "froude_zero",
                                  "stats_interval_negative", "kinematic_courant_above_1"])
def test_bad_input_exits_2_with_one_line(inputs, capsys, case):
    args = ["--dem", inputs / "dem.tif", "--duration", 600]
    if case == "manning_shape":
        args += ["--manning", write_tif(inputs / "n.tif", np.full((20, 40), 0.04))]
    elif case == "manning_transform":
        args += ["--manning", write_tif(inputs / "n.tif", np.full((30, 40), 0.04), transform=from_origin(0, 0, 10, 10))]
    elif case == "manning_crs":
        args += ["--manning", write_tif(inputs / "n.tif", np.full((30, 40), 0.04), crs="EPSG:32650")]
    elif case == "inflow_outside":
        (inputs / "far.csv").write_text("name,x,y,time_s,discharge_m3_per_s\nfar,400000,3349845,0,1\n")
        args += ["--inflow", inputs / "far.csv"]
    elif case == "n_zero":
        args += ["--manning", "0"]
    elif case == "froude_zero":
        args += ["--froude-max", "0"]
    elif case == "kinematic_courant_above_1":
        args += ["--kinematic-courant", "1.5"]
    elif case == "stats_interval_negative":
        args += ["--stats-interval", "-5"]
    elif case == "negative_duration":
        args[-1] = -60
    elif case == "unreadable":
        (inputs / "bad.tif").write_bytes(b"not a raster")
        args[1] = inputs / "bad.tif"
    elif case == "rain_grid_shape":
        ds = xr.Dataset({"rain_mm_per_h": (("time", "y", "x"), np.ones((2, 5, 5), "float32"))},
                        coords={"time": np.array(["2024-07-01T00", "2024-07-01T01"], "datetime64[ns]"),
                                "y": np.arange(5.0), "x": np.arange(5.0)})
        ds.to_netcdf(inputs / "rain.nc", engine="h5netcdf")
        args += ["--rain", inputs / "rain.nc"]
    out = inputs / "out_bad"
    rc = run(*args, "--out", out, "--quiet")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: ")
    assert "Traceback" not in err[0]
    assert not (out / "inundation.nc").exists()


def test_simulate_defaults_are_the_solvers():
    """The parser repeats the solver's defaults (so that `--help` needs no numba import): they must agree."""
    from hydro.inundation import SimulationOptions

    a = cli.build_parser().parse_args(["simulate", "--dem", "d.tif", "--duration", "1", "--out", "o"])
    o = SimulationOptions()
    for name in ("alpha", "froude_max", "kinematic_courant", "stats_interval", "lts_levels"):
        assert getattr(a, name) == getattr(o, name), name
