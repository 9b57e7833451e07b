"""The forecast chain on the sample case: thresholds, calibration recovery, CLI products and bad input."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import cli
from hydro.calibrate import calibrate_case, write_params_toml
from hydro.forecast import ForecastModel, case_subbasin_rain, forecast, load_params
from hydro.thresholds import critical_rainfall
from hydro.warnings import MOVE, PREPARE

CASE = Path(__file__).resolve().parents[1] / "data_samples" / "dongguanxi"
pytestmark = pytest.mark.skipif(not (CASE / "case.toml").is_file(), reason="sample case not generated")


@pytest.fixture(scope="module")
def case():
    from gis.case import load_case

    return load_case(CASE)


@pytest.fixture(scope="module")
def model(case):
    return ForecastModel.from_case(case, {})


def test_thresholds_are_ordered_by_stage_and_soil(case, model):
    v = case.villages.iloc[[0, 6, 12]]
    th = critical_rainfall(model, v, case.design_storms, durations=(1, 6))
    piv = th.pivot_table(index=["village", "duration_h", "condition"], columns="stage", values="critical_rain_mm")
    assert np.all(piv[MOVE] >= piv[PREPARE])
    for (vid, d), g in th[th["stage"] == MOVE].groupby(["village", "duration_h"]):
        c = g.set_index("condition")["critical_rain_mm"]
        assert c["wet"] < c["normal"] < c["dry"], (vid, d)
    # longer storms need more rain to reach the same level
    one = th[(th.duration_h == 1)].set_index(["village", "condition", "stage"])["critical_rain_mm"]
    six = th[(th.duration_h == 6)].set_index(["village", "condition", "stage"])["critical_rain_mm"]
    assert np.all(six >= one)
    # the root really is the level: rain at the threshold reaches it, 5 % less does not
    row = th[(th.duration_h == 6) & (th.condition == "normal") & (th.stage == MOVE)].iloc[0]
    from hydro.thresholds import TAIL_H, storm_shape

    j = model.section_ids.index(row["control_section"])
    pat = np.concatenate([storm_shape(case.design_storms, 6), np.zeros(TAIL_H)])
    for f, expect in ((1.01, True), (0.95, False)):
        rain = np.repeat((f * row["critical_rain_mm"] * pat)[:, None], len(model.subbasin_ids), axis=1)
        q, _ = model.run(rain[None], "normal")
        assert (model.hydraulics(q)["stage"][0, j].max() >= row["level_m"]) == expect


def test_calibration_recovers_known_parameters(case, model, tmp_path):
    truth = {"B": 0.45, "SM": 22.0, "lag_factor": 1.8}
    from hydro.calibrate import model_with

    m = model_with(model, {"lag_factor": 1.0}, truth)
    ev = case.events["event_2022_convective_like"]
    r = case_subbasin_rain(case, ev)[model.subbasin_ids].to_numpy()
    q, _ = m.run(r[None], "normal")
    df = ev.copy()
    df["Q_S3"] = q[0, 2]
    df["Q_S1"] = q[0, 0]
    path = tmp_path / "obs.csv"
    df.reset_index().assign(time=lambda d: d["time"].dt.strftime("%Y-%m-%d %H:%M")).to_csv(path, index=False)
    res = calibrate_case(case, [path], names=list(truth), maxiter=30, seed=1)
    assert min(res["nse"]) > 0.999
    for k, v in truth.items():
        assert res["values"][k] == pytest.approx(v, rel=0.1), k
    out = write_params_toml(tmp_path / "forecast_params.toml", res["params"], res, [path])
    import tomllib

    back = tomllib.loads(out.read_text())
    assert back["routing"]["lag_factor"] == pytest.approx(truth["lag_factor"], rel=0.1)


def test_params_file_named_in_case_toml_is_used(case, tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "case.toml").write_text('[forecast]\nparams = "p.toml"\n')
    (root / "p.toml").write_text("[xinanjiang]\nSM = 50.0\n[routing]\nlag_factor = 2.0\n")

    class Fake:
        config = {}

    f = Fake()
    f.root = root
    assert load_params(f) == {"xinanjiang": {"SM": 50.0}, "routing": {"lag_factor": 2.0}}


def test_forecast_dataset_and_cli_products(case, tmp_path, capsys):
    r = case_subbasin_rain(case, design_storm="50y")
    ds, _ = forecast(case, r, "wet")
    assert set(ds.data_vars) >= {"discharge", "stage", "velocity", "depth", "rain_mm_per_h"}
    assert ds["discharge"].dims == ("time", "section") and "issue_time" in ds.attrs
    # runoff volume at the last section cannot exceed the rain on its catchment
    m = ForecastModel.from_case(case)
    up = m.upstream_subbasins("S3")
    rain_m3 = (ds["rain_mm_per_h"].values[:, up].sum(axis=0) * m.area_km2[up] * 1e3).sum()
    assert ds["discharge"].sel(section="S3").sum() * 3600 < rain_m3
    out = tmp_path / "fc"
    rc = cli.main(["forecast", str(CASE), "--design-storm", "50y", "--state", "wet", "--members", "50", "--out", str(out)])
    assert rc == 0
    for name in ("forecast.nc", "warnings.csv", "thresholds.csv", "hydrograph_S1.png"):
        assert (out / name).is_file(), name
    w = pd.read_csv(out / "warnings.csv")
    assert set(w["kind"]) == {"section", "village"} and {"p_warning", "p_danger"} <= set(w.columns)
    th = pd.read_csv(out / "thresholds.csv")
    assert len(th) == 17 * 4 * 3 * 2
    back = xr.open_dataset(out / "forecast.nc")
    assert float(back["stage"].sel(section="S3").max()) > float(back["danger_level_m"].sel(section="S3"))


def _bad(args, capsys):
    rc = cli.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


@pytest.mark.parametrize("text,match", [
    ("time,G01\n2024-07-01 00:00,1\n2024-07-01 01:00,-3\n", "negative rain"),
    ("time,G01\n2024-07-01 00:00,1\n2024-07-01 01:00,nan\n", "NaN rain"),
    ("time,G01\n2024-07-01 00:00,1\n2024-07-01 04:00,2\n", "gap in the time series"),
])
def test_cli_bad_rain_exits_2_with_one_line(tmp_path, capsys, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    out = tmp_path / "o"
    rc, err = _bad(["forecast", str(CASE), "--rain", str(p), "--out", str(out)], capsys)
    assert rc == 2 and len(err) == 1 and "bad.csv" in err[0] and match in err[0]
    assert not out.exists()


def test_cli_unknown_storm_and_uncovering_grid(tmp_path, capsys, case):
    rc, err = _bad(["forecast", str(CASE), "--design-storm", "1000y", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and len(err) == 1 and "design storm '1000y' is not defined" in err[0]
    # a grid over only the western part of the catchment
    x0, y0, x1, y1 = case.subbasins.total_bounds
    x = np.arange(x0, x0 + (x1 - x0) / 3, 1000.0)
    y = np.arange(y1, y0, -1000.0)
    t = pd.date_range("2024-07-01", periods=3, freq="h")
    da = xr.DataArray(np.ones((3, len(y), len(x))), dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x})
    da = da.rio.write_crs("EPSG:4549")
    p = tmp_path / "grid.nc"
    da.to_dataset(name="rain_mm_per_h").to_netcdf(p, engine="h5netcdf")
    rc, err = _bad(["forecast", str(CASE), "--rain", str(p), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and len(err) == 1 and "does not cover sub-basin" in err[0]


def test_cli_flat_profile_exits_2(tmp_path, capsys):
    import geopandas as gpd

    root = tmp_path / "case"
    shutil.copytree(CASE, root, ignore=shutil.ignore_patterns("households.gpkg.*"))
    sec = gpd.read_file(root / "sections.geojson")
    sec.loc[1, "profile"] = "0,300;50,300;100,300"
    sec.to_file(root / "sections.geojson", driver="GeoJSON")
    rc, err = _bad(["forecast", str(root), "--design-storm", "50y", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and len(err) >= 1 and all("profile" in e or "section" in e for e in err)
