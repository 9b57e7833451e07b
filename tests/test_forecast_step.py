"""Any regular step of 5-60 minutes through the forecast: rain, design storms, Xinanjiang, unit
hydrographs, routing, warnings, critical rainfall, and the inundation forcing downstream."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cli
from gis.errors import InputError
from hydro import rainfall as rf
from hydro.warnings import max_window_rain

CASE = Path(__file__).resolve().parents[1] / "data_samples" / "dongguanxi"


@pytest.fixture(scope="module")
def case():
    if not (CASE / "case.toml").is_file():
        pytest.skip("sample case not generated")
    from gis.case import load_case

    return load_case(CASE)


def test_to_step_keeps_volume_both_ways():
    idx = pd.date_range("2024-07-01 00:00", periods=5, freq="h", name="time")
    df = pd.DataFrame({"a": [0.0, 12.0, 30.0, 4.0, 1.0]}, index=idx)
    fine = rf.to_step(df, 15)
    assert len(fine) == 20 and rf.step_minutes(fine) == 15
    assert (fine["a"].sum() * 0.25) == pytest.approx(df["a"].sum())  # mm/h x h
    back = rf.to_step(fine, 60)
    pd.testing.assert_frame_equal(back, df, check_freq=False)
    with pytest.raises(InputError, match="divides the hour"):
        rf.to_step(df, 7)
    odd = rf.to_step(df, 20).iloc[1:]  # starts at 00:20
    with pytest.raises(InputError, match="not on a 60-minute boundary"):
        rf.to_step(odd, 60)
    assert rf.parse_step("15min") == 15 and rf.parse_step("1h") == 60 and rf.parse_step("30") == 30
    with pytest.raises(InputError, match="--step"):
        rf.parse_step("45")


def test_gauge_csv_at_15_minutes_holds_depths_per_step(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("time,g1\n2024-07-01 00:00,1\n2024-07-01 00:15,3\n2024-07-01 00:30,0\n2024-07-01 00:45,2\n")
    df = rf.read_gauge_csv(p, ["g1"])
    np.testing.assert_allclose(df["g1"].to_numpy(), [4, 12, 0, 8])  # mm per 15 min -> mm/h
    assert rf.step_minutes(df) == 15
    p.write_text("time,g1\n2024-07-01 00:00,1\n2024-07-01 00:15,3\n2024-07-01 00:45,2\n")
    with pytest.raises(InputError, match="gap in the time series after 2024-07-01 00:15"):
        rf.read_gauge_csv(p, ["g1"])


def test_max_window_rain_counts_hours_at_any_step():
    hourly = np.array([0, 10, 20, 5, 0], float)
    fine = np.repeat(hourly, 4)
    for d in (1, 3):
        assert max_window_rain(fine, d, 0.25) == pytest.approx(max_window_rain(hourly, d, 1.0))


def test_case_event_at_15_minutes(tmp_path):
    from gis.case import read_hourly_csv

    p = tmp_path / "e.csv"
    p.write_text("time,G01\n2024-07-01 00:00,2\n2024-07-01 00:15,1\n2024-07-01 00:30,0\n")
    df, probs = read_hourly_csv(p, allowed_columns={"G01"})
    assert probs == [] and np.allclose(df["G01"], [8, 4, 0])
    p.write_text("time,G01\n2024-07-01 00:00,2\n2024-07-01 00:07,1\n")
    _, probs = read_hourly_csv(p, allowed_columns={"G01"})
    assert any("time step of 7 min" in str(x) for x in probs)


def test_15_minute_and_hourly_runs_of_the_same_storm(case):
    from hydro.forecast import ForecastModel, case_subbasin_rain, forecast
    from hydro.runoff import run_xinanjiang

    out = {}
    for step in (60, 15):
        r = case_subbasin_rain(case, design_storm="50y", step_min=step)
        model = ForecastModel.from_case(case, dt_h=step / 60)
        ds, _ = forecast(case, r, "normal", 72, model)
        dt_h = step / 60
        rain_mm = ds["rain_mm_per_h"].values * dt_h
        st = model.initial_state("normal", 1)
        runoff, _ = run_xinanjiang(np.ascontiguousarray(rain_mm.T), model.pet_mm_per_h * dt_h, model.xaj, st, dt_h)
        up = model.upstream_subbasins(model.section_ids[-1])
        out[step] = {"rain": rain_mm.sum(axis=0), "runoff": runoff.sum(axis=1) @ model.area_km2 * 1e3,
                     "runoff_last": runoff.sum(axis=1)[up] @ model.area_km2[up] * 1e3,
                     "volume": ds["discharge"].values.sum(axis=0) * step * 60, "q": ds["discharge"],
                     "step": ds.attrs["step_minutes"]}
    a, b = out[60], out[15]
    assert (a["step"], b["step"]) == (60, 15)
    np.testing.assert_allclose(b["rain"], a["rain"], rtol=1e-9)  # the same storm, mm
    # Xinanjiang at 15 min vs 1 h: the same rain, runoff differing only by the nonlinearity of its storage
    # curves applied per step (about 1 % on this storm)
    assert b["runoff"] == pytest.approx(a["runoff"], rel=1.5e-2)
    # routed volume at every section (72 dry hours after the storm): the runoff difference plus the small
    # volume error of variable-parameter Muskingum-Cunge
    np.testing.assert_allclose(b["volume"], a["volume"], rtol=2e-2)
    # what reaches the last section is the runoff of its catchment less the volume variable-parameter
    # Muskingum-Cunge loses (Ponce & Chaganti 1994): measured 1.8 % over two reaches at 1 h, 0.2 % at 15 min
    assert a["volume"][-1] == pytest.approx(a["runoff_last"], rel=2.5e-2)
    assert b["volume"][-1] == pytest.approx(b["runoff_last"], rel=5e-3)
    for s in a["q"]["section"].values:
        qa, qb = a["q"].sel(section=s), b["q"].sel(section=s)
        # the peaks differ as the model says (a finer step splits each burst's runoff between the fast
        # surface and the slower interflow store of Xinanjiang differently) but stay of one size, within an hour
        assert float(qb.max()) == pytest.approx(float(qa.max()), rel=0.25), s
        ta, tb = pd.Timestamp(qa.idxmax("time").values), pd.Timestamp(qb.idxmax("time").values)
        assert abs(tb - ta) <= pd.Timedelta(hours=1), s


def test_critical_rainfall_at_15_minutes_is_close_to_hourly(case):
    from hydro.forecast import ForecastModel
    from hydro.thresholds import critical_rainfall

    v = case.villages.iloc[[0, 12]]
    th = {}
    for step in (60, 15):
        model = ForecastModel.from_case(case, dt_h=step / 60)
        th[step] = critical_rainfall(model, v, case.design_storms, durations=(3,), conditions=("normal",))
    a = th[60]["critical_rain_mm"].to_numpy()
    b = th[15]["critical_rain_mm"].to_numpy()
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b))
    # the same storm shape and model at a finer step: thresholds of the same size (within 20 %)
    np.testing.assert_allclose(b, a, rtol=0.2)


def test_inundation_forcing_reads_the_15_minute_step(case, tmp_path):
    from hydro.forecast import ForecastModel, case_subbasin_rain, forecast
    from hydro.inundation.run import _forecast_forcing, floor_share, valley_floor_mask

    model = ForecastModel.from_case(case, dt_h=0.25)
    ds, _ = forecast(case, case_subbasin_rain(case, design_storm="50y", step_min=15), "wet", 24, model)
    path = tmp_path / "forecast.nc"
    ds.to_netcdf(path)
    share = floor_share(case, valley_floor_mask(case))
    rain, inflows, _, _, notes = _forecast_forcing(case, path, case.dem, share)
    step = 900.0
    assert np.allclose(np.diff(inflows[0].times_s), step) and np.allclose(np.diff(rain.times_s), step)
    v_inflow = sum(float(h.values.sum()) * step for h in inflows)
    sb = case.subbasins.set_index("id")
    up = sb.index[sb["outlet_section"].isin(["S1", "S2", "S3"])]
    floor_area_up = float((share[up] * sb.geometry.area[up]).sum())
    v_rain = float(np.sum(rain.rate_mm_per_h)) * step / 3600.0 * rain.runoff_coefficient / 1000.0 * floor_area_up
    v_last = float(ds["discharge"].sel(section="S3").values.sum()) * step
    assert 0.3 < notes["runoff_coefficient_on_floor"] < 1.0
    assert abs(v_inflow + v_rain - v_last) / v_last < 0.03


def test_cli_step_option(case, tmp_path, capsys):
    out = tmp_path / "fc"
    assert cli.main(["forecast", str(CASE), "--design-storm", "10y", "--step", "15min", "--out", str(out)]) == 0
    import xarray as xr

    ds = xr.open_dataset(out / "forecast.nc")
    assert (pd.Timestamp(ds["time"].values[1]) - pd.Timestamp(ds["time"].values[0])) == pd.Timedelta(minutes=15)
    assert "channel_velocity" in ds and ds.attrs["step_minutes"] == 15
    w = pd.read_csv(out / "warnings.csv")
    assert "peak_channel_velocity_m_per_s" in w.columns
    capsys.readouterr()
    rc = cli.main(["forecast", str(CASE), "--design-storm", "10y", "--step", "7min", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--step" in err[0] and "7 minutes" in err[0]


@pytest.mark.slow
def test_run_whole_chain_at_15_minutes(case, tmp_path):
    """``run --step 15min``: forecast, inundation, exposure, plan and map all take the 15-min forecast
    (19 s on 2 cores when quiet; about 10 minutes when the cores were shared with a load of 8)."""
    out = tmp_path / "run"
    rc = cli.main(["run", str(CASE), "--out", str(out), "--step", "15min",
                   "--stages", "forecast,inundation,exposure,plan,map"])
    assert rc == 0
    for p in ("forecast/forecast.nc", "inundation/inundation.nc", "exposure/villages.csv", "plan/plan.csv",
              "map.html"):
        assert (out / p).is_file(), p
