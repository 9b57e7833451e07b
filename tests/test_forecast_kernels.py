"""Kernels of the forecast chain: Xinanjiang water balance, SCS, unit hydrographs, Muskingum, Manning."""

import numpy as np
import pytest

from gis.errors import InputError
from hydro import core_xinanjiang as core
from hydro.routing import (
    muskingum_coefficients,
    muskingum_cunge,
    nash_parameters,
    nash_unit_hydrograph,
    route_network,
)
from hydro.runoff import initial_state, params_array, run_scs, run_xinanjiang, scs_cn_for_condition
from hydro.stage import build_rating, parse_profile, roughness, wetted_geometry

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("condition", ["dry", "normal", "wet"])
def test_xinanjiang_water_balance_every_step(condition):
    par = params_array({"IM": 0.05})[0]
    st = initial_state(condition, par)[0]
    rain = RNG.gamma(0.4, 12.0, 500) * (RNG.random(500) < 0.4)
    rain[100:110] = 60.0  # saturate the basin once
    pet = 0.2 + 0.1 * RNG.random(500)
    for t in range(500):
        s0 = core.storage_mm(par, st)
        e, rs, ri, rg, qi, qg = core.xaj_step(rain[t], pet[t], par, st, 1.0)
        s1 = core.storage_mm(par, st)
        assert rain[t] == pytest.approx(e + rs + ri + rg + (s1 - s0), abs=1e-9)
        assert min(e, rs, ri, rg) >= 0.0
        assert 0.0 <= st[core.S_WU] <= par[core.P_WUM] + 1e-9
        assert 0.0 <= st[core.S_WL] <= par[core.P_WLM] + 1e-9
        assert 0.0 <= st[core.S_WD] <= par[core.P_WDM] + 1e-9


def test_xinanjiang_saturated_basin_passes_all_excess():
    # a saturated basin (W = WM) turns all net rain into runoff (saturation excess, Zhao 1992)
    par = params_array({"IM": 0.0})[0]
    st = initial_state(1.0, par)[0]
    s0 = core.storage_mm(par, st)
    e, rs, ri, rg, _, _ = core.xaj_step(50.0, 0.0, par, st, 1.0)
    assert e == 0.0
    # the tension water stays full, so all 50 mm go to the free-water store and runoff
    assert rs + ri + rg + core.storage_mm(par, st) - s0 == pytest.approx(50.0)
    assert st[:3].sum() == pytest.approx(par[1:4].sum())


def test_wetter_soil_gives_more_runoff():
    par = params_array(n=3)
    rain = np.zeros((3, 48))
    rain[:, 2:8] = 20.0
    out = []
    for cond in ("dry", "normal", "wet"):
        st = initial_state(cond, par)
        q, _ = run_xinanjiang(rain, 0.1, par, st)
        out.append(q.sum())
    assert out[0] < out[1] < out[2]


def test_scs_matches_closed_form_and_amc():
    rain = np.full((1, 10), 10.0)
    q, cum = run_scs(rain, 80.0)
    s = 25400 / 80 - 254
    expected = (100 - 0.2 * s) ** 2 / (100 + 0.8 * s)
    assert q.sum() == pytest.approx(expected)
    assert cum[0] == pytest.approx(100.0)
    assert scs_cn_for_condition(80.0, "dry") < 80 < scs_cn_for_condition(80.0, "wet")
    # continuing an event gives the same total as one run
    q1, c1 = run_scs(rain[:, :4], 80.0)
    q2, _ = run_scs(rain[:, 4:], 80.0, c1)
    assert q1.sum() + q2.sum() == pytest.approx(expected)


@pytest.mark.parametrize("n,k", [(1.0, 0.7), (3.0, 1.5), (2.4, 4.0), (6.0, 0.3)])
def test_nash_unit_hydrograph_sums_to_one_and_has_the_gamma_mean(n, k):
    u = nash_unit_hydrograph(n, k, 1.0)
    assert u.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(u >= 0)
    # the centroid of the T-hour UH is the IUH mean n k plus dt/2
    # (ordinate j is the mean flow over step j for a 1-step block of rain)
    t = np.arange(1, len(u) + 1)
    assert (u * t).sum() == pytest.approx(n * k + 0.5, rel=0.02, abs=0.12)


def test_nash_parameters_lag_grows_with_length_and_flatter_slope():
    n1, k1 = nash_parameters(20.0, 8.0, 0.05)
    n2, k2 = nash_parameters(20.0, 16.0, 0.05)
    n3, k3 = nash_parameters(20.0, 8.0, 0.01)
    assert n1 == n2 == n3 == 3.0
    assert k2 > k1 and k3 > k1
    _, k_hack = nash_parameters(20.0, None, 0.05)
    assert k_hack > 0


def trapezoid(b=10.0, z=2.0, depth=6.0):
    return np.array([[0, depth], [z * depth, 0.0], [z * depth + b, 0.0], [2 * z * depth + b, depth]])


