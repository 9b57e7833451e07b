"""Ensemble forecasts: N rainfall members through the same model at once, and the probability that
each section crosses its warning (警戒) and danger (危急) level.

Members are either given (e.g. the members of a numerical weather forecast) or made by
:func:`perturb_forecast`: the hours at and after the issue time are multiplied by a lognormal
factor per member and sub-basin (median 1, log-sd ``sigma``), a common way to express the
uncertainty of quantitative precipitation forecasts (e.g. Cloke & Pappenberger 2009, J. Hydrol.
375, 613-626). Observed hours before the issue time are kept as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hydro.forecast import ForecastModel


def perturb_forecast(rain: pd.DataFrame, members: int, sigma: float = 0.5, seed: int = 0,
                     issue_time: str | pd.Timestamp | None = None) -> np.ndarray:
    """(members, time, sub-basin) rain with the forecast part scaled by lognormal factors."""
    r = rain.to_numpy(dtype=float)
    issue = pd.Timestamp(issue_time or rain.attrs.get("issue_time") or rain.index[0])
    fc = np.asarray(rain.index >= issue)
    rng = np.random.default_rng(seed)
    f = rng.lognormal(0.0, sigma, size=(members, 1, r.shape[1]))
    out = np.repeat(r[None], members, axis=0)
    out[:, fc, :] *= f
    return out


def run_ensemble(model: ForecastModel, rain_members: np.ndarray, state="normal") -> dict[str, np.ndarray]:
    """Discharge and stage (members, sections, time), and per-section crossing probabilities.

    ``rain_members`` is (members, time, sub-basins) in mm/h in the model's sub-basin order.
    """
    q, _ = model.run(rain_members, state)
    stage = model.hydraulics(q)["stage"]
    peak = stage.max(axis=2)
    return {
        "discharge": q,
        "stage": stage,
        "peak_stage": peak,
        "p_warning": (peak >= model.warning_level_m[None, :]).mean(axis=0),
        "p_danger": (peak >= model.danger_level_m[None, :]).mean(axis=0),
    }


def ensemble_table(model: ForecastModel, result: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per section: crossing probabilities and peak-stage quantiles."""
    peak = result["peak_stage"]
    return pd.DataFrame({
        "section": model.section_ids, "name": model.section_names,
        "p_warning": result["p_warning"], "p_danger": result["p_danger"],
        "peak_stage_p10_m": np.percentile(peak, 10, axis=0).round(3),
        "peak_stage_p50_m": np.percentile(peak, 50, axis=0).round(3),
        "peak_stage_p90_m": np.percentile(peak, 90, axis=0).round(3),
    })
