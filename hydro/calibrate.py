"""Calibration of the forecast model to observed events by differential evolution.

- Storn, R. & Price, K. (1997). Differential evolution - a simple and efficient heuristic for global
  optimization over continuous spaces. J. Global Optim. 11, 341-359 (``scipy.optimize.differential_evolution``).
- Nash, J. E. & Sutcliffe, J. V. (1970). River flow forecasting through conceptual models part I.
  J. Hydrol. 10(3), 282-290: NSE = 1 - sum (s - o)^2 / sum (o - mean o)^2.
- Gupta, H. V., Kling, H., Yilmaz, K. K. & Martinez, G. F. (2009). Decomposition of the mean squared
  error and NSE performance criteria. J. Hydrol. 377, 80-91: KGE = 1 - sqrt((r-1)^2 + (a-1)^2 + (b-1)^2).
- Peak error: relative error of the event peak, (max s - max o) / max o (GB/T 22482-2008 flood
  forecasting standard uses |peak error| <= 20 % as "qualified").

Case events for ``floodkit calibrate`` are hourly CSVs with the gauge rain columns of the case
plus one or more observed columns ``Q_<section id>`` (m3/s) or ``H_<section id>`` (stage, m, turned
into discharge through the section's Manning rating). The fitted values are written back as
``forecast_params.toml`` for ``case.toml`` to name under ``[forecast] params``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import differential_evolution

from gis.errors import InputError
from hydro import core_xinanjiang as core
from hydro.runoff import PARAM_BOUNDS

ROUTING_BOUNDS = {"lag_factor": (0.3, 4.0), "nash_n": (1.0, 6.0)}
DEFAULT_FREE = ("B", "SM", "KI", "CI", "lag_factor")


def nse(sim: np.ndarray, obs: np.ndarray) -> float:
    """Nash-Sutcliffe efficiency (1970)."""
    sim, obs = np.asarray(sim, float), np.asarray(obs, float)
    return float(1.0 - np.sum((sim - obs) ** 2) / np.sum((obs - obs.mean()) ** 2))


def kge(sim: np.ndarray, obs: np.ndarray) -> float:
    """Kling-Gupta efficiency (Gupta et al. 2009)."""
    sim, obs = np.asarray(sim, float), np.asarray(obs, float)
    r = np.corrcoef(sim, obs)[0, 1] if sim.std() > 0 else 0.0
    return float(1.0 - np.sqrt((r - 1) ** 2 + (sim.std() / obs.std() - 1) ** 2 + (sim.mean() / obs.mean() - 1) ** 2))


def peak_error(sim: np.ndarray, obs: np.ndarray) -> float:
    """Relative error of the peak (max sim - max obs) / max obs."""
    return float((np.max(sim) - np.max(obs)) / np.max(obs))


def bounds_for(names: Sequence[str]) -> list[tuple[float, float]]:
    out = []
    for n in names:
        if n in PARAM_BOUNDS:
            out.append(PARAM_BOUNDS[n])
        elif n in ROUTING_BOUNDS:
            out.append(ROUTING_BOUNDS[n])
        else:
            raise InputError("calibrate", f"unknown parameter '{n}'",
                             f"use Xinanjiang {', '.join(core.PARAM_NAMES)} or {', '.join(ROUTING_BOUNDS)}")
    return out


def fit(simulate: Callable[[dict], list[np.ndarray]], observed: list[np.ndarray], names: Sequence[str],
        objective: str = "nse", maxiter: int = 60, popsize: int = 12, seed: int = 0,
        bounds: list[tuple[float, float]] | None = None, workers: int = 1) -> dict:
    """Minimise 1 - mean(NSE) (or 1 - mean(KGE)) over events by differential evolution.

    ``simulate(values)`` returns one simulated series per observed series. Returns the fitted
    values and the scores per event.
    """
    names = list(names)
    bounds = bounds or bounds_for(names)
    score = nse if objective == "nse" else kge

    def loss(theta):
        sims = simulate(dict(zip(names, theta, strict=True)))
        return 1.0 - float(np.mean([score(s, o) for s, o in zip(sims, observed, strict=True)]))

    res = differential_evolution(loss, bounds, maxiter=maxiter, popsize=popsize, seed=seed, tol=1e-7,
                                 polish=True, workers=workers, updating="immediate" if workers == 1 else "deferred")
    values = dict(zip(names, (float(v) for v in res.x), strict=True))
    sims = simulate(values)
    return {
        "values": values,
        "nse": [nse(s, o) for s, o in zip(sims, observed, strict=True)],
        "kge": [kge(s, o) for s, o in zip(sims, observed, strict=True)],
        "peak_error": [peak_error(s, o) for s, o in zip(sims, observed, strict=True)],
        "evaluations": int(res.nfev),
        "simulated": sims,
    }


# ----------------------------------------------------------------------------- the case model
def model_with(model, base: dict, values: dict):
    """A copy of a :class:`hydro.forecast.ForecastModel` with parameters replaced."""
    from hydro.routing import nash_unit_hydrograph, uh_matrix

    xaj = model.xaj.copy()
    for k, v in values.items():
        if k in core.PARAM_NAMES:
            xaj[:, core.PARAM_NAMES.index(k)] = v
    uh = model.uh
    if "lag_factor" in values or "nash_n" in values:
        lf = values.get("lag_factor", base.get("lag_factor", 1.0)) / base.get("lag_factor", 1.0)
        n_new = values.get("nash_n", base.get("nash_n", 3.0))
        uhs = [nash_unit_hydrograph(n_new, lf * lag / n_new, model.dt_h) for lag in model.lag_h]
        uh = uh_matrix(uhs)
    return dataclasses.replace(model, xaj=xaj, uh=uh)


def read_event(path: str | Path, case) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Gauge rain and observed discharge per section from a calibration event CSV."""
    from hydro.rainfall import validate_hourly

    path = Path(path)
    if not path.is_file():
        raise InputError(path.name, "file not found", "give hourly event CSVs with rain and Q_<section> columns")
    df = pd.read_csv(path)
    if "time" not in df:
        raise InputError(path.name, "no `time` column", "add a `time` column, YYYY-MM-DD HH:MM")
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("time"), format="%Y-%m-%d %H:%M"), name="time")
    obs_cols = [c for c in df.columns if c.startswith(("Q_", "H_"))]
    if not obs_cols:
        raise InputError(path.name, "no observed column", "add Q_<section id> (m3/s) or H_<section id> (m)")
    secs = [str(s) for s in case.sections["id"]]
    obs = {}
    from hydro.forecast import ForecastModel

    model = ForecastModel.from_case(case, {})
    for c in obs_cols:
        sid = c[2:]
        if sid not in secs:
            raise InputError(path.name, f"column {c}: '{sid}' is not a section id", f"use {', '.join(secs)}")
        v = validate_hourly(df[[c]], path.name)[c].to_numpy()
        obs[sid] = model.ratings[sid].discharge(v) if c.startswith("H_") else v
    rain = validate_hourly(df.drop(columns=obs_cols), path.name)
    return rain, obs