def test_wetted_geometry_of_trapezoid_is_analytic():
    prof = trapezoid()
    h = np.array([0.5, 2.0, 5.0])
    a, p, w = wetted_geometry(prof, h)
    np.testing.assert_allclose(a, (10 + 2 * h) * h)
    np.testing.assert_allclose(p, 10 + 2 * h * np.sqrt(5))
    np.testing.assert_allclose(w, 10 + 4 * h)


def test_manning_inversion_round_trips_on_a_compound_section():
    # main channel with a floodplain on each side, irregular survey
    prof = np.array([[0, 8.0], [15, 4.1], [40, 3.9], [55, 3.8], [58, 1.0], [62, 0.0], [70, 0.2],
                     [74, 3.7], [90, 4.0], [130, 4.4], [140, 8.5]])
    # as one channel its Q(h) falls where water spreads over the floodplains: refused, with the fix
    with pytest.raises(InputError, match="not monotonic.*add bank stations"):
        build_rating(prof, 0.04, 0.003, "test")
    r = build_rating(prof, 0.04, 0.003, "test", rough=roughness(prof, 0.04, left_bank_m=55, right_bank_m=74,
                                                                 channel_n=0.035, overbank_n=0.06))
    q = np.array([0.5, 5.0, 40.0, 150.0, 600.0, 2500.0])
    h = r.stage(q)
    assert np.all(np.diff(h) > 0)
    np.testing.assert_allclose(r.discharge(h), q, rtol=1e-3)
    # and level -> Q -> level
    levels = np.array([0.3, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(r.stage(r.discharge(levels)), levels, atol=5e-3)
    # against the analytic Manning discharge in the trapezoid
    tr = build_rating(trapezoid(), 0.03, 0.002)
    y = 2.5
    a, p = (10 + 2 * y) * y, 10 + 2 * y * np.sqrt(5)
    qa = a * (a / p) ** (2 / 3) * np.sqrt(0.002) / 0.03
    assert tr.stage(qa) == pytest.approx(y, abs=2e-3)
    hyd = tr.hydraulics(np.array([qa]))
    assert hyd["velocity"][0] == pytest.approx(qa / a, rel=2e-3)
    assert hyd["depth"][0] == pytest.approx(a / (10 + 4 * y), rel=2e-3)


@pytest.mark.parametrize("bad", ["0,5", "0,5;10,5;20,5", "0,5;10,0;5,5", "0,1;10,2;20,3"])
def test_flat_or_short_profiles_are_refused(bad):
    with pytest.raises(InputError, match="profile"):
        parse_profile(bad, "sections.geojson", "白鹤")


def test_muskingum_conserves_volume_and_attenuates():
    prof = trapezoid(b=20, z=3, depth=8)
    r = build_rating(prof, 0.035, 0.004)
    t = np.arange(200.0)
    inflow = 5 + 400 * np.exp(-0.5 * ((t - 30) / 5) ** 2)
    mc = muskingum_cunge(12_000.0, 0.004, r, 200.0, 1.0)
    assert min(mc.c0, mc.c1, mc.c2) >= -1e-12
    assert mc.c0 + mc.c1 + mc.c2 == pytest.approx(1.0)
    out = mc.route(inflow[None, :])[0]
    assert out.sum() == pytest.approx(inflow.sum(), rel=1e-6)
    assert out.max() < inflow.max()
    assert np.argmax(out) > np.argmax(inflow)
    # X = 0 with K = dt gives the linear-reservoir recurrence
    c0, c1, c2 = muskingum_coefficients(3600.0, 0.0, 3600.0)
    assert (c0, c1, c2) == pytest.approx((1 / 3, 1 / 3, 1 / 3))


def test_route_network_adds_upstream_flow():
    r = build_rating(trapezoid(b=20, z=3, depth=8), 0.035, 0.004)
    ids = ["a", "b", "c"]
    down = {"a": "b", "b": "c", "c": None}
    local = np.zeros((2, 3, 100))
    local[:, 0, 10:20] = 100.0
    local[:, 1, :] = 1.0
    q = route_network(local, ids, down, {"a": 5000.0, "b": 7000.0, "c": 0.0},
                      {"a": 0.004, "b": 0.004, "c": 0.004}, {s: r for s in ids})
    # variable-parameter Muskingum-Cunge does not conserve volume exactly (Ponce & Chaganti 1994): bounded
    assert q[0, 2].sum() == pytest.approx(local[0].sum(), rel=2e-2)
    assert np.argmax(q[0, 2]) > np.argmax(q[0, 0])


@pytest.mark.slow
def test_real_fulda_record_validation_nse():
    # real observed rainfall-runoff (Fulda at Grebenau, shipped in the SPOTPY wheel)
    pytest.importorskip("spotpy")
    from hydro.validation_fulda import run

    out = run(maxiter=25)
    assert out["calibration"]["nse"] > 0.65
    assert out["validation"]["nse"] > 0.65
