"""Local time stepping (``SimulationOptions.lts_levels``): each tile steps at its own stable step.

It must keep what the global step keeps (volume to rounding, depths >= 0, a lake at rest, a
bit-identical hot start) and give the global step's flow to within the scheme's own error.
"""

from __future__ import annotations

import numpy as np
import pytest

from hydro.inundation import Hydrograph, Rain, Simulation, SimulationOptions
from hydro.inundation.simulation import plan_levels


def mound_in_a_valley(**options):
    """A 3 m Gaussian mound of water collapsing into a valley (0.1 % down its axis, open edges)."""
    y, x = np.mgrid[0:128, 0:192] * 5.0
    z = 10 - 0.001 * x + 6e-6 * (y - 320.0) ** 2
    h0 = 3.0 * np.exp(-((x - 300) ** 2 + (y - 320.0) ** 2) / (2 * 100.0 ** 2))
    return Simulation(z, 5.0, 5.0, 0.04, h0, boundary="open", options=SimulationOptions(tile_size=16, **options))


def test_local_steps_give_the_global_steps_flow():
    ref = mound_in_a_valley().run(600.0)
    lts = mound_in_a_valley(lts_levels=4).run(600.0)
    s = lts.summary()
    assert s["lts_levels"] == 4 and s["steps"] == lts.substeps > s["lts_cycles"] == lts.steps
    assert s["lts_work_fraction"] < 0.95  # measured 0.85: the shallow edges step 2-8 times less often
    h0, h1 = (r.state.interior(r.state.h).astype(float) for r in (ref, lts))
    m0, m1 = (r.state.interior(r.state.max_h).astype(float) for r in (ref, lts))
    assert np.abs(h1 - h0).sum() / h0.sum() < 2e-3
    assert np.abs(m1 - m0).sum() / m0.sum() < 2e-2
    assert abs(lts.totals["outflow_m3"] / ref.totals["outflow_m3"] - 1) < 2e-3
    assert lts.volume_error_relative() < 1e-6 and lts.totals["clipped_m3"] < 1e-6 * lts.volume0
    assert h1.min() >= 0.0


def test_local_steps_conserve_rain_on_a_closed_basin():
    yy, xx = np.mgrid[0:80, 0:100]
    dem = 0.02 * np.hypot(xx - 50.0, yy - 40.0) + np.sin(xx / 5.0)
    dem[40:60, 20:40] -= 4.0  # a deep pond beside shallow slopes: several levels
    sim = Simulation(dem, 10.0, 10.0, 0.05, np.where(dem < -1, 3.0, 0.0), rain=Rain.constant(60.0, 1800.0),
                     options=SimulationOptions(tile_size=16, lts_levels=4))
    sim.run(2400.0, output_interval_s=600.0)
    assert sim.summary()["lts_work_fraction"] < 0.9
    assert sim.volume_error_relative() < 1e-6
    stored = float(sim.state.interior(sim.state.h).astype(float).sum()) * 100.0
    expected = sim.volume0 + sim.totals["rain_m3"]
    assert abs(stored - expected) / expected < 1e-6
    assert sim.state.h.min() >= 0.0


def test_local_steps_keep_a_lake_at_rest():
    rng = np.random.default_rng(1)
    dem = rng.uniform(0.0, 3.0, (70, 90))
    dem[:, :30] -= 20.0  # deep and shallow parts: different levels side by side
    sim = Simulation(dem, 5.0, 5.0, 0.05, np.maximum(2.0 - dem, 0.0),
                     options=SimulationOptions(tile_size=16, lts_levels=4))
    sim.run(300.0)
    assert len(np.unique(sim.engine._code[sim.state.active] >> 1)) > 1
    assert np.all(sim.state.qx == 0) and np.all(sim.state.qy == 0)


