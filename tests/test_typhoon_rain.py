"""R-CLIPER typhoon rain (hydro.typhoon.core_rain / rain): published profile values, conservation, file format."""

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hydro.typhoon.core_rain import rcliper_rate_mm_per_h
from hydro.typhoon.rain import rain_at_stations, rain_grid
from hydro.typhoon.tracks import finish_track

MM_H = 25.4 / 24.0


def test_rcliper_profile_at_u_equal_1():
    # Vmax = 35 kt gives U = 1: T0 = 2.86, Tm = 3.20 in/day, rm = 51.5 km, re = 134 km (Tuleya et al. 2007)
    v = 35 * 0.514444
    assert rcliper_rate_mm_per_h(0.0, v) == pytest.approx(2.86 * MM_H)
    assert rcliper_rate_mm_per_h(51.5, v) == pytest.approx(3.20 * MM_H)
    assert rcliper_rate_mm_per_h(51.5 + 134.0, v) == pytest.approx(3.20 * MM_H / math.e)
    # continuous at rm and stronger storms rain more at the rain maximum
    assert rcliper_rate_mm_per_h(51.5 - 1e-9, v) == pytest.approx(rcliper_rate_mm_per_h(51.5, v))
    assert rcliper_rate_mm_per_h(30.0, 50.0) > rcliper_rate_mm_per_h(30.0, 25.0)


def _stationary(hours=24, vmax=40.0):
    t = pd.date_range("2019-08-10 00:00", periods=hours + 1, freq="h")
    return finish_track(pd.DataFrame({"time": t, "lat": 28.0, "lon": 121.0, "pressure_hpa": 960.0,
                                      "vmax_m_per_s": vmax}))


def test_stationary_storm_accumulation_is_rate_times_hours():
    r_km = 100.0
    lat = 28.0 + r_km / 111.19
    rain = rain_at_stations(_stationary(), [lat], [121.0], ["s"])
    assert len(rain) == 24 and rain.index[0] == pd.Timestamp("2019-08-10 00:00")
    rate = rcliper_rate_mm_per_h(r_km, 40.0)
    assert rain["s"].sum() == pytest.approx(24 * rate, rel=1e-4)


def test_rain_grid_follows_the_gridded_rain_format(tmp_path):
    # a 40 x 30 km grid in EPSG:4549 (CGCS2000 GK zone CM 120E) around 28.0N 121.0E
    ds = rain_grid(_stationary(6), "EPSG:4549", (577000.0, 3083000.0, 617000.0, 3113000.0), res_m=2000.0,
                   issue_time=pd.Timestamp("2019-08-10 00:00"))
    assert ds["rain_mm_per_h"].dims == ("time", "y", "x") and ds["rain_mm_per_h"].shape == (6, 15, 20)
    assert ds.attrs["issue_time"] == "2019-08-10T00:00:00"
    assert (np.diff(ds["y"]) < 0).all() and float(ds["x"][0]) == 578000.0
    p = tmp_path / "rain.nc"
    ds.to_netcdf(p, engine="h5netcdf")
    back = xr.open_dataset(p, decode_coords="all", engine="h5netcdf")
    assert back.rio.crs.to_epsg() == 4549
    assert pd.Timestamp(back["time"].values[0]) == pd.Timestamp("2019-08-10 00:00")
    assert float(back["rain_mm_per_h"].max()) > 5.0  # the eye wall of a 40 m/s storm is in the grid
