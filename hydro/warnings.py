"""Warnings from a forecast: crossing times of 警戒水位 / 危急水位 per section, lead times from the
issue time, peaks, and the two transfer stages 准备转移 (prepare to move) / 立即转移 (move now).

Rules
-----
- Section: crossing the warning level (警戒水位) -> 准备转移; the danger level (危急水位) -> 立即转移.
- Village: its control section's stage reaching the village flood level ``flood_level_m``
  (成灾水位, the lowest houses flood) -> 立即转移; reaching the village *prepare level* -> 准备转移,
  where prepare level = min(flood_level_m - PREPARE_MARGIN_M, warning level of the control section).
- Village, by rain: the largest rain over the village's upstream catchment in any 1/3/6/24 h window
  of observed + forecast rain, compared with its critical rainfall (临界雨量, hydro.thresholds) for
  the antecedent condition of the run.
Lead time is hours from the forecast's ``issue_time`` to the first crossing (negative: already crossed),
at whatever step the forecast runs. ``peak_channel_velocity_m_per_s`` is the main channel's velocity
(conveyance subdivision, :mod:`hydro.stage`), the figure for scour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PREPARE_MARGIN_M = 0.5
PREPARE, MOVE, NONE = "准备转移", "立即转移", "无"


def prepare_level(flood_level_m: float, section_warning_m: float) -> float:
    """The village 准备转移 level (see module docstring)."""
    return float(min(flood_level_m - PREPARE_MARGIN_M, section_warning_m))


def _first_crossing(times: pd.DatetimeIndex, stage: np.ndarray, level: float):
    hit = np.nonzero(stage >= level)[0]
    if hit.size == 0 or not np.isfinite(level):
        return None
    i = int(hit[0])
    if i == 0:
        return times[0]
    # linear interpolation between the hour below and the hour above the level
    f = (level - stage[i - 1]) / max(stage[i] - stage[i - 1], 1e-12)
    return times[i - 1] + (times[i] - times[i - 1]) * float(np.clip(f, 0, 1))


def _lead(t, issue: pd.Timestamp):
    return None if t is None else round((t - issue) / pd.Timedelta(hours=1), 2)


def _row(kind, oid, name, section, ds, j, lo, hi, issue):
    times = pd.DatetimeIndex(ds["time"].values)
    h = ds["stage"].values[:, j]
    k = int(np.argmax(h))
    t_lo, t_hi = _first_crossing(times, h, lo), _first_crossing(times, h, hi)
    action = MOVE if t_hi is not None else PREPARE if t_lo is not None else NONE
    return {
        "kind": kind, "id": oid, "name": name, "section": section,
        "prepare_level_m": round(lo, 2), "move_level_m": round(hi, 2),
        "peak_stage_m": round(float(h[k]), 3), "peak_time": times[k],
        "peak_discharge_m3_per_s": round(float(ds["discharge"].values[k, j]), 2),
        "peak_velocity_m_per_s": round(float(ds["velocity"].values[:, j].max()), 2),
        "peak_channel_velocity_m_per_s": round(float(ds["channel_velocity"].values[:, j].max()), 2)
        if "channel_velocity" in ds else None,
        "prepare_time": t_lo, "prepare_lead_h": _lead(t_lo, issue),
        "move_time": t_hi, "move_lead_h": _lead(t_hi, issue),
        "action": action,
    }


def section_warnings(ds) -> pd.DataFrame:
    """One row per section: crossings of the warning / danger levels, peaks and the action."""
    issue = pd.Timestamp(ds.attrs["issue_time"])
    rows = []
    for j, s in enumerate(ds["section"].values):
        rows.append(_row("section", str(s), str(ds["section_name"].values[j]), str(s), ds, j,
                         float(ds["warning_level_m"].values[j]), float(ds["danger_level_m"].values[j]), issue))
    return pd.DataFrame(rows)


def village_warnings(ds, villages) -> pd.DataFrame:
    """One row per village from its control section's forecast stage."""
    issue = pd.Timestamp(ds.attrs["issue_time"])
    secs = [str(s) for s in ds["section"].values]
    rows = []
    for _, v in villages.iterrows():
        sec = str(v["control_section"])
        if sec not in secs:
            continue
        j = secs.index(sec)
        flood = float(v["flood_level_m"])
        lo = prepare_level(flood, float(ds["warning_level_m"].values[j]))
        rows.append(_row("village", str(v["id"]), str(v["name"]), sec, ds, j, lo, flood, issue))
    return pd.DataFrame(rows)


def max_window_rain(rain_mm_per_h: np.ndarray, hours: float, dt_h: float = 1.0) -> float:
    """Largest rain depth (mm) in any ``hours``-long window of a series of intensities (mm/h) at a step
    of ``dt_h`` hours (whole series if shorter)."""
    r = np.asarray(rain_mm_per_h, dtype=float) * dt_h  # mm per step
    n = max(1, int(round(hours / dt_h)))
    if len(r) <= n:
        return float(r.sum())
    c = np.concatenate([[0.0], np.cumsum(r)])
    return float((c[n:] - c[:-n]).max())


def rain_threshold_check(section_rain: pd.DataFrame, villages, thresholds: pd.DataFrame,
                         condition: str, dt_h: float = 1.0) -> pd.DataFrame:
    """Compare the rain over each village's upstream catchment with its critical rainfall.

    Returns per village: the strongest stage reached, the deciding duration, the rain and threshold.
    """
    rows = []
    th = thresholds[thresholds["condition"] == condition]
    for _, v in villages.iterrows():
        sec = str(v["control_section"])
        if sec not in section_rain.columns:
            continue
        best = (NONE, None, None, None)
        for stage_name in (MOVE, PREPARE):
            t = th[(th["village"] == str(v["id"])) & (th["stage"] == stage_name)]
            for _, r in t.iterrows():
                got = max_window_rain(section_rain[sec].to_numpy(), float(r["duration_h"]), dt_h)
                if np.isfinite(r["critical_rain_mm"]) and got >= r["critical_rain_mm"]:
                    best = (stage_name, int(r["duration_h"]), round(got, 1), float(r["critical_rain_mm"]))
                    break
            if best[0] != NONE:
                break
        rows.append({"id": str(v["id"]), "rain_action": best[0], "rain_duration_h": best[1],
                     "rain_mm": best[2], "critical_rain_mm": best[3]})
    return pd.DataFrame(rows)


def ensemble_probabilities(stage_max: np.ndarray, ds) -> pd.DataFrame:
    """Probability of crossing each section's warning and danger level, from member peaks (members, sections)."""
    rows = []
    for j, s in enumerate(ds["section"].values):
        rows.append({"section": str(s), "name": str(ds["section_name"].values[j]),
                     "p_warning": float((stage_max[:, j] >= ds["warning_level_m"].values[j]).mean()),
                     "p_danger": float((stage_max[:, j] >= ds["danger_level_m"].values[j]).mean())})
    return pd.DataFrame(rows)
