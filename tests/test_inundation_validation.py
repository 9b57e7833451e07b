"""Validation of the 2-D local-inertial solver against analytic solutions and conservation laws.

References: Hunter et al. (2005) and Bates et al. (2010) for the moving front over a plane;
Delestre et al. (2013, SWASHES) for Stoker's dam break on a wet bed and MacDonald's steady flow
with friction; lake at rest (well-balancing); mass conservation; radial symmetry.
Error norms measured here are recorded in BENCHMARKS.md (section "Inundation").
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from gis.errors import InputError, SimulationError
from hydro.inundation import Hydrograph, Rain, Simulation, SimulationOptions

G = 9.80665


# ----------------------------------------------------------------------------- analytic solutions
def front_depth(x, t, u=1.0, n=0.01):
    """Hunter et al. (2005), Bates et al. (2010) eq. 14: h = [-7/3 (n^2 u^2 (x - u t))]^(3/7)."""
    return np.maximum(-7.0 / 3.0 * n * n * u * u * (x - u * t), 0.0) ** (3.0 / 7.0)


def stoker_depth(x, t, hl=0.005, hr=0.001, x0=5.0):
    """Stoker's dam break on a wet bed, as given in SWASHES (Delestre et al. 2013, sect. 4.1.1)."""
    def f(c):
        return -8 * G * hr * c * c * (np.sqrt(G * hl) - c) ** 2 + (c * c - G * hr) ** 2 * (c * c + G * hr)

    cm = brentq(f, np.sqrt(G * hr) * (1 + 1e-9), np.sqrt(G * hl))
    xa = x0 - t * np.sqrt(G * hl)
    xb = x0 + t * (2 * np.sqrt(G * hl) - 3 * cm)
    xc = x0 + t * (2 * cm * cm * (np.sqrt(G * hl) - cm)) / (cm * cm - G * hr)
    fan = 4 / (9 * G) * (np.sqrt(G * hl) - (x - x0) / (2 * t)) ** 2
    return np.where(x <= xa, hl, np.where(x <= xb, fan, np.where(x <= xc, cm * cm / G, hr)))


def macdonald_case(dx, q=0.5, n=0.033, length=1000.0, advection=True):
    """MacDonald et al. (1997) steady flow with friction, SWASHES sect. 3.1.1 (long channel).

    The depth profile is SWASHES's h(x) = (4/g)^(1/3) (1 + exp(-16 (x/L - 1/2)^2) / 2); the bed
    follows from the full steady equation z' = (q^2/(g h^3) - 1) h' - n^2 q^2 / h^(10/3). The unit
    discharge is lowered from 2 to 0.5 m2/s so the Froude number stays below 0.25: the
    local-inertial scheme drops advection, whose share of the momentum balance is Fr^2. With
    ``advection=False`` the bed is built by the same method from the equation the scheme solves
    (z' = -h' - n^2 q^2 / h^(10/3)), so what is left is discretisation error only.
    """
    xf = np.linspace(0.0, length, 20001)
    hf = (4 / G) ** (1 / 3) * (1 + 0.5 * np.exp(-16 * (xf / length - 0.5) ** 2))
    fr2 = q * q / (G * hf ** 3) if advection else 0.0
    dz = (fr2 - 1) * np.gradient(hf, xf) - n * n * q * q / hf ** (10 / 3)
    z = np.concatenate([[0.0], np.cumsum(0.5 * (dz[1:] + dz[:-1]) * np.diff(xf))])
    z -= z[-1]
    nx = int(round(length / dx))
    x = (np.arange(nx) + 0.5) * dx
    return x, np.interp(x, xf, z), np.interp(x, xf, hf)


def run_macdonald(dx, q=0.5, n=0.033, duration=3000.0, advection=True):
    x, zc, ha = macdonald_case(dx, q, n, advection=advection)
    ny, nx = 3, len(x)
    rows = np.arange(ny)
    inflow = Hydrograph("upstream", rows, np.zeros(ny, int), [0, duration], [q * dx * ny] * 2)
    stage = Hydrograph("downstream", rows, np.full(ny, nx - 1), [0, duration], [zc[-1] + ha[-1]] * 2)
    sim = Simulation(np.repeat(zc[None], ny, 0), dx, dx, n, np.repeat(ha[None], ny, 0),
                     inflows=[inflow], stages=[stage])
    sim.run(duration)
    err = (sim.state.h[2, 1:-1].astype(float) - ha)[1:-1]  # not the forced inflow / stage cells
    return float(np.sqrt(np.mean(err ** 2))), float(np.abs(err).max())


