"""Wind-circle timing: when the 7-, 10- and 12-level circles reach and leave each village and town.

A circle "arrives" at a place when the modelled 10 m wind there first reaches the circle's
threshold (13.9, 24.5, 32.7 m/s, GB/T 28591-2012) and "leaves" when it last falls below it.
Crossing times are interpolated linearly between samples of the wind series, so evaluate the
series at a short step (10 minutes by default in :func:`point_timing`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .tracks import interpolate_track
from .wind import CIRCLE_THRESHOLDS_M_PER_S, DEFAULT_PARAMS, WindParams, wind_at_points

# (circle level, "arrival"/"leaving", offset hours, action, action_zh). Editable per county.
DEFAULT_DEADLINES: list[tuple[int, str, float, str, str]] = [
    (7, "arrival", -6.0, "prepare: call the responsible official, open shelters, stop outdoor work and send visitors home",
     "准备转移：叫应包保责任人，开放避灾安置场所，停止户外作业，劝离游客和农家乐住客"),
    (7, "arrival", 0.0, "deadline: everyone out of dilapidated houses, work sheds, tents and low riverside ground",
     "危旧房、工棚、帐篷及沿河低洼处人员转移完毕"),
    (10, "arrival", -1.0, "deadline: everyone indoors or in a shelter; all travel stops",
     "人员全部进入安全场所，停止一切户外活动和通行"),
    (7, "leaving", 0.0, "earliest return: inspect houses, slopes and roads before anyone goes back",
     "风圈离开后先排查房屋、边坡和道路，确认安全后方可返回"),
]


def crossing_times(time: np.ndarray, speed: np.ndarray, threshold: float):
    """First up-crossing and last down-crossing of ``threshold`` in a series.

    Returns (arrival, leaving) as numpy datetime64 (NaT when it never happens, or when the wind
    is still above the threshold at the end of the series for ``leaving``), plus flags
    (already_above_at_start, still_above_at_end).
    """
    time = np.asarray(time, dtype="datetime64[ns]")
    s = np.asarray(speed, dtype=np.float64)
    above = s >= threshold
    nat = np.datetime64("NaT", "ns")
    if not above.any():
        return nat, nat, False, False
    i = int(np.argmax(above))
    j = int(above.size - 1 - np.argmax(above[::-1]))

    def cross(a: int, b: int) -> np.datetime64:
        frac = (threshold - s[a]) / (s[b] - s[a]) if s[b] != s[a] else 0.0
        return time[a] + ((time[b] - time[a]) * frac).astype("timedelta64[ns]")

    arrival = time[0] if i == 0 else cross(i - 1, i)
    leaving = nat if j == s.size - 1 else cross(j, j + 1)
    return arrival, leaving, i == 0, j == s.size - 1


def point_timing(track: pd.DataFrame, points: pd.DataFrame, step_min: float = 10.0,
                 params: WindParams = DEFAULT_PARAMS) -> pd.DataFrame:
    """Arrival and leaving of each wind circle at each point.

    Parameters
    ----------
    track : a track table (as read by :func:`hydro.typhoon.tracks.read_track`)
    points : DataFrame with columns ``id``, ``name``, ``lat``, ``lon`` and optionally ``town``
    step_min : time step of the wind series used to find the crossings

    Returns
    -------
    DataFrame, one row per point and circle level: ``id``, ``name``, ``town``, ``circle_level``,
    ``threshold_m_per_s``, ``arrival``, ``leaving``, ``duration_h``, ``max_wind_m_per_s``,
    ``time_of_max``, ``note``.
    """
    fine = interpolate_track(track, step_min=step_min)
    ds = wind_at_points(fine, points["lat"].to_numpy(), points["lon"].to_numpy(), params=params)
    times = ds["time"].to_numpy()
    speed = ds["wind_m_per_s"].to_numpy()
    rows = []
    for k, p in enumerate(points.itertuples(index=False)):
        s = speed[:, k]
        tmax = times[int(np.argmax(s))]
        for lvl, thr in CIRCLE_THRESHOLDS_M_PER_S.items():
            arr, lea, at_start, at_end = crossing_times(times, s, thr)
            note = []
            if at_start:
                note.append("already inside at track start")
            if at_end:
                note.append("still inside at track end")
            dur = (lea - arr) / np.timedelta64(1, "h") if not (np.isnat(arr) or np.isnat(lea)) else np.nan
            rows.append({"id": p.id, "name": p.name, "town": getattr(p, "town", ""), "circle_level": lvl,
                         "threshold_m_per_s": thr, "arrival": arr, "leaving": lea, "duration_h": dur,
                         "max_wind_m_per_s": float(s.max()), "time_of_max": tmax, "note": "; ".join(note)})
    return pd.DataFrame(rows)


def town_timing(village_timing: pd.DataFrame) -> pd.DataFrame:
    """Per town and circle: the earliest arrival and the latest leaving over its villages."""
    rows = []
    for (town, lvl), g in village_timing.groupby(["town", "circle_level"], sort=False):
        arr = g["arrival"].dropna()
        lea = g["leaving"].dropna()
        still = g["note"].str.contains("track end").any()
        first = arr.min() if len(arr) else pd.NaT
        last = pd.NaT if still or not len(lea) else lea.max()
        rows.append({"id": town, "name": town, "town": town, "circle_level": lvl,
                     "threshold_m_per_s": g["threshold_m_per_s"].iloc[0], "arrival": first, "leaving": last,
                     "duration_h": (last - first) / pd.Timedelta(hours=1) if pd.notna(first) and pd.notna(last) else np.nan,
                     "max_wind_m_per_s": g["max_wind_m_per_s"].max(),
                     "time_of_max": g.loc[g["max_wind_m_per_s"].idxmax(), "time_of_max"],
                     "note": "still inside at track end" if still else ""})
    return pd.DataFrame(rows)


def deadline_timeline(timing: pd.DataFrame, deadlines=DEFAULT_DEADLINES) -> pd.DataFrame:
    """Time-ordered list of deadlines per place from circle timing and a deadline table."""
    rows = []
    for d_lvl, event, offset_h, action, action_zh in deadlines:
        sel = timing[timing["circle_level"] == d_lvl]
        for r in sel.itertuples(index=False):
            t0 = getattr(r, event)
            if pd.isna(t0):
                continue
            note = getattr(r, "note", "") or ""
            late = event == "arrival" and "track start" in note
            rows.append({"time": pd.Timestamp(t0) + pd.Timedelta(hours=offset_h), "id": r.id, "name": r.name,
                         "town": r.town, "circle_level": d_lvl, "event": event, "offset_h": offset_h,
                         "action": action, "action_zh": action_zh,
                         "note": "overdue: the circle is already there when the track starts" if late else ""})
    cols = ["time", "id", "name", "town", "circle_level", "event", "offset_h", "action", "action_zh", "note"]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["time", "town", "name"], kind="stable").reset_index(drop=True)
