"""Track readers, validation, grades and interpolation (hydro.typhoon.tracks)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gis.errors import InputError
from hydro.typhoon.tracks import (
    GRADE_LOWER_M_PER_S,
    LEVEL_LOWER_M_PER_S,
    detect_format,
    grade_of,
    interpolate_track,
    level_of,
    read_track,
)

DATA = Path(__file__).parent / "data" / "typhoon"


# ----------------------------------------------------------------------------- grades
def test_grades_at_gbt19201_class_edges():
    edges = {10.7: "", 10.8: "TD", 17.1: "TD", 17.2: "TS", 24.4: "TS", 24.5: "STS", 32.6: "STS",
             32.7: "TY", 41.4: "TY", 41.5: "STY", 50.9: "STY", 51.0: "SuperTY", 80.0: "SuperTY"}
    assert list(grade_of(list(edges))) == list(edges.values())
    # float noise just under an edge still rounds to the tabulated 0.1 m/s value
    assert grade_of([32.7 - 1e-9, 32.64])[0] == "TY" and grade_of([32.64])[0] == "STS"


def test_wind_levels_gbt28591_edges():
    v = [13.8, 13.9, 24.4, 24.5, 32.6, 32.7, 36.9, 37.0, 56.0, 56.1, 70.0]
    assert list(level_of(v)) == [6, 7, 9, 10, 11, 12, 12, 13, 16, 17, 17]


@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_grade_and_level_are_monotone(v):
    order = ["", "TD", "TS", "STS", "TY", "STY", "SuperTY"]
    g0, g1 = grade_of([v, v + 0.1])
    assert order.index(g1) >= order.index(g0)
    assert level_of([v + 0.1])[0] >= level_of([v])[0]
    # a level's lower bound belongs to it
    assert len(GRADE_LOWER_M_PER_S) == 6 and len(LEVEL_LOWER_M_PER_S) == 17


# ----------------------------------------------------------------------------- readers
def test_cma_best_track_fixture():
    with pytest.raises(InputError, match="2 storms"):
        read_track(DATA / "cma_synthetic.txt")
    t = read_track(DATA / "cma_synthetic.txt", storm="SYNTHETIC-A")
    assert t.attrs["format"] == "cma" and t.attrs["name"] == "SYNTHETIC-A"
    assert len(t) == 5
    first = t.iloc[0]
    assert first["time"] == pd.Timestamp("2019-08-08 08:00")  # 00 UTC -> 08 Beijing
    assert (first["lat"], first["lon"], first["pressure_hpa"], first["vmax_m_per_s"]) == (23.0, 125.0, 925.0, 58.0)
    assert t["grade"].tolist() == ["SuperTY", "SuperTY", "SuperTY", "SuperTY", "STY"]
    assert t["rmax_km"].isna().all()
    b = read_track(DATA / "cma_synthetic.txt", storm="9902")
    assert len(b) == 3 and b["grade"].tolist() == ["TD", "TS", "TS"]


def test_cma_row_count_mismatch(tmp_path):
    text = (DATA / "cma_synthetic.txt").read_text().replace("9901    5", "9901    6", 1)
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(InputError, match="header says 6 data lines, found 5"):
        read_track(p, storm="SYNTHETIC-A")


def test_ibtracs_fixture():
    t = read_track(DATA / "ibtracs_synthetic.csv", storm="SYNTHETIC")
    assert t.attrs["format"] == "ibtracs" and len(t) == 3
    assert t["time"].iloc[0] == pd.Timestamp("2099-08-08 08:00")
    kt = 0.514444
    # CMA columns preferred over WMO; the interpolated 03:00 row is filled linearly
    np.testing.assert_allclose(t["vmax_m_per_s"], np.array([110, 105, 100]) * kt)
    np.testing.assert_allclose(t["pressure_hpa"], [925, 930, 935])
    np.testing.assert_allclose(t["rmax_km"], np.array([20, 22.5, 25]) * 1.852)
    o = read_track(DATA / "ibtracs_synthetic.csv", storm="2099221N15140")
    assert len(o) == 2 and o["grade"].tolist() == ["TS", "TS"]


def _csv(tmp_path, body, name="t.csv"):
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


GOOD = ("# synthetic\ntime,lat,lon,pressure_hpa,vmax_m_per_s\n"
        "2019-08-09 20:00,27.7,121.8,930,52\n2019-08-10 02:00,28.3,121.4,930,52\n2019-08-10 08:00,28.9,121.0,950,40\n")


def test_forecast_csv_and_hourly_interpolation(tmp_path):
    t = read_track(_csv(tmp_path, GOOD))
    assert t.attrs["format"] == "csv"
    h = interpolate_track(t)
    assert len(h) == 13 and (h["time"].diff().dropna() == pd.Timedelta(hours=1)).all()
    row = h[h["time"] == pd.Timestamp("2019-08-10 05:00")].iloc[0]
    assert row["lat"] == pytest.approx(28.6) and row["pressure_hpa"] == pytest.approx(940.0)
    # translation speed: 0.1 deg lat/h north = 3.09 m/s
    assert row["vt_v_m_per_s"] == pytest.approx(0.1 * 111194.9 / 3600, rel=1e-3)
    assert row["dpdt_hpa_per_h"] == pytest.approx(20 / 6)


@pytest.mark.parametrize("body, match", [
    (GOOD.replace("2019-08-10 02:00", "2019-08-09 19:00"), "not after the previous fix"),
    (GOOD.replace("27.7,", "97.7,"), "lat = 97.7"),
    (GOOD.replace("pressure_hpa,", "p,"), "pressure_hpa"),
    (GOOD.replace(",vmax_m_per_s", ",gust"), "vmax_m_per_s"),
    (GOOD.replace("930,52\n2019-08-10", ",52\n2019-08-10", 1), "pressure_hpa' is empty"),
    ("hello,world\n1,2\n", "unknown track format"),
])
def test_bad_tracks_give_one_line(tmp_path, body, match):
    with pytest.raises(InputError, match=match) as err:
        read_track(_csv(tmp_path, body))
    assert "\n" not in str(err.value) and "t.csv" in str(err.value)


def test_unknown_format_name_and_detection():
    with pytest.raises(InputError, match="unknown track format 'xml'"):
        read_track(DATA / "cma_synthetic.txt", fmt="xml")
    assert detect_format("66666 0001 ...") == "cma"


@given(st.lists(st.tuples(st.integers(1, 12), st.floats(-60, 60), st.floats(100, 180), st.floats(880, 1010),
                          st.floats(0, 90)), min_size=2, max_size=12))
def test_forecast_csv_round_trip(tmp_path_factory, rows):
    hours = np.cumsum([r[0] for r in rows])
    df = pd.DataFrame({"time": pd.Timestamp("2020-07-01 00:00") + pd.to_timedelta(hours, unit="h"),
                       "lat": [round(r[1], 2) for r in rows], "lon": [round(r[2], 2) for r in rows],
                       "pressure_hpa": [round(r[3], 1) for r in rows], "vmax_m_per_s": [round(r[4], 1) for r in rows]})
    p = tmp_path_factory.mktemp("rt") / "track.csv"
    p.write_text(df.to_csv(index=False, date_format="%Y-%m-%d %H:%M"), encoding="utf-8")
    t = read_track(p)
    pd.testing.assert_series_equal(t["time"], df["time"], check_names=False)
    for col in ("lat", "lon", "pressure_hpa", "vmax_m_per_s"):
        np.testing.assert_allclose(t[col], df[col])
    assert list(t["grade"]) == list(grade_of(df["vmax_m_per_s"].to_numpy()))
