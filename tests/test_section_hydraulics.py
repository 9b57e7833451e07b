"""Section hydraulics by conveyance subdivision (HEC-RAS method) and variable-parameter Muskingum-Cunge.

Checked against a hand computation of a compound channel (Chow 1959, ch. 6 style), an independent
polygon computation with shapely, and the issue-22 floodplain case (40 m channel, 2 % floodplains).
"""

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from gis.errors import InputError
from hydro.routing import route_variable
from hydro.stage import build_rating, flat_between, parse_profile, profile_problem, read_profile, roughness


def test_compound_channel_by_hand():
    # trapezoidal main channel (bottom 10 m, 1:1 sides, 2 m deep) between two flat 20 m floodplains;
    # vertical walls above the ends. Water at 3.0 m: 1 m over the floodplains.
    prof = np.array([[0, 2.0], [20, 2.0], [22, 0.0], [32, 0.0], [34, 2.0], [54, 2.0]])
    n_ch, n_ob, s0 = 0.03, 0.06, 0.001
    r = build_rating(prof, n_ch, s0, "hand", levels=30001, headroom_m=1.0,
                     rough=roughness(prof, n_ch, left_bank_m=20, right_bank_m=34, channel_n=n_ch, overbank_n=n_ob))
    # by hand: channel A = (10 + 14) / 2 * 2 + 14 * 1 = 38 m2, P = 10 + 2 * 2 sqrt(2) (the vertical lines
    # at the bank stations are not wetted perimeter); each overbank A = 20 m2, P = 20 + 1 (end wall)
    a_ch, p_ch = 38.0, 10 + 4 * math.sqrt(2)
    a_ob, p_ob = 20.0, 21.0
    k_ch = a_ch * (a_ch / p_ch) ** (2 / 3) / n_ch
    k_ob = a_ob * (a_ob / p_ob) ** (2 / 3) / n_ob
    k = k_ch + 2 * k_ob
    q = k * math.sqrt(s0)
    a = a_ch + 2 * a_ob
    alpha = a**2 / k**3 * (k_ch**3 / a_ch**2 + 2 * k_ob**3 / a_ob**2)
    assert float(r.discharge(3.0)) == pytest.approx(q, rel=1e-4)
    hyd = r.hydraulics(np.array([q]))
    assert hyd["stage"][0] == pytest.approx(3.0, abs=1e-3)
    assert hyd["area"][0] == pytest.approx(a, rel=1e-3)
    assert hyd["top_width"][0] == pytest.approx(54.0, rel=1e-6)
    assert hyd["velocity"][0] == pytest.approx(q / a, rel=1e-3)
    assert hyd["channel_velocity"][0] == pytest.approx(k_ch * math.sqrt(s0) / a_ch, rel=1e-3)
    assert hyd["alpha"][0] == pytest.approx(alpha, rel=1e-3)
    assert hyd["channel_velocity"][0] > hyd["velocity"][0] and hyd["alpha"][0] > 1.2
    # in bank (1.5 m), one subdivision: Manning on the trapezoid, alpha 1
    y = 1.5
    at, pt = (10 + y) * y, 10 + 2 * y * math.sqrt(2)
    assert float(r.discharge(y)) == pytest.approx(at * (at / pt) ** (2 / 3) * math.sqrt(s0) / n_ch, rel=1e-4)
    assert float(np.interp(y, r.level_m, r.alpha)) == pytest.approx(1.0)
    # the same section as one channel: its rating falls as the flat floodplains wet, and is refused
    with pytest.raises(InputError, match="not monotonic"):
        build_rating(prof, n_ch, s0, "hand")


def _independent_subdivision(prof, h, cuts, walls=True):
    """Area and wetted perimeter of each station range by shapely polygons (independent of hydro.stage)."""
    x, z = prof[:, 0], prof[:, 1]
    top = max(z.max(), h) + 1.0
    ground = Polygon([(x[0], -1e3), *map(tuple, prof), (x[-1], -1e3)])  # solid below the ground line
    water = box(x[0], -1e3, x[-1], h).difference(ground)
    line = LineString(prof)
    out = []
    for k, (xa, xb) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        cell = box(xa, -1e3, xb, top)
        area = water.intersection(cell).area
        wet = line.intersection(box(xa, -1e3, xb, h))
        perim = shapely.length(wet)
        if walls and k == 0:
            perim += max(h - z[0], 0.0)
        if walls and k == len(cuts) - 2:
            perim += max(h - z[-1], 0.0)
        out.append((area, perim))
    return out


