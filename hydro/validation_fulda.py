"""Calibration and validation of the Xinanjiang runoff + Nash routing on real observations.

Data: the daily record of the Fulda at gauge Grebenau (Hesse, Germany; catchment 2976.41 km²,
1979-1988: precipitation, min/mean/max air temperature and observed discharge), shipped inside
the PyPI wheel of SPOTPY (Houska et al. 2015, PLoS ONE 10(12) e0145180) as
``spotpy/examples/cmf_data/fulda_climate.csv``; SPOTPY uses it for its CMF lumped-model example.
No download at run time: ``pip install spotpy`` (a ``dev`` extra of floodkit).

Potential evapotranspiration: Hargreaves & Samani (1985), Applied Engineering in Agriculture 1(2),
96-99, ET0 = 0.0023 Ra (Tmean + 17.8) sqrt(Tmax - Tmin), Ra from FAO-56 (Allen et al. 1998,
eq. 21-25) at latitude 50.8° N. Snow is not modelled (the forecast is for rain floods), which
costs some skill in winter.

Split: 1979 warm-up, calibration 1980-1983, validation 1984-1988 (split-sample test, Klemeš 1986).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

AREA_KM2 = 2976.41
LAT_DEG = 50.8
FREE = ("K", "WLM", "B", "SM", "KI", "CI", "CG", "lag_factor")


def data_path() -> Path:
    import spotpy

    return Path(spotpy.__file__).parent / "examples" / "cmf_data" / "fulda_climate.csv"


def load() -> pd.DataFrame:
    """Daily table: rain_mm, tmin, tmax, tmean, q_m3s, pet_mm (Hargreaves)."""
    df = pd.read_csv(data_path(), skiprows=[1])
    df.index = pd.to_datetime(df.pop("date"), format="%d.%m.%Y")
    df = df.rename(columns={"Prec": "rain_mm", "Q": "q_m3s"})
    doy = df.index.day_of_year.to_numpy()
    phi = np.radians(LAT_DEG)
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365)
    dec = 0.409 * np.sin(2 * np.pi * doy / 365 - 1.39)
    ws = np.arccos(-np.tan(phi) * np.tan(dec))
    ra = 24 * 60 / np.pi * 0.0820 * dr * (ws * np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.sin(ws))
    ra_mm = 0.408 * ra  # MJ m-2 d-1 -> mm d-1
    dt = np.clip(df["tmax"] - df["tmin"], 0, None)
    df["pet_mm"] = np.clip(0.0023 * ra_mm * (df["tmean"] + 17.8) * np.sqrt(dt), 0, None)
    return df


def simulate(df: pd.DataFrame, values: dict) -> np.ndarray:
    """Daily discharge (m3/s) of the lumped catchment for parameter ``values``."""
    from hydro.routing import convolve, nash_unit_hydrograph
    from hydro.runoff import initial_state, params_array, run_xinanjiang

    xaj = {k: v for k, v in values.items() if k != "lag_factor"}
    par = params_array(xaj)
    st = initial_state("normal", par)
    inflow, _ = run_xinanjiang(df["rain_mm"].to_numpy()[None], df["pet_mm"].to_numpy()[None], par, st, 24.0)
    lag_d = values.get("lag_factor", 1.0)  # here: the Nash lag in days (n = 2)
    uh = nash_unit_hydrograph(2.0, lag_d / 2.0, 1.0)
    q_mm = convolve(inflow, uh[None])[0]
    return q_mm * AREA_KM2 / 86.4


def run(maxiter: int = 40, seed: int = 0) -> dict:
    """Calibrate 1980-1983, validate 1984-1988; returns NSE/KGE/peak error per period and values."""
    from hydro.calibrate import bounds_for, fit, kge, nse, peak_error

    df = load()
    cal = (df.index >= "1980-01-01") & (df.index < "1984-01-01")
    val = df.index >= "1984-01-01"
    obs = df["q_m3s"].to_numpy()
    bounds = bounds_for(FREE[:-1]) + [(0.3, 4.0)]

    def sim_cal(values):
        return [simulate(df, values)[cal]]

    res = fit(sim_cal, [obs[cal]], FREE, "nse", maxiter=maxiter, popsize=10, seed=seed, bounds=bounds)
    s = simulate(df, res["values"])
    return {
        "values": res["values"],
        "calibration": {"nse": nse(s[cal], obs[cal]), "kge": kge(s[cal], obs[cal]), "peak_error": peak_error(s[cal], obs[cal])},
        "validation": {"nse": nse(s[val], obs[val]), "kge": kge(s[val], obs[val]), "peak_error": peak_error(s[val], obs[val])},
        "evaluations": res["evaluations"],
    }


if __name__ == "__main__":
    import time

    t0 = time.perf_counter()
    out = run()
    print(out, f"{time.perf_counter() - t0:.1f} s")
