"""Critical rainfall (临界雨量) per village, duration and antecedent soil condition.

For each village (control section, flood level ``flood_level_m``), each duration D in 1/3/6/24 h,
each antecedent condition (dry / normal / wet) and each transfer stage (准备转移 at the village's
prepare level, 立即转移 at its flood level; rules in :mod:`hydro.warnings`), the critical rainfall
is the depth P of a D-hour design storm, spread uniformly over the catchment, whose forecast peak
stage at the control section just reaches that level:

    peak_stage(P; D, condition) = level.

The storm shape is the case's Chicago hyetograph (Keifer & Chu 1957) for duration D, from the
``b``, ``n`` and ``peak_ratio`` of the first row of ``design_storms.csv`` (``a`` only scales depth,
so it drops out once the hyetograph is normalised) at the forecast model's step (5-60 minutes); the
run continues 24 dry hours after the storm.
The peak stage grows monotonically with P, so the root is found by bisection, run for all
villages, stages and depths at once as members of one ensemble through the same forecast model
(:class:`hydro.forecast.ForecastModel`). This is the "rainfall-runoff back-calculation" method of
the national flash-flood warning indicator guideline (山洪灾害预警指标分析技术要求, 2013).

Results: ``NaN`` when even ``MAX_DEPTH_MM`` does not reach the level; 0 when the level is reached
without rain (base flow).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hydro.rainfall import chicago_hyetograph
from hydro.runoff import CONDITIONS
from hydro.warnings import MOVE, PREPARE, prepare_level

DURATIONS_H = (1, 3, 6, 24)
MAX_DEPTH_MM = 1500.0
ITERATIONS = 24  # bisection on [0, 1500] mm -> 1e-4 mm
TAIL_H = 24


def storm_shape(storms: pd.DataFrame | None, duration_h: int, dt_h: float = 1.0) -> np.ndarray:
    """Chicago weights per step of ``dt_h`` hours (sum 1) for ``duration_h`` from the case's b, n, r."""
    if storms is None or len(storms) == 0:
        b, n, r = 10.0, 0.65, 0.4
    else:
        row = storms.iloc[0]
        b, n, r = float(row["b"]), float(row["n"]), float(row["peak_ratio"])
    mm = chicago_hyetograph(1.0, b, n, r, duration_h, dt_min=60.0 * dt_h)
    return mm / mm.sum()


def critical_rainfall(model, villages, storms: pd.DataFrame | None = None, durations=DURATIONS_H,
                      conditions=CONDITIONS) -> pd.DataFrame:
    """Table village x duration x condition x stage of critical rainfall (mm); see module docstring."""
    secs = model.section_ids
    targets = []  # (village id, name, section index, stage name, level)
    for _, v in villages.iterrows():
        sec = str(v["control_section"])
        if sec not in secs:
            continue
        j = secs.index(sec)
        flood = float(v["flood_level_m"])
        targets.append((str(v["id"]), str(v["name"]), sec, j, PREPARE, prepare_level(flood, model.warning_level_m[j])))
        targets.append((str(v["id"]), str(v["name"]), sec, j, MOVE, flood))
    # villages on the same section and level share one root: solve unique (section, level) pairs
    keys = sorted({(t[3], round(t[5], 4)) for t in targets})
    sec_idx = np.array([k[0] for k in keys])
    level = np.array([k[1] for k in keys])
    nb = len(model.subbasin_ids)
    rows = []
    for d in durations:
        # depth fractions per step -> intensities (mm/h per mm of storm depth) at the model's step
        shape = storm_shape(storms, d, model.dt_h) / model.dt_h
        pattern = np.concatenate([shape, np.zeros(int(round(TAIL_H / model.dt_h)))])
        for cond in conditions:
            def peak(depth: np.ndarray, pattern=pattern, cond=cond) -> np.ndarray:
                rain = depth[:, None, None] * pattern[None, :, None] * np.ones((1, 1, nb))
                q, _ = model.run(rain, cond)
                stage = model.hydraulics(q)["stage"]  # (m, sec, t)
                return stage[np.arange(len(depth)), sec_idx].max(axis=1)

            lo = np.zeros(len(keys))
            hi = np.full(len(keys), MAX_DEPTH_MM)
            p_lo, p_hi = peak(lo), peak(hi)
            for _ in range(ITERATIONS):
                mid = 0.5 * (lo + hi)
                above = peak(mid) >= level
                hi = np.where(above, mid, hi)
                lo = np.where(above, lo, mid)
            crit = np.where(p_lo >= level, 0.0, np.where(p_hi < level, np.nan, 0.5 * (lo + hi)))
            by_key = dict(zip(keys, crit, strict=True))
            for vid, name, sec, j, stage_name, lev in targets:
                rows.append({"village": vid, "name": name, "control_section": sec, "duration_h": d,
                             "condition": cond, "stage": stage_name, "level_m": round(lev, 2),
                             "critical_rain_mm": round(float(by_key[(j, round(lev, 4))]), 1)})
    return pd.DataFrame(rows)
