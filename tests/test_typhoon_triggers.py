"""Index-insurance triggers: the built-in 台州 rule on constructed tracks, rain rules, rules files."""

import numpy as np
import pandas as pd
import pytest

from gis.errors import InputError
from hydro.typhoon.tracks import finish_track
from hydro.typhoon.triggers import (
    TAIZHOU_CENTRE,
    CircleRule,
    RainRule,
    distance_km,
    rules_from_toml,
    taizhou_rules,
)

LON0, LAT0 = TAIZHOU_CENTRE


def _north_track(lon, vmax, lat0=26.0, lat1=31.0, hours=50):
    t = pd.date_range("2019-08-09 00:00", periods=hours + 1, freq="h")
    return finish_track(pd.DataFrame({"time": t, "lat": np.linspace(lat0, lat1, hours + 1), "lon": lon,
                                      "pressure_hpa": 950.0, "vmax_m_per_s": vmax}))


def test_taizhou_centre_is_121_07E_28_39N():
    assert TAIZHOU_CENTRE == pytest.approx((121.1167, 28.65), abs=1e-4)


def test_taizhou_fires_through_the_centre_at_level_14():
    rule = taizhou_rules()[0]
    r = rule.evaluate(_north_track(LON0, 44.0))  # 44 m/s = level 14
    assert r["fired"] and r["tier"] == "level 14"
    assert r["payout"] == pytest.approx(1.0e7 + (1.75e8 - 1.0e7) * 2 / 5)
    # enters when the centre is 85 km south of the circle centre: 0.1 deg/h northward
    lat_entry = LAT0 - 85.0 / 111.19
    expect = pd.Timestamp("2019-08-09 00:00") + pd.Timedelta(hours=(lat_entry - 26.0) / 0.1)
    assert abs(pd.Timestamp(r["time"]) - expect) <= pd.Timedelta(minutes=10)
    assert r["min_distance_km"] < 1.0


def test_taizhou_does_not_fire_outside_or_too_weak():
    rule = taizhou_rules()[0]
    # 100 km east of the centre: never inside, even as a super typhoon
    lon_far = LON0 + 100.0 / (111.19 * np.cos(np.radians(LAT0)))
    far = rule.evaluate(_north_track(lon_far, 60.0))
    assert not far["fired"] and not far["entered_circle"] and far["min_distance_km"] == pytest.approx(100, abs=1)
    # inside but level 11 (30 m/s)
    weak = rule.evaluate(_north_track(LON0, 30.0))
    assert weak["entered_circle"] and not weak["fired"] and weak["payout"] == 0.0


def test_taizhou_levels_above_17_pay_the_17_tier():
    r = taizhou_rules()[0].evaluate(_north_track(LON0, 65.0))
    assert r["tier"] == "level 17" and r["payout"] == pytest.approx(1.75e8)


def test_rain_rule_72h_140mm():
    rule = RainRule("r", {"s1": (121.0, 28.0), "s2": (121.1, 28.1)}, 72, ((140.0, 1.0), (200.0, 2.0)))
    idx = pd.date_range("2023-07-25 00:00", periods=100, freq="h")
    rain = pd.DataFrame({"s1": 1.9, "s2": 0.0}, index=idx)  # 136.8 mm in 72 h
    assert not rule.evaluate(rain)["fired"]
    rain["s2"] = 0.0
    rain.iloc[:70, 1] = 2.0  # 140 mm reached at the end of hour 70
    r = rule.evaluate(rain)
    assert r["fired"] and r["tier"] == ">= 140 mm" and r["payout"] == 1.0
    assert pd.Timestamp(r["time"]) == idx[0] + pd.Timedelta(hours=70)
    assert r["stations"]["s2"]["max_accumulation_mm"] == pytest.approx(140.0)


def test_distance_and_rules_file(tmp_path):
    assert distance_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.19, abs=0.01)
    p = tmp_path / "rules.toml"
    p.write_text('[[circle]]\nname = "c"\nlon = 121.0\nlat = 28.0\nradius_km = 50\npayout = { "12" = 5 }\n'
                 '[[rain]]\nname = "r"\nstations = [{ name = "x", lon = 121.0, lat = 28.0 }]\ntiers = [[100, 1]]\n',
                 encoding="utf-8")
    rules = rules_from_toml(p)
    assert isinstance(rules[0], CircleRule) and rules[0].payout_by_level == {12: 5.0}
    assert rules[1].tiers_mm == ((100.0, 1.0),)
    p.write_text('[[circle]]\nname = "c"\n', encoding="utf-8")
    with pytest.raises(InputError, match="rules.toml"):
        rules_from_toml(p)