def calibrate_case(case, events: Sequence[str | Path], names: Sequence[str] = DEFAULT_FREE, state="normal",
                   objective: str = "nse", maxiter: int = 40, seed: int = 0, tail_h: int = 0) -> dict:
    """Fit the case's forecast model to observed events; returns :func:`fit`'s result + the params dict."""
    from hydro.forecast import ForecastModel, case_subbasin_rain, load_params

    base_params = load_params(case)
    base = {**{"lag_factor": 1.0, "nash_n": 3.0}, **base_params.get("routing", {})}
    model = ForecastModel.from_case(case, base_params)
    runs = []
    observed = []
    for ev in events:
        rain, obs = read_event(ev, case)
        r = case_subbasin_rain(case, rain)[model.subbasin_ids].to_numpy()
        for sid, q in obs.items():
            runs.append((r, model.section_ids.index(sid)))
            observed.append(q)

    def simulate(values):
        m = model_with(model, base, values)
        out = []
        for r, j in runs:
            q, _ = m.run(r[None], state)
            out.append(q[0, j])
        return out

    result = fit(simulate, observed, names, objective, maxiter, seed=seed)
    params = {"xinanjiang": dict(base_params.get("xinanjiang", {})), "routing": dict(base_params.get("routing", {}))}
    for k, v in result["values"].items():
        (params["routing"] if k in ROUTING_BOUNDS else params["xinanjiang"])[k] = round(v, 5)
    result["params"] = params
    return result


def write_params_toml(path: str | Path, params: dict, result: dict | None = None, events: Sequence = ()) -> Path:
    """Write ``forecast_params.toml`` (the format :func:`hydro.forecast.load_params` reads)."""
    from gis.atomic import write_text

    lines = ["# Forecast parameters for floodkit (read by hydro.forecast via case.toml [forecast] params).",
             "# Xinanjiang (Zhao 1992): KI, KG, CI, CG are per day; routing.lag_factor scales the Kirpich lag."]
    if result is not None:
        lines.append(f"# fitted by `floodkit calibrate` on {len(events)} event(s): "
                     + ", ".join(Path(str(e)).name for e in events))
        lines.append("# NSE per series: " + ", ".join(f"{v:.3f}" for v in result["nse"])
                     + "; KGE: " + ", ".join(f"{v:.3f}" for v in result["kge"])
                     + "; peak error: " + ", ".join(f"{100 * v:+.1f}%" for v in result["peak_error"]))
    for table in ("xinanjiang", "routing", "forecast"):
        vals = params.get(table) or {}
        if vals:
            lines.append(f"\n[{table}]")
            lines += [f"{k} = {float(v)!r}" for k, v in vals.items()]
    return write_text(path, "\n".join(lines) + "\n")