def test_local_steps_hot_start_reproduces_the_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(3)
    dem = rng.uniform(0, 1, (40, 50)) + np.linspace(0, 3, 50)[None]
    dem[10:30, 5:20] -= 3.0
    inflow = Hydrograph("q", np.array([20]), np.array([45]), [0, 600, 1200], [0.0, 5.0, 0.0])

    def make():
        return Simulation(dem, 10.0, 10.0, 0.05, np.where(dem < 0, 2.5, 0.0), rain=Rain.constant(30.0, 900.0),
                          inflows=[inflow], boundary="open", options=SimulationOptions(tile_size=8, lts_levels=3))

    full = make().run(1200.0, output_interval_s=300.0)
    ck = tmp_path / "ck.npz"
    make().run(600.0, output_interval_s=300.0, checkpoint_path=ck)
    resumed = make().load_checkpoint(ck).run(1200.0, output_interval_s=300.0)
    assert resumed.steps == full.steps and resumed.substeps == full.substeps > full.steps
    assert resumed.cell_updates == full.cell_updates
    for k, v in full.state.arrays().items():
        np.testing.assert_array_equal(resumed.state.arrays()[k], v, err_msg=k)
    assert resumed.balance_rows == full.balance_rows


def test_plan_levels_keeps_each_tile_within_its_step():
    rng = np.random.default_rng(7)
    tile_dt = rng.uniform(0.3, 10.0, (12, 15))
    tile_dt[5, 5] = 0.25
    tile_dt[0, :4] = np.inf  # dry
    part = np.ones_like(tile_dt, bool)
    part[-1, -1] = False
    T, n, lev = plan_levels(tile_dt, part, 4, cap=5.0)
    assert n == 8 and T == pytest.approx(2.0)  # 8 finest steps of the smallest tile step
    step = T / n * 2.0 ** lev
    assert np.all(step[part] <= tile_dt[part] * (1 + 1e-12))
    assert lev[5, 5] == 0 and lev.max() == 3
    pad = np.pad(lev.astype(int), 1, mode="edge")
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            nb = pad[1 + di:pad.shape[0] - 1 + di, 1 + dj:pad.shape[1] - 1 + dj]
            assert np.all(np.abs(lev.astype(int) - nb)[part] <= 1)
    # a dry tile next to wet ones takes their least step: a front may enter it within the cycle
    nb = tile_dt[:2, 2:5]
    assert step[0, 3] <= nb[np.isfinite(nb)].min()
    # the cap (an output time) shortens the cycle and the finest step with it
    T2, n2, _ = plan_levels(tile_dt, part, 4, cap=0.6)
    assert T2 == 0.6 and n2 == 4 and T2 / n2 <= 0.25
    assert plan_levels(np.full((2, 2), np.inf), np.ones((2, 2), bool), 4, cap=3.0)[:2] == (3.0, 1)


def test_local_steps_keep_a_radial_dam_break_symmetric():
    """A 1 m column in a 62 x 62 box of 1 m cells, 16-cell tiles laid out symmetrically about its centre:
    the levels come out symmetric, and so must the flow (a face between two levels changes at the
    coarse rate whichever tile owns it; with the owner's rate the depths differed by 13 % of the
    deepest between mirror cells). Against the global step the depths differ by 5.6 % in L1: the
    front runs at its own, larger step."""
    n = 62
    yy, xx = np.mgrid[0:n, 0:n]
    r = np.hypot(xx - 30.5, yy - 30.5)
    runs = {}
    for levels in (1, 5):
        sim = Simulation(np.zeros((n, n)), 1.0, 1.0, 0.02, np.where(r < 8, 1.0, 0.0),
                         options=SimulationOptions(tile_size=16, lts_levels=levels))
        sim.run(5.0)
        runs[levels] = sim
    lts = runs[5]
    h = lts.state.interior(lts.state.h).astype(float)
    assert lts.summary()["lts_work_fraction"] < 0.97 and h.max() > 0.3
    for other in (h.T, h[::-1, :], h[:, ::-1], h[::-1, ::-1].T):
        assert np.abs(h - other).max() < 1e-5 * h.max()
    assert lts.volume_error_relative() < 1e-6
    ref = runs[1].state.interior(runs[1].state.h).astype(float)
    assert np.abs(h - ref).sum() / ref.sum() < 0.08