def test_irregular_section_against_an_independent_polygon_computation():
    prof = np.array([[0, 8.0], [15, 4.1], [40, 3.9], [55, 3.8], [58, 1.0], [62, 0.0], [70, 0.2],
                     [74, 3.7], [90, 4.0], [130, 4.4], [140, 8.5]])
    ns = (0.07, 0.035, 0.05, 0.08)  # n changes at 55 (bank), 74 (bank) and 100 (fields -> brush)
    n_pts = np.array([0.07, 0.07, 0.07, 0.035, 0.035, 0.035, 0.035, 0.05, 0.05, 0.08, 0.08])
    # n by station: the 90-130 segment carries 0.05 up to its end; split it at 100 with a profile point
    prof = np.insert(prof, 9, [100, 4.1], axis=0)
    n_pts = np.insert(n_pts, 9, 0.08)
    n_pts[8] = 0.05
    s0 = 0.002
    r = build_rating(prof, 0.05, s0, "irr", levels=20001,
                     rough=roughness(prof, 0.05, left_bank_m=55, right_bank_m=74, n_by_station=n_pts))
    cuts = [0, 55, 74, 100, 140]
    for h in (2.0, 4.05, 5.5, 9.0):
        parts = _independent_subdivision(prof, h, cuts)
        ks = [a * (a / p) ** (2 / 3) / n if a > 0 else 0.0 for (a, p), n in zip(parts, ns, strict=True)]
        q = sum(ks) * math.sqrt(s0)
        assert float(r.discharge(h)) == pytest.approx(q, rel=2e-3), h
        hyd = r.hydraulics(np.array([q]))
        assert hyd["channel_velocity"][0] == pytest.approx(ks[1] * math.sqrt(s0) / parts[1][0], rel=3e-3), h
    assert r.subdivided and np.all(np.diff(r.discharge_m3_per_s) > 0)


def floodplain_case():
    """The issue's hand-made section: a 40 m channel 2 m deep with 2 % floodplains 200 m wide each side."""
    return np.array([[0, 184.4], [200, 180.4], [202, 178.4], [238, 178.4], [240, 180.4], [440, 184.4]])


def test_floodplain_case_rating_rises_through_warning_and_danger():
    prof = floodplain_case()
    warn, danger = 180.6, 181.2
    with pytest.raises(InputError, match="add bank stations"):
        build_rating(prof, 0.035, 0.002, "flood")  # the one-channel rating dips: refused, not patched
    r = build_rating(prof, 0.035, 0.002, "flood",
                     rough=roughness(prof, 0.035, left_bank_m=200, right_bank_m=240, overbank_n=0.06))
    q = r.discharge(np.linspace(warn, danger, 61))
    assert np.all(np.diff(q) > 0)
    assert q[-1] > 1.3 * q[0] and not flat_between(r, warn, danger)
    # and the inverse: stage rises with discharge across the range, warning before danger
    h = r.stage(np.linspace(q[0], q[-1], 50))
    assert np.all(np.diff(h) > 0) and h[0] == pytest.approx(warn, abs=2e-3) and h[-1] == pytest.approx(danger, abs=2e-3)


@pytest.mark.parametrize("dt_min", [5, 60])
def test_floodplain_case_travel_time_matches_kinematic_celerity(dt_min):
    prof = floodplain_case()
    r = build_rating(prof, 0.035, 0.002, "flood",
                     rough=roughness(prof, 0.035, left_bank_m=200, right_bank_m=240, overbank_n=0.06))
    dt_h = dt_min / 60
    t = np.arange(0, 30, dt_h)
    inflow = 20 + 380 * np.exp(-0.5 * ((t - 8) / 1.5) ** 2)  # peaks over the floodplain (400 m3/s)
    length = 2500.0
    out = route_variable(inflow[None], length, 0.002, r, dt_h)[0]
    c_peak, _ = r.celerity(inflow.max())
    lag_h = (t[np.argmax(out)] - t[np.argmax(inflow)])
    expect_h = length / c_peak / 3600.0  # ~0.4 h, not the 7 h of the 0.1 m/s celerity floor
    assert abs(lag_h - expect_h) <= max(0.3 * expect_h, dt_h), (lag_h, expect_h)
    # one peak, no second wave hours later, little attenuation over 2.5 km, volume kept
    rises = np.nonzero((out[1:-1] > out[:-2]) & (out[1:-1] >= out[2:]))[0]
    assert len(rises) == 1
    assert 0.9 * inflow.max() < out.max() <= inflow.max()
    assert out.sum() == pytest.approx(inflow.sum(), rel=5e-3)


def test_bank_stations_must_lie_inside_the_profile():
    prof = floodplain_case()
    with pytest.raises(InputError, match="outside the profile"):
        roughness(prof, 0.035, left_bank_m=-5, right_bank_m=240, section="一都")
    with pytest.raises(InputError, match="only one bank station"):
        roughness(prof, 0.035, left_bank_m=200, section="一都")
    with pytest.raises(InputError, match="no channel bed between"):
        roughness(prof, 0.035, left_bank_m=0, right_bank_m=150, section="一都")


@pytest.mark.parametrize("bad", ["0,5", "0,5;10,5;20,5", "0,5;10,0;5,5", "0,1;10,2;20,3", "a,b;c"])
def test_one_parser_for_case_and_forecast(bad):
    from gis.case import check_profile
    from gis.case import parse_profile as case_parse

    # whatever the case loader refuses, the forecast refuses with the same reason, and vice versa
    try:
        arr = case_parse(bad)
        why = check_profile(arr)
    except ValueError as exc:
        why = str(exc)
    assert why
    with pytest.raises(InputError, match="profile"):
        parse_profile(bad, "sections.geojson", "白鹤")
    good = "0,5;10,1;20,5"
    assert profile_problem(read_profile(good)) is None and check_profile(case_parse(good)) is None