def run_moving_front(dx, t_end=3600.0):
    """The moving front on 3 rows, theta = 1 (Bates et al. 2010); returns x, depth, analytic depth, sim."""
    ny, nx = 3, int(5000 / dx)
    times = np.linspace(0.0, t_end, 3601)
    west = Hydrograph("west", np.arange(ny), np.zeros(ny, int), times, front_depth(0.0, times))
    sim = Simulation(np.zeros((ny, nx)), dx, dx, 0.01, 0.0, stages=[west],
                     options=SimulationOptions(theta=1.0, hmin=1e-4))
    sim.run(t_end)
    x = np.arange(nx) * dx
    return x, sim.state.h[2, 1:-1].astype(float), front_depth(x, t_end), sim


def run_stoker(dx, t=6.0):
    """Stoker's dam break on 3 rows, frictionless; returns x, depth, analytic depth, sim."""
    nx = int(10 / dx)
    x = (np.arange(nx) + 0.5) * dx
    h0 = np.repeat(np.where(x < 5.0, 0.005, 0.001)[None], 3, 0)
    sim = Simulation(np.zeros((3, nx)), dx, dx, 1e-6, h0, options=SimulationOptions(hmin=1e-6, dt_max=0.1))
    sim.run(t)
    return x, sim.state.h[1, 1:-1].astype(float), stoker_depth(x, t), sim


def run_radial(theta=0.9, t=5.0, **options):
    """A 1 m column of radius 8 m in a 61 x 61 m box (1 m cells, 16-cell tiles); returns the depths
    and each cell's distance from the centre."""
    n = 61
    yy, xx = np.mgrid[0:n, 0:n]
    r = np.hypot(xx - 30, yy - 30)
    sim = Simulation(np.zeros((n, n)), 1.0, 1.0, 0.02, np.where(r < 8, 1.0, 0.0),
                     options=SimulationOptions(tile_size=16, theta=theta, **options))
    sim.run(t)
    return sim.state.interior(sim.state.h).astype(float), r


