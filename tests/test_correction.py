"""Real-time correction (实时校正): causality, observed values kept, skill on a twin experiment, products, bad input."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import cli
from hydro.correction import ar1_correct, lead_forecasts

CASE = Path(__file__).resolve().parents[1] / "data_samples" / "dongguanxi"


def _series(n=120, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    truth = 20 + 300 * np.exp(-0.5 * ((t - 40) / 8) ** 2) + 150 * np.exp(-0.5 * ((t - 85) / 6) ** 2)
    sim = 0.7 * truth + 5  # a biased model
    obs = truth * np.exp(rng.normal(0, 0.03, n))
    return sim, obs


def test_correction_is_causal_and_keeps_observations():
    sim, obs = _series()
    part = obs.copy()
    part[60:] = np.nan  # observations up to step 59
    c_part, _ = ar1_correct(sim, part)
    c_full, _ = ar1_correct(sim, obs)
    # later observations never change an earlier step; an observation stays at its own time
    np.testing.assert_array_equal(c_part[:60], c_full[:60])
    np.testing.assert_array_equal(c_full, obs)
    np.testing.assert_array_equal(c_part[:60], obs[:60])
    # after the last observation the error decays with phi^k toward the simulation
    e = np.abs(c_part[60:] - sim[60:])
    assert np.all(np.diff(e) <= 1e-9) and e[0] > 0
    # no observation at all: the simulation unchanged
    c_none, _ = ar1_correct(sim, np.full_like(sim, np.nan))
    np.testing.assert_array_equal(c_none, sim)


def test_lead_forecasts_beat_the_biased_model_and_use_only_the_past():
    from hydro.calibrate import nse

    sim, obs = _series()
    for k in (1, 3, 6):
        fc = lead_forecasts(sim, obs, k)
        ok = np.isfinite(fc)
        assert ok[:k].sum() == 0 and ok[k:].all()
        assert nse(fc[ok], obs[ok]) > nse(sim[ok], obs[ok])
        # the forecast for step t issued at t - k does not move when observations after t - k change
        obs2 = obs.copy()
        obs2[50:] *= 2.0
        fc2 = lead_forecasts(sim, obs2, k)
        np.testing.assert_array_equal(fc[: 50 + k], fc2[: 50 + k])


# ----------------------------------------------------------------------------- on the sample


@pytest.fixture(scope="module")
def case():
    if not (CASE / "case.toml").is_file():
        pytest.skip("sample case not generated")
    from gis.case import load_case

    return load_case(CASE)


def _twin_obs(case, path, every=1, until=None, stage_at=None):
    """Truth = more rain and other parameters than the forecast model; observed discharge (stage at
    ``stage_at`` sections) on the forecast grid."""
    from hydro.calibrate import model_with
    from hydro.forecast import ForecastModel, case_subbasin_rain

    model = ForecastModel.from_case(case)
    truth = model_with(model, {"lag_factor": 1.0}, {"B": 0.45, "SM": 22.0, "lag_factor": 1.6})
    r = case_subbasin_rain(case, design_storm="20y")
    rr = np.vstack([r[model.subbasin_ids].to_numpy(), np.zeros((24, len(model.subbasin_ids)))])
    q, _ = truth.run(1.3 * rr[None], "normal")
    times = pd.date_range(r.index[0], periods=rr.shape[0], freq="h")
    rows = []
    for j, s in enumerate(model.section_ids):
        for i in range(0, len(times) if until is None else until, every):
            if stage_at and s in stage_at:
                rows.append({"time": f"{times[i]:%Y-%m-%d %H:%M}", "section": model.section_names[j],
                             "stage_m": float(model.ratings[s].stage(q[0, j, i])), "discharge_m3_per_s": ""})
            else:
                rows.append({"time": f"{times[i]:%Y-%m-%d %H:%M}", "section": s, "stage_m": "",
                             "discharge_m3_per_s": round(float(q[0, j, i]), 4)})
    pd.DataFrame(rows).to_csv(path, index=False)
    return q[0], times


def test_forecast_with_observed_keeps_both_and_warns_from_the_corrected(case, tmp_path):
    obs = tmp_path / "obs.csv"
    q_true, times = _twin_obs(case, obs, until=6, stage_at={"S2"})  # observed up to 05:00, 白鹤 as stages
    out = tmp_path / "fc"
    rc = cli.main(["forecast", str(CASE), "--design-storm", "20y", "--observed", str(obs), "--out", str(out)])
    assert rc == 0
    ds = xr.open_dataset(out / "forecast.nc")
    for v in ("discharge", "stage", "channel_velocity"):
        assert f"{v}_uncorrected" in ds and ds[v].dims == ds[f"{v}_uncorrected"].dims
    q = ds["discharge"].transpose("section", "time").values
    qu = ds["discharge_uncorrected"].transpose("section", "time").values
    # observed steps: the observation, at its time (the stage through the rating for 白鹤)
    np.testing.assert_allclose(q[[0, 2], :6], q_true[[0, 2], :6], rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(q[1, :6], q_true[1, :6], rtol=2e-3, atol=0.05)
    # after them the observed error fades into the uncorrected forecast (phi^k, 0 <= phi < 1)
    gap = np.abs(q[:, 5:] - qu[:, 5:])
    assert np.all(np.diff(gap, axis=1) <= 1e-6 + 1e-9 * gap[:, 1:]) and np.all(gap[:, 1] > 0)
    phi = ds["correction_phi"].values
    assert np.all((phi >= 0) & (phi < 1))
    # warnings come from the corrected stage
    w = pd.read_csv(out / "warnings.csv")
    sec = w[w["kind"] == "section"].set_index("id")
    for s in ds["section"].values:
        assert sec.loc[str(s), "peak_stage_m"] == pytest.approx(float(ds["stage"].sel(section=s).max()), abs=1e-3)
    assert ds.attrs["last_observation_time"].startswith(f"{times[5]:%Y-%m-%dT%H:%M}")


def _bad(args, capsys):
    rc = cli.main(args)
    return rc, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("text,match", [
    ("time,section,stage_m\n2000-07-01 03:00,S9,300\n", "section 'S9' is not a section of the case"),
    ("time,section,discharge_m3_per_s\n2000-07-01 03:20,S1,30\n", "is not on the forecast's 60-minute steps"),
    ("time,section,discharge_m3_per_s\n2030-07-01 03:00,S1,30\n", "is not on the forecast's"),
    ("time,section,discharge_m3_per_s\n2000-07-01 03:00,S1,\n", "no stage_m or discharge_m3_per_s value"),
    ("time,station,q\n2000-07-01 03:00,S1,3\n", "give columns time,section"),
])
def test_bad_observations_are_one_line_exit_2(case, tmp_path, capsys, text, match):
    p = tmp_path / "obs.csv"
    p.write_text(text, encoding="utf-8")
    out = tmp_path / "o"
    rc, err = _bad(["forecast", str(CASE), "--design-storm", "20y", "--observed", str(p), "--out", str(out)], capsys)
    assert rc == 2 and len(err) == 1 and "obs.csv: " in err[0] and match in err[0], err
    assert not out.exists()


def test_correction_improves_one_step_nse_on_a_twin_experiment(case, tmp_path):
    """Truth: 30 % more rain and other parameters; observed every hour; the 1-hour-ahead corrected
    forecast beats the model at every section (NSE over the whole event)."""
    from hydro.calibrate import nse
    from hydro.correction import read_observations
    from hydro.forecast import ForecastModel, case_subbasin_rain, forecast

    q_true, times = _twin_obs(case, tmp_path / "obs.csv")
    model = ForecastModel.from_case(case)
    ds, _ = forecast(case, case_subbasin_rain(case, design_storm="20y"), "normal", model=model)
    obs = read_observations(tmp_path / "obs.csv", model, pd.DatetimeIndex(ds["time"].values))
    sim = ds["discharge"].transpose("section", "time").values
    for j, s in enumerate(model.section_ids):
        o = obs[s].to_numpy()
        fc = lead_forecasts(sim[j], o, 1)
        ok = np.isfinite(fc)
        assert nse(fc[ok], o[ok]) > nse(sim[j][ok], o[ok]) + 0.05, s


@pytest.mark.slow
def test_correction_improves_one_step_nse_on_the_real_fulda_record():
    pytest.importorskip("spotpy")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_correction import fulda

    rows = {r["lead"]: r for r in fulda()}
    assert rows[1]["nse_with"] > rows[1]["nse_without"] + 0.05
    assert rows[6]["nse_with"] >= rows[6]["nse_without"] - 0.01