# ----------------------------------------------------------------------------- on the sample case
SAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "data_samples" / "dongguanxi"


@pytest.fixture(scope="module")
def sample():
    if not (SAMPLE / "case.toml").is_file():
        pytest.skip("sample case not generated")
    from gis.case import load_case

    return load_case(SAMPLE)


def test_sample_main_channel_velocity_peaks_with_discharge(sample):
    from hydro.forecast import case_subbasin_rain, forecast

    assert sample.one_channel_sections() == []  # the sample has bank stations and channel/overbank n
    ds, _ = forecast(sample, case_subbasin_rain(sample, design_storm="50y"), "normal")
    for s in ds["section"].values:
        q = ds["discharge"].sel(section=s).values
        v = ds["channel_velocity"].sel(section=s).values
        vm = ds["velocity"].sel(section=s).values
        assert np.argmax(v) == np.argmax(q), s
        # over the floodplain the main channel runs faster than the section mean
        k = np.argmax(q)
        assert v[k] > vm[k], s
        # velocity does not rise while the flood falls: after the peak it recedes with discharge
        after = slice(k, None)
        assert np.all(np.diff(v[after])[np.diff(q[after]) < 0] <= 1e-9), s


def _sample_copy(tmp_path):
    import shutil

    root = tmp_path / "case"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("households.gpkg.*"))
    return root


def _problems(root):
    from gis.case import validate_case

    return [str(p) for p in validate_case(root)]


def test_validate_flags_bad_banks_one_channel_dips_and_flat_levels(sample, tmp_path):
    import geopandas as gpd

    root = _sample_copy(tmp_path)
    sec = gpd.read_file(root / "sections.geojson")
    orig = sec.copy()
    sec.loc[0, "right_bank_m"] = 5000.0  # 一都: beyond the last station
    sec.loc[1, ["left_bank_m", "right_bank_m"]] = np.nan  # 白鹤: one channel over a flat valley floor
    w = float(sec.loc[2, "warning_level_m"])
    sec.loc[2, "danger_level_m"] = w + 0.001  # 绍鲁: both levels at practically the same discharge
    sec.to_file(root / "sections.geojson", driver="GeoJSON")
    out = _problems(root)
    assert any("section '一都': bank stations" in p and "outside the profile" in p for p in out), out
    assert any("section '白鹤': the rating is not monotonic" in p and "add bank stations" in p for p in out), out
    assert any("section '绍鲁': the rating is flat between the warning level" in p for p in out), out
    # without any bank columns the case is one-channel everywhere: refused where the rating dips,
    # and `case info` says which sections are rated as one channel
    orig.drop(columns=["left_bank_m", "right_bank_m", "channel_n", "overbank_n"]).to_file(
        root / "sections.geojson", driver="GeoJSON")
    out = _problems(root)
    assert out and all("not monotonic" in p for p in out), out


def test_case_info_notes_one_channel_sections(sample, tmp_path, capsys):
    import geopandas as gpd

    import cli

    root = _sample_copy(tmp_path)
    sec = gpd.read_file(root / "sections.geojson")
    # a one-channel section whose profile does not dip: a deep V without a floodplain
    sec.loc[0, ["left_bank_m", "right_bank_m"]] = np.nan
    bed = float(sec.loc[0, "bed_elev_m"])
    sec.loc[0, "profile"] = f"0,{bed + 12};30,{bed};60,{bed + 12}"
    sec.to_file(root / "sections.geojson", driver="GeoJSON")
    assert cli.main(["case", "info", str(root)]) == 0
    text = capsys.readouterr().out
    assert "section(s) 一都 have no bank stations" in text


def test_cli_bank_outside_profile_is_one_line_exit_2(sample, tmp_path, capsys):
    import geopandas as gpd

    import cli

    root = _sample_copy(tmp_path)
    sec = gpd.read_file(root / "sections.geojson")
    sec.loc[2, "left_bank_m"] = -10.0
    sec.to_file(root / "sections.geojson", driver="GeoJSON")
    rc = cli.main(["forecast", str(root), "--design-storm", "50y", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "绍鲁" in err[0] and "outside the profile" in err[0]


def test_cli_non_monotonic_rating_is_one_line_exit_2(sample, tmp_path, capsys):
    import geopandas as gpd

    import cli

    root = _sample_copy(tmp_path)
    sec = gpd.read_file(root / "sections.geojson")
    sec.loc[1, ["left_bank_m", "right_bank_m"]] = np.nan  # 白鹤 as one channel over its flat valley floor
    sec.to_file(root / "sections.geojson", driver="GeoJSON")
    rc = cli.main(["forecast", str(root), "--design-storm", "50y", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "白鹤" in err[0] and "not monotonic" in err[0] and "add bank stations" in err[0]