def run_steep_channel(slope, n=0.04, h_normal=2.0, duration=2400.0, ny=2000, **options):
    """Steady inflow with a 5 % ripple down a channel of ``ny`` 5 m cells (10 km) and constant
    ``slope``, open at its lower end.

    Returns the depths along the channel's centre line, the inflow per unit width and the profile
    of the ripple's amplitude (max - min over 500 m windows at 1, 5 and 9 km of a 10 km channel).
    """
    dx, nx = 5.0, 6
    y = np.arange(ny) * dx
    z = np.tile(((ny * dx - y) * slope)[:, None], (1, nx))
    z[:, [0, -1]] += 50.0  # side walls
    z[0, :] += 50.0  # an upstream wall, so no inflow leaves through the open top edge
    q = h_normal ** (5 / 3) * slope ** 0.5 / n
    times = np.arange(0.0, duration + 1, 5.0)
    inflow = Hydrograph("top", np.ones(nx - 2, int), np.arange(1, nx - 1), times,
                        q * dx * (nx - 2) * (1 + 0.05 * np.sin(2 * np.pi * times / 60.0)))
    sim = Simulation(z, dx, dx, n, 0.0, inflows=[inflow], boundary="open", options=SimulationOptions(**options))
    sim.run(duration)
    h = sim.state.interior(sim.state.h)[:, nx // 2].astype(float)
    amp = [float(np.ptp(h[k - 50:k + 50])) for k in (200, 1000, 1800) if k + 50 <= ny]
    return h, q, amp


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lake_at_rest_over_rough_terrain(dtype):
    rng = np.random.default_rng(1)
    dem = rng.uniform(0.0, 3.0, (70, 90))
    dem[30:35, 40:44] = np.nan  # a hole outside the domain
    level = 2.0
    sim = Simulation(dem, 5.0, 5.0, rng.uniform(0.02, 0.1, dem.shape), np.maximum(level - dem, 0.0),
                     options=SimulationOptions(dtype=dtype, tile_size=16))
    sim.run(300.0)
    s = sim.state
    assert sim.steps > 20
    assert np.all(s.qx == 0) and np.all(s.qy == 0)
    eta = s.interior(s.h) + s.interior(s.z)
    wet = ~np.isnan(dem) & (dem < level)
    np.testing.assert_allclose(eta[wet], level, atol=1e-6)
    assert np.nanmax(sim.state.interior(s.max_speed)) == 0.0


def test_rain_on_closed_basin_conserves_volume():
    yy, xx = np.mgrid[0:80, 0:100]
    dem = 0.002 * ((xx - 50.0) ** 2 + (yy - 40.0) ** 2) ** 0.5 * 10 + np.sin(xx / 5.0)  # a bowl with ripples
    dem[:3, :3] = np.nan
    sim = Simulation(dem, 10.0, 10.0, 0.05, 0.0, rain=Rain.constant(60.0, 1800.0))
    sim.run(3600.0, output_interval_s=900.0)
    rain_volume = 60.0 / 1000 / 3600 * 1800.0 * np.isfinite(dem).sum() * 100.0
    assert sim.totals["rain_m3"] == pytest.approx(rain_volume, rel=1e-7)  # float32 rate
    assert abs(sim.volume - rain_volume) / rain_volume < 1e-6
    assert sim.volume_error_relative() < 1e-6
    assert sim.totals["outflow_m3"] == 0.0


def test_moving_front_over_horizontal_plane():
    """Bates et al. (2010) sect. 4.1 / Hunter et al. (2005): u = 1 m/s, n = 0.01, t = 3600 s, dx = 25 m."""
    t_end = 3600.0
    x, h, ha, _ = run_moving_front(25.0, t_end)
    behind = (x > 0) & (x < 3000)
    rmse = np.sqrt(np.mean((h - ha)[behind] ** 2))
    assert rmse < 0.03  # measured 0.018 m (depth 0.43-0.93 m); the scheme keeps the Fr^2 inertia term
    front = x[h > 0.01].max()
    assert 0.9 * t_end <= front <= 1.02 * t_end  # measured 3350 m vs 3600 m


def test_stoker_dam_break_on_wet_bed():
    """SWASHES 4.1.1: L = 10 m, x0 = 5 m, hl = 0.005 m, hr = 0.001 m, t = 6 s, frictionless."""
    x, h, ha, sim = run_stoker(0.05)
    l1 = np.mean(np.abs(h - ha)) / np.mean(ha)
    assert l1 < 0.07  # measured 0.062: no advection in the local-inertial scheme smears the shock
    # the rarefaction ends and the shock lies where Stoker puts them (within 0.5 m)
    mid = (h > 0.0015) & (h < 0.0045)
    assert abs(x[mid].min() - x[(ha > 0.0015) & (ha < 0.0045)].min()) < 0.5
    assert sim.volume_error_relative() < 1e-6


def test_macdonald_steady_flow_with_friction():
    rmse, emax = run_macdonald(10.0)
    assert rmse < 0.012  # measured 0.0100 m on depths of 0.74-1.11 m
    assert emax < 0.03


def test_error_falls_with_grid_refinement():
    errs = [run_macdonald(dx, advection=False)[0] for dx in (40.0, 20.0, 10.0)]
    print("MacDonald (no advection) RMSE at dx 40/20/10 m:", errs)
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.5 * errs[0]  # at least first order


def test_radial_dam_break_stays_symmetric():
    """The scheme's symmetry, every cell at the global step (local time stepping keeps it where its
    tiles are laid out symmetrically: ``test_inundation_lts.py``)."""
    h, r = run_radial(lts_levels=1)
    assert h.max() > 0.01 and (h[r > 12] > 1e-3).any()  # water spread beyond the dam ...
    assert np.abs(h[:, 0]).max() < 1e-6  # ... and not yet to the walls (front at r = 18 m)
    for other in (h.T, h[::-1, :], h[:, ::-1], h[::-1, ::-1].T):
        assert np.abs(h - other).max() < 1e-4 * h.max()


def test_subcritical_channel_flow_reaches_manning_normal_depth():
    """Uniform flow on a 0.3 % slope, Fr = 0.49: the depth is Manning's normal depth and a 5 %
    inflow ripple decays downstream (the local-inertial equations are stable below Fr = 0.6)."""
    h, q, amp = run_steep_channel(0.003, duration=3000.0)
    reach = h[150:1000]  # 0.75-5 km, behind the front
    assert np.abs(reach / 2.0 - 1).max() < 0.03  # analytic normal depth 2.0 m
    assert amp[1] < amp[0] < 0.2


@pytest.mark.parametrize("slope", [0.003, 0.02])
def test_free_outflow_edge_takes_the_local_bed_slope(slope):
    """The open lower end of a 2 km channel passes its flow at the reach's own depth: the
    free-outflow edge continues the local bed slope (as LISFLOOD-FP's free boundary does), so it
    does not back water up the valley. With the fixed 1e-3 water-surface slope used before
    2026-11-23, the last cells stood at the normal depth for 1e-3, 2.78 m on the 0.3 % slope
    instead of 2.0 m, and about twice the capped depth on the 2 % slope."""
    h, q, _ = run_steep_channel(slope, ny=400, duration=1500.0)
    reach = h[150:350].mean()
    h_ref = 2.0 if slope < 0.01 else (q / (0.8 * np.sqrt(G))) ** (2 / 3)  # Manning / capped normal depth
    assert abs(reach / h_ref - 1) < 0.03
    assert np.abs(h[-5:] / reach - 1).max() < 0.05


def test_reported_speed_is_bounded_by_the_water_that_can_carry_the_discharge():
    """A cell's reported speed is its centred discharge over its depth, except where that would
    exceed the Froude cap: a thin cell below a deep face (which the face depth carried) reports
    the speed of the shallowest water that can carry the discharge, (fr^2 g |q|)^(1/3). Before
    2026-11-23 such cells reported up to 629 m/s on the 5 m sample."""
    from hydro.inundation.physics import cell_outputs

    fr = 0.8
    nan = float("nan")

    def speed(h, q):
        o = cell_outputs(h, q, q, 0.0, 0.0, 1.0, 1.0, 1e-3, 0.1, 1e-2, fr ** 4 * G ** 2, 0.0, 0.0, 0.0, nan, 0.0, nan)
        return o[1] ** (1 / 6), o[2] ** (1 / 6)

    u, uh = speed(2.0, 3.0)  # Fr = 0.34: the plain speed
    assert u == pytest.approx(1.5, rel=1e-12) and uh == pytest.approx(3.0, rel=1e-12)
    u, uh = speed(0.02, 5.0)  # a 2 cm cell passing 5 m2/s: 250 m/s by q / h
    assert u == pytest.approx((fr ** 2 * G * 5.0) ** (1 / 3), rel=1e-12)  # 3.4 m/s
    assert uh == pytest.approx(u * 0.02, rel=1e-12)


def test_froude_cap_takes_the_donor_cells_depth():
    """A thin cell pushed by inertia toward a deeper one sends out no more than water of its own
    depth can carry at the cap (the face depth max(eta) - max(z) would allow the deep side's)."""
    from hydro.inundation.physics import make_face_flux

    face_flux = make_face_flux(lambda x: x ** (-1.0 / 3.0))
    args = dict(dt=0.5, inv_dx=0.2, theta=1.0, hmin=1e-3, open_bc=False, s_min=1e-3, fr_max=0.8)
    # left cell 0.1 m deep, right cell 0.3 m deep on the same bed; old flux 3 m2/s toward the right
    q = face_flux(3.0, 3.0, 3.0, 0.0, 0.0, 0.1, 0.0, 0.3, 0.0, 0.03, 0.03, *args.values())
    assert q == pytest.approx(0.8 * 0.1 * np.sqrt(G * 0.1), rel=1e-9)  # not 0.8 * 0.3 * sqrt(0.3 g)
    q = face_flux(-3.0, -3.0, -3.0, 0.0, 0.0, 0.1, 0.0, 0.3, 0.0, 0.03, 0.03, *args.values())
    assert q == pytest.approx(-0.8 * 0.3 * np.sqrt(G * 0.3), rel=1e-9)  # the deeper donor: its own cap


def test_steep_valley_floor_grows_no_roll_waves():
    """A 2 % valley floor, n = 0.04 (Manning normal flow at Fr = 1.27, like the sample's floor).

    The local-inertial equations drop advection, so by Whitham's criterion their uniform flow is
    unstable to roll waves once the kinematic wave speed 5/3 u passes the gravity wave speed
    sqrt(g h): Fr > 0.6 with Manning friction (the full equations hold out to Fr = 1.5). The
    Froude cap keeps the flow on the kinematic side. With the cap at 1.5 (the default before
    2026-11-23) the ripple grows into roll waves up to 14 m deep on a 2-3 m flow (30 m before the cap took the
    donor cell's depth); with the default cap (0.8)
    the flow is steady at the capped depth ((q / (0.8 sqrt g))^(2/3), analytic) and the ripple
    decays.
    """
    h, q, amp = run_steep_channel(0.02)
    h_cap = (q / (0.8 * np.sqrt(G))) ** (2 / 3)
    reach = h[150:1000]
    assert np.abs(reach / h_cap - 1).max() < 0.05
    assert amp[1] < amp[0] < 0.3 * h_cap
    assert h.max() < 1.1 * h_cap
    h_old, _, _ = run_steep_channel(0.02, froude_max=1.5)
    assert h_old.max() > 3.0 * h_cap  # measured: 14.4 m bores (29.7 m with the face-depth cap)


def run_diagonal_plane(n_cells=120, duration=900.0, **options):
    """Heavy rain (2000 mm/h, a stand-in for the inflow of a valley) on a 2 % x 2 % plane that
    falls toward the grid's diagonal (5 m cells, n = 0.03, open edges): flow at Fr > 0.8, so the
    Froude cap binds on both the x and the y faces. Returns the depths inside a 5-cell margin."""
    yy, xx = np.mgrid[0:n_cells, 0:n_cells].astype(float)
    z = (2 * n_cells - xx - yy) * 5.0 * 0.02
    sim = Simulation(z, 5.0, 5.0, 0.03, 0.0, rain=Rain.constant(2000.0, duration + 60.0), boundary="open",
                     options=SimulationOptions(**options))
    sim.run(duration)
    return sim.state.interior(sim.state.h)[5:-5, 5:-5].astype(float)


def test_capped_flow_across_the_grid_grows_no_checkerboard():
    """Where the cap binds, a face carries a function of its donor's depth alone: an explicit upwind
    kinematic flux whose Courant numbers add up over a cell's outflow faces. On a plane falling
    diagonally to the grid the gravity-wave CFL (alpha 0.7) lets that sum reach 1.68, and the
    checkerboard mode grows (amplification 1 - 2 sigma). The contributing area grows downstream,
    so the depth must too: with the kinematic condition it does (and no cell differs from the mean
    of its 4 neighbours by more than 1 %); without it (the default before 2026-11-23) neighbouring
    depths differ by more than twice the depth (measured: 2.3x, max depth 0.31 m against 0.25).
    Since 2026-11-24 the gravity-wave step also keeps the theta weighting's 2-D bound
    (``Simulation.cfl_length``, 5 % shorter at theta 0.9); without the kinematic condition the plane
    then still has depths falling downstream by 6 % and a max depth of 0.28 m."""
    h = run_diagonal_plane()
    for axis in (0, 1):
        assert (np.diff(h, axis=axis) / np.delete(h, 0, axis=axis)).min() > -0.01
    nb = 0.25 * (h[:-2, 1:-1] + h[2:, 1:-1] + h[1:-1, :-2] + h[1:-1, 2:])
    assert (np.abs(h[1:-1, 1:-1] - nb) / h[1:-1, 1:-1]).max() < 0.01
    # the global step before 2026-11-23 (no kinematic condition, Bates' step, no local time stepping)
    h_old = run_diagonal_plane(kinematic_courant=0.0, alpha=0.7 / np.sqrt(0.9), lts_levels=1)
    assert (np.diff(h_old, axis=0) / h_old[1:]).min() < -1.0
    assert h_old.max() > 1.15 * h.max()
    h_nokin = run_diagonal_plane(kinematic_courant=0.0, lts_levels=1)
    assert (np.diff(h_nokin, axis=0) / h_nokin[1:]).min() < -0.03
    assert h_nokin.max() > 1.1 * h.max()


def mound_roughness(**options):
    """A 3 m Gaussian mound of water collapsing into a valley (5 m cells, n = 0.04, open edges):
    the largest difference (m) between a cell's depth and the mean of its 4 neighbours after 900 s."""
    y, x = np.mgrid[0:256, 0:384] * 5.0
    z = 10 - 0.001 * x + 6e-6 * (y - 640.0) ** 2
    h0 = 3.0 * np.exp(-((x - 400) ** 2 + (y - 640.0) ** 2) / (2 * 150.0 ** 2))
    sim = Simulation(z, 5.0, 5.0, 0.04, h0, boundary="open", options=SimulationOptions(**options))
    h = sim.run(900.0).state.interior(sim.state.h).astype(float)
    return float(np.abs(h[1:-1, 1:-1] - 0.25 * (h[:-2, 1:-1] + h[2:, 1:-1] + h[1:-1, :-2] + h[1:-1, 2:])).max())


def test_a_collapsing_mound_in_a_valley_stays_smooth():
    """The checkerboard mode of the 2-D scheme is stable only while g h dt^2 (1/dx^2 + 1/dy^2) <=
    theta (von Neumann, see ``Simulation.cfl_length``). Bates et al.'s step alpha dx / sqrt(g h)
    with alpha 0.7 breaks it at theta 0.9 (the bound is alpha <= 0.671): the mound's valley then
    freezes into a flickering checkerboard of 1.1 m and 0.01 m cells (measured roughness 1.10 m,
    and 1,382 steps against 802, the kinematic condition cutting every other step). With the
    bound the depths stay smooth (measured 0.019 m)."""
    assert mound_roughness() < 0.05
    assert mound_roughness(alpha=0.7 / np.sqrt(0.9), lts_levels=1) > 0.3  # the step before 2026-11-24
    assert mound_roughness(lts_levels=1) < 0.05


def test_dry_tiles_are_skipped_without_changing_the_result():
    n = 200
    h0 = np.zeros((n, n))
    h0[20:25, 20:25] = 1.0
    dem = np.zeros((n, n))
    runs = []
    for ts in (16, 1024):
        sim = Simulation(dem, 2.0, 2.0, 0.03, h0, options=SimulationOptions(tile_size=ts, lts_levels=1))  # global step
        sim.run(30.0)
        runs.append(sim)
    tiled, whole = runs
    assert tiled.state.active.mean() < 0.1  # the far field is never computed
    np.testing.assert_array_equal(tiled.state.h, whole.state.h)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("boundary", ["closed", "open"])
def test_inner_tiles_take_a_faster_path_to_the_same_result(dtype, boundary):
    """Tiles with no outside cell within 2 cells take the face function without its boundary selects:
    the flow is the same bit for bit as with every tile on the general path. The hole sits one cell
    past a tile edge, so a margin of 0 or 1 cell (a wall two cells beyond a face enters its theta
    weighting) fails here."""
    rng = np.random.default_rng(5)
    dem = rng.uniform(0, 0.5, (90, 100)) + np.linspace(0, 4, 100)[None] + np.linspace(0, 2, 90)[:, None]
    dem[40:50, 48:52] = np.nan  # padded columns 49-52: one cell past a tile edge (16-cell tiles)
    runs = []
    for general in (False, True):
        sim = Simulation(dem, 5.0, 5.0, 0.04, 0.05, rain=Rain.constant(100.0, 600.0), boundary=boundary,
                         options=SimulationOptions(tile_size=16, dtype=dtype))
        if general:
            sim.engine._code0[:] = 0
        runs.append(sim.run(200.0))
    fast, slow = runs
    assert 0 < fast.engine._code0.sum() < fast.engine._code0.size  # both paths taken
    for k in ("h", "qx", "qy", "max_h", "max_speed"):
        np.testing.assert_array_equal(getattr(fast.state, k), getattr(slow.state, k), err_msg=k)
    assert fast.state.qx.any()


def test_state_is_at_most_48_bytes_per_cell():
    dem = np.zeros((500, 400))
    rain = Rain(np.array([0.0, 3600.0]), np.ones((2, 500, 400)))
    sim = Simulation(dem, 5.0, 5.0, np.full(dem.shape, 0.04), 0.0, rain=rain)
    assert sim.state.bytes_per_cell() <= 48.0
    lean = Simulation(dem, 5.0, 5.0, 0.04, 0.0)
    assert lean.state.bytes_per_cell() <= 41.0


def test_hot_start_reproduces_the_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(3)
    dem = rng.uniform(0, 1, (40, 50)) + np.linspace(0, 3, 50)[None]
    inflow = Hydrograph("q", np.array([20]), np.array([45]), [0, 600, 1200], [0.0, 5.0, 0.0])

    def make():
        return Simulation(dem, 10.0, 10.0, 0.05, 0.0, rain=Rain.constant(30.0, 900.0), inflows=[inflow],
                          boundary="open")

    full = make().run(1200.0, output_interval_s=300.0)
    ck = tmp_path / "ck.npz"
    first = make().run(600.0, output_interval_s=300.0, checkpoint_path=ck)
    assert ck.exists()
    resumed = make().load_checkpoint(ck).run(1200.0, output_interval_s=300.0)
    assert resumed.steps == full.steps
    # the summary's speed divides all the run's cell updates by all its stepping time, both halves
    assert resumed.cell_updates == full.cell_updates
    assert resumed.wall_seconds > first.wall_seconds > 0
    for k, v in full.state.arrays().items():
        np.testing.assert_array_equal(resumed.state.arrays()[k], v, err_msg=k)
    assert resumed.balance_rows == full.balance_rows
    assert len(resumed.snapshots) == len(full.snapshots) == 5


def test_hot_start_with_dry_tiles_reproduces_the_uninterrupted_run(tmp_path):
    """Small tiles and no rain, so at the checkpoint part of the grid is dry and skipped: the resumed
    run must work on the same active tiles (their column spans are rebuilt from the checkpoint)."""
    rng = np.random.default_rng(5)
    dem = rng.uniform(0, 0.2, (48, 64)) + np.linspace(3, 0, 64)[None]
    inflow = Hydrograph("q", np.array([24]), np.array([2]), [0, 1200], [8.0, 8.0])

    def make():
        return Simulation(dem, 10.0, 10.0, 0.05, 0.0, inflows=[inflow], boundary="open",
                          options=SimulationOptions(tile_size=8))

    full = make().run(1200.0, output_interval_s=300.0)
    ck = tmp_path / "ck.npz"
    half = make().run(300.0, output_interval_s=300.0, checkpoint_path=ck)
    half.save_checkpoint(ck)
    assert 0 < half.state.active.sum() < half.state.tile_valid.sum()  # some tiles still skipped
    resumed = make().load_checkpoint(ck).run(1200.0, output_interval_s=300.0)
    assert resumed.steps == full.steps
    for k, v in full.state.arrays().items():
        np.testing.assert_array_equal(resumed.state.arrays()[k], v, err_msg=k)


def test_sampled_running_outputs_are_the_outputs_at_the_sampling_steps():
    """Running outputs sampled every 5 s (the default) against every step, on one flow (bit for
    bit the same in both runs). The sampled maxima, arrival and duration are recomputed here from
    the depths of every step: sampled are the steps that cross a multiple of 5 s and those that end
    on an output time (so the maxima hold every snapshot). They never exceed the exact maxima; arrival comes at
    most one interval late where the depth rises smoothly, and duration mostly within one interval
    (where a thin film flickers across the threshold from step to step, more)."""
    dem = np.tile(np.linspace(1.0, 0.0, 80)[None], (30, 1))
    inflow = Hydrograph("q", np.arange(10, 20), np.full(10, 2), [0, 300, 900], [0.0, 6.0, 1.0])
    every, thr = 5.0, 0.05

    def make(interval):
        return Simulation(dem, 5.0, 5.0, 0.04, 0.0, inflows=[inflow], boundary="open",
                          options=SimulationOptions(stats_interval=interval, h_arrival=thr, lts_levels=1))

    exact, samp = make(0.0), make(every)  # global steps: every cell samples at the same step
    hs, sampled, credit, times = [], [], [], []
    for t_out in np.arange(120.0, 1201.0, 120.0):
        while samp.t < t_out - 1e-9:
            t_old = samp.t
            exact.step(t_out)
            samp.step(t_out)
            crossed = np.floor(samp.t / every + 1e-9) - np.floor(t_old / every + 1e-9)
            hs.append(samp.state.interior(samp.state.h).copy())
            sampled.append(crossed > 0 or abs(samp.t - t_out) < 1e-9)
            credit.append(crossed * every)
            times.append(samp.t)
    s0, s5 = exact.state, samp.state
    np.testing.assert_array_equal(s5.h, s0.h)
    hs, sampled, credit, times = np.array(hs), np.array(sampled), np.array(credit), np.array(times)
    assert 0.3 < sampled.mean() < 0.95  # steps of ~3.5 s: most, not all, steps sample
    hk = hs[sampled]
    m5 = s5.interior(s5.max_h)
    np.testing.assert_array_equal(m5, np.where(hk > samp.options.hmin, hk, 0.0).max(axis=0))  # wet cells only
    above = hk >= thr
    arr = np.where(above.any(axis=0), times[sampled][np.argmax(above, axis=0)], np.nan)
    np.testing.assert_allclose(s5.interior(s5.arrival), arr, rtol=1e-6)
    np.testing.assert_allclose(s5.interior(s5.duration), (above * credit[sampled][:, None, None]).sum(axis=0),
                               atol=1e-3)
    # against every step
    m0 = s0.interior(s0.max_h)
    assert (m5 <= m0).all() and (m0 - m5).max() > 0  # a peak between samples is missed
    a0, a5 = s0.interior(s0.arrival), s5.interior(s5.arrival)
    both = np.isfinite(a0) & np.isfinite(a5)
    assert both.sum() > 500
    late = a5[both] - a0[both]
    # never early; late by up to an interval where the depth rises smoothly through the threshold
    # (more where it flickers across it from step to step, as thin films at the front do)
    assert late.min() >= 0.0 and np.median(late) <= every
    d0, d5 = s0.interior(s0.duration), s5.interior(s5.duration)
    dd = np.abs(d5 - d0)[d0 > 0]  # measured: p50 2.5 s, p95 10.7 s, max 19.8 s (flicker at the threshold)
    assert d0.max() > 600.0 and np.median(dd) <= every and np.percentile(dd, 95) <= 3 * every
    assert (s5.interior(s5.max_speed) <= s0.interior(s0.max_speed)).all()


def test_open_boundary_drains_and_balance_closes():
    dem = np.tile(np.linspace(2.0, 0.0, 60)[None], (20, 1))
    sim = Simulation(dem, 10.0, 10.0, 0.04, 0.5, boundary="open")
    sim.run(1800.0)
    assert sim.totals["outflow_m3"] > 0.5 * sim.volume0
    assert sim.volume_error_relative() < 1e-6


def test_inflow_volume_is_stored():
    dem = np.zeros((30, 30))
    inflow = Hydrograph("p", np.array([15]), np.array([15]), [0.0, 600.0], [2.0, 2.0])
    sim = Simulation(dem, 5.0, 5.0, 0.03, 0.0, inflows=[inflow])
    sim.run(600.0)
    assert sim.totals["inflow_m3"] == pytest.approx(1200.0, rel=1e-9)
    assert sim.volume == pytest.approx(1200.0, rel=1e-6)


def test_instability_names_time_and_cell():
    h0 = np.zeros((20, 20))
    h0[:, :10] = 1.0
    sim = Simulation(np.zeros((20, 20)), 1.0, 1.0, 0.01, h0, options=SimulationOptions(v_max=0.1))
    with pytest.raises(SimulationError, match=r"t = [0-9.]+ s in cell row \d+, col \d+"):
        sim.run(10.0)


def test_depth_pass_names_the_cell_that_went_negative():
    # the depth pass flags a row with a bool and rescans it: the message must still name the right cell
    sim = Simulation(np.zeros((30, 40)), 1.0, 1.0, 0.03, 0.1)  # a lake at rest, one cell broken
    sim.state.interior(sim.state.h)[17, 23] = -0.5
    with pytest.raises(SimulationError, match=r"cell row 17, col 23: depth -0\.\d+ m"):
        sim.run(5.0)


def test_bad_inputs_are_input_errors():
    dem = np.zeros((5, 5))
    with pytest.raises(InputError, match="n must be > 0"):
        Simulation(dem, 1.0, 1.0, 0.0)
    with pytest.raises(InputError, match="outside the domain"):
        d = dem.copy()
        d[2, 2] = np.nan
        Simulation(d, 1.0, 1.0, 0.03, inflows=[Hydrograph("x", [2], [2], [0, 1], [1, 1])])
    with pytest.raises(InputError, match="not positive"):
        Simulation(dem, 1.0, 1.0, 0.03).run(-5.0)
    with pytest.raises(InputError, match="stats-interval"):
        Simulation(dem, 1.0, 1.0, 0.03, options=SimulationOptions(stats_interval=-1.0))
