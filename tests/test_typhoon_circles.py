"""Wind-circle timing on a straight synthetic track against a hand-computed answer."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from hydro.typhoon import core_wind as cw
from hydro.typhoon.circles import crossing_times, deadline_timeline, point_timing, town_timing
from hydro.typhoon.tracks import finish_track
from hydro.typhoon.wind import WindParams


def test_crossing_times_linear_interpolation():
    t = pd.date_range("2020-01-01", periods=5, freq="h").to_numpy()
    arr, lea, a0, a1 = crossing_times(t, np.array([0.0, 10.0, 20.0, 10.0, 0.0]), 15.0)
    assert pd.Timestamp(arr) == pd.Timestamp("2020-01-01 01:30") and pd.Timestamp(lea) == pd.Timestamp("2020-01-01 02:30")
    assert not a0 and not a1
    arr, lea, a0, a1 = crossing_times(t, np.array([20.0, 10.0, 0.0, 0.0, 30.0]), 15.0)
    assert a0 and a1 and pd.Timestamp(arr) == pd.Timestamp("2020-01-01 00:00") and pd.isna(lea)


def test_circle_timing_straight_track_hand_computed():
    # Storm on the equator moving due east at 0.2 deg/h, constant intensity, no asymmetry.
    # A village 100 km north of the track at lon 121: the circle of radius R arrives when the
    # centre is sqrt(R^2 - d^2) west of the village and leaves when it is as far east.
    vmax, rmax, p = 45.0, 35.0, 950.0
    speed_deg_h = 0.2
    t0 = pd.Timestamp("2019-08-09 00:00")
    times = pd.date_range(t0, periods=61, freq="h")
    lon = 115.0 + speed_deg_h * np.arange(61)
    track = finish_track(pd.DataFrame({"time": times, "lat": 0.0, "lon": lon, "pressure_hpa": p,
                                       "vmax_m_per_s": vmax, "rmax_km": rmax}))
    k = cw.KM_PER_DEG
    lat_v, lon_v = 100.0 / k, 121.0
    vt = speed_deg_h * k * 1000 / 3600
    b = cw.holland_b_2008(1010.0 - p, 0.0, 0.0, vt)
    params = WindParams(background_ratio=0.0)
    pts = pd.DataFrame({"id": ["v1"], "name": ["village"], "town": ["town"], "lat": [lat_v], "lon": [lon_v]})
    got = point_timing(track, pts, params=params).set_index("circle_level")
    dy = lat_v * k
    coslat = math.cos(math.radians(0.5 * lat_v))  # the model's equirectangular east scale
    t_closest = t0 + pd.Timedelta(hours=(lon_v - 115.0) / speed_deg_h)
    for lvl, thr in ((7, 13.9), (10, 24.5)):
        radius = brentq(lambda r, thr=thr: vmax * cw.holland_shape(r, rmax, b) - thr, rmax, 2000.0)
        half = math.sqrt(radius**2 - dy**2) / (k * coslat) / speed_deg_h  # hours
        assert abs(got.loc[lvl, "arrival"] - (t_closest - pd.Timedelta(hours=half))) < pd.Timedelta(minutes=2)
        assert abs(got.loc[lvl, "leaving"] - (t_closest + pd.Timedelta(hours=half))) < pd.Timedelta(minutes=2)
        assert got.loc[lvl, "duration_h"] == pytest.approx(2 * half, abs=0.07)
    # the 12-level circle (r ~ 60 km) never reaches a village 100 km away
    assert pd.isna(got.loc[12, "arrival"]) and got.loc[12, "max_wind_m_per_s"] < 32.7
    assert abs(got.loc[7, "time_of_max"] - t_closest) <= pd.Timedelta(minutes=10)


def test_town_timing_and_deadlines():
    t = pd.Timestamp("2019-08-10 12:00")
    vt = pd.DataFrame({
        "id": ["a", "b"], "name": ["A", "B"], "town": ["T", "T"], "circle_level": [7, 7],
        "threshold_m_per_s": [13.9, 13.9], "arrival": [t, t + pd.Timedelta(hours=2)],
        "leaving": [t + pd.Timedelta(hours=10), t + pd.Timedelta(hours=8)], "duration_h": [10.0, 6.0],
        "max_wind_m_per_s": [20.0, 25.0], "time_of_max": [t, t], "note": ["", ""]})
    town = town_timing(vt).iloc[0]
    assert town["arrival"] == t and town["leaving"] == t + pd.Timedelta(hours=10) and town["max_wind_m_per_s"] == 25.0
    dl = deadline_timeline(vt)
    assert dl["time"].is_monotonic_increasing
    first = dl.iloc[0]
    assert first["time"] == t - pd.Timedelta(hours=6) and first["name"] == "A"
    leave_house = dl[(dl["event"] == "arrival") & (dl["offset_h"] == 0.0)]
    assert set(leave_house["time"]) == {t, t + pd.Timedelta(hours=2)}
