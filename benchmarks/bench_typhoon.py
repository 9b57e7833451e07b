"""Typhoon wind-field benchmark: a 5-day hourly track on a 1 km grid over Zhejiang (~500 x 500 cells).

    python benchmarks/bench_typhoon.py

Goal (issue 9): the maximum-wind swath of the 121 hourly steps over 250,000 cells in < 5 s on 2
cores. Also times wind-circle radii (36 bearings x 3 levels, 1 km radial step), circle timing
for 17 villages (10-min steps) and the R-CLIPER rain grid (1 km, 60 x 60 km around 临安).
Times are best of 3 after the numba kernels are compiled (compilation is cached on disk).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hydro.typhoon.circles import point_timing  # noqa: E402
from hydro.typhoon.rain import rain_grid  # noqa: E402
from hydro.typhoon.sample import synthetic_lekima_like_track  # noqa: E402
from hydro.typhoon.tracks import finish_track, interpolate_track  # noqa: E402
from hydro.typhoon.wind import circle_radii, wind_swath  # noqa: E402


def best_of(fn, n=3):
    out, best = None, float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    raw = synthetic_lekima_like_track()
    track = finish_track(raw.drop(columns="name"))
    hourly = interpolate_track(track)
    hourly = hourly[hourly["time"] <= hourly["time"].iloc[0] + pd.Timedelta(days=5)].reset_index(drop=True)
    # Zhejiang: 27.0-31.5 N, 118.0-123.0 E; 1 km ~ 0.009 deg lat, 0.0104 deg lon at 29.5 N
    lat = np.linspace(27.0, 31.5, 500)
    lon = np.linspace(118.0, 123.2, 500)
    wind_swath(hourly.iloc[:3], lat[:4], lon[:4])  # compile / load the cache
    t, sw = best_of(lambda: wind_swath(hourly, lat, lon))
    cells = lat.size * lon.size
    print(f"wind swath: {len(hourly)} hourly steps x {cells:,} cells (1 km over Zhejiang): {t:.2f} s "
          f"({t / (len(hourly) * cells) * 1e9:.0f} ns per step-cell); max {float(sw['max_wind_m_per_s'].max()):.1f} m/s "
          f"(goal < 5 s)")
    t, _ = best_of(lambda: circle_radii(hourly))
    print(f"wind-circle radii: {len(hourly)} steps x 36 bearings x 3 levels: {t:.2f} s")
    rng = np.random.default_rng(0)
    pts = pd.DataFrame({"id": [f"V{i:02d}" for i in range(17)], "name": "v", "town": "t",
                        "lat": 30.25 + rng.uniform(-0.1, 0.1, 17), "lon": 119.4 + rng.uniform(-0.1, 0.1, 17)})
    t, _ = best_of(lambda: point_timing(track, pts))
    print(f"circle timing: 17 villages, 10-min steps over {len(hourly)} h: {t:.2f} s")
    t, ds = best_of(lambda: rain_grid(track, "EPSG:4549", (410000.0, 3320000.0, 470000.0, 3380000.0), 1000.0), n=2)
    print(f"R-CLIPER rain grid: {ds.sizes['time']} h x 60 x 60 cells (1 km, EPSG:4549): {t:.2f} s; "
          f"max total {float(ds['rain_mm_per_h'].sum('time').max()):.0f} mm")


if __name__ == "__main__":
    main()
