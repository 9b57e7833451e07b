"""Parametric wind field (hydro.typhoon.core_wind / wind): analytic properties of the model."""

import math

import numpy as np
import pandas as pd
import pytest

from hydro.typhoon import core_wind as cw
from hydro.typhoon.tracks import finish_track, interpolate_track
from hydro.typhoon.wind import WindParams, circle_polygon_lonlat, circle_radii, storm_arrays, wind_at_points


@pytest.mark.parametrize("b", [1.0, 1.4, 2.0, 2.5])
@pytest.mark.parametrize("vmax, rmax", [(52.0, 30.0), (20.0, 80.0)])
def test_holland_profile_peaks_at_rmax_with_vmax(vmax, rmax, b):
    r = np.linspace(0.5, 500.0, 100_000)
    v = cw.holland_profile(r, vmax, rmax, b)
    assert abs(r[np.argmax(v)] - rmax) < 0.01
    assert cw.holland_profile(np.array([rmax]), vmax, rmax, b)[0] == pytest.approx(vmax, rel=1e-12)
    assert v.max() <= vmax * (1 + 1e-12)


def test_profile_matches_holland_1980_pressure_form():
    # Holland (1980) cyclostrophic wind from the pressure drop: V^2 = B dp/rho (Rm/r)^B exp(-(Rm/r)^B)
    dp, b, rm = 8000.0, 1.6, 40.0  # Pa
    vm = cw.vmax_from_pressure(dp / 100.0, b, 1.0)
    assert vm == pytest.approx(math.sqrt(b * dp / (cw.RHO_AIR * math.e)))
    r = np.array([10.0, 40.0, 100.0, 300.0])
    direct = np.sqrt(b * dp / cw.RHO_AIR * (rm / r) ** b * np.exp(-((rm / r) ** b)))
    np.testing.assert_allclose(cw.holland_profile(r, vm, rm, b), direct, rtol=1e-12)


def test_willoughby_rmax_and_holland_b():
    assert cw.rmax_willoughby_2006(50.0, 25.0) == pytest.approx(46.4 * math.exp(-0.775 + 0.4225))
    # stronger storms are smaller
    assert cw.rmax_willoughby_2006(60.0, 25.0) < cw.rmax_willoughby_2006(30.0, 25.0)
    b = [cw.holland_b_2008(dp, 0.0, 20.0, 5.0) for dp in (10, 40, 80, 110)]
    assert all(1.0 <= x <= 2.5 for x in b) and b == sorted(b)  # grows with dp below ~113 hPa
    assert cw.holland_b_2008(300.0, 0.0, 20.0, 5.0) == 1.0  # clipped


def _track(lat0, lon0, dlat_per_h, dlon_per_h, hours=12, vmax=45.0, p=950.0, rmax=35.0):
    t = pd.date_range("2019-08-09 00:00", periods=hours + 1, freq="h")
    k = np.arange(hours + 1)
    df = pd.DataFrame({"time": t, "lat": lat0 + dlat_per_h * k, "lon": lon0 + dlon_per_h * k,
                       "pressure_hpa": p, "vmax_m_per_s": vmax, "rmax_km": rmax})
    return interpolate_track(finish_track(df))


def test_stationary_storm_is_symmetric_and_peaks_at_vmax():
    h = _track(25.0, 125.0, 0.0, 0.0)
    for radius in (20.0, 35.0, 80.0, 300.0):
        ring = np.array(circle_polygon_lonlat(25.0, 125.0, np.full(72, radius))[:-1])
        ds = wind_at_points(h.iloc[:1], ring[:, 1], ring[:, 0])
        s = ds["wind_m_per_s"].to_numpy()[0]
        assert s.std() < 1e-4 * s.mean()
        if radius == 35.0:
            assert s.mean() == pytest.approx(45.0, rel=1e-5)
    # counter-clockwise with inflow: east of the centre the wind blows from the south-south-east
    ds = wind_at_points(h.iloc[:1], [25.0], [125.0 + 100 / 111.19 / math.cos(math.radians(25))])
    assert 90.0 < float(ds["wind_from_deg"][0, 0]) < 180.0


def test_moving_storm_is_stronger_on_the_right():
    h = _track(25.0, 125.0, 0.1, 0.0)  # 3.1 m/s north
    c = h.iloc[6]
    dlon = 50.0 / 111.19 / math.cos(math.radians(c["lat"]))
    ds = wind_at_points(h.iloc[6:7], [c["lat"], c["lat"]], [c["lon"] + dlon, c["lon"] - dlon])
    right, left = ds["wind_m_per_s"].to_numpy()[0]
    # Lin & Chavas background: 0.55 * 3.09 m/s, so right - left is about 2 * 1.7 m/s
    assert right - left == pytest.approx(2 * 0.55 * 3.09 * math.cos(math.radians(20 - 25)), abs=0.6)
    # no parameter asymmetry -> symmetric again
    ds0 = wind_at_points(h.iloc[6:7], [c["lat"], c["lat"]], [c["lon"] + dlon, c["lon"] - dlon],
                         params=WindParams(background_ratio=0.0))
    assert abs(float(np.diff(ds0["wind_m_per_s"].to_numpy()[0])[0])) < 1e-3


def test_swath_pruning_equals_brute_force_maximum():
    h = _track(24.0, 123.0, 0.15, -0.1, hours=30, vmax=55.0, p=930.0, rmax=np.nan)
    rng = np.random.default_rng(7)
    lat = rng.uniform(22.0, 30.0, 3000)
    lon = rng.uniform(118.0, 127.0, 3000)
    s = storm_arrays(h)
    p = WindParams()
    args = (s["clat"], s["clon"], s["vg_max"], s["rmax_km"], s["b"], p.kr, s["bg_u"], s["bg_v"], lat, lon, p.r_cut_km)
    smax, tidx = cw.wind_swath(*args)
    full, _ = cw.wind_at_points(*args)
    np.testing.assert_allclose(smax, full.max(axis=0), rtol=2e-3, atol=1e-3)  # float32 vs fastmath
    hit = tidx >= 0
    np.testing.assert_allclose(full[tidx[hit], np.flatnonzero(hit)], smax[hit], rtol=2e-3)


def test_circle_radii_match_profile_root():
    h = _track(25.0, 125.0, 0.0, 0.0, vmax=45.0, rmax=35.0)
    tab, radii = circle_radii(h, params=WindParams(background_ratio=0.0), dr_km=0.5)
    b = storm_arrays(h)["b"][0]
    r = np.arange(35.0, 1000.0, 0.01)
    v = cw.holland_profile(r, 45.0, 35.0, b)
    for lvl, thr in ((7, 13.9), (10, 24.5), (12, 32.7)):
        expect = r[v >= thr].max()
        assert tab[f"r{lvl}_NE_km"].iloc[0] == pytest.approx(expect, abs=0.5)
        assert radii[0, [7, 10, 12].index(lvl)].std() < 1e-9  # stationary: a circle
