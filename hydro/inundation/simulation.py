"""The time loop of the 2-D inundation model: forcing, time step, bookkeeping, checkpoints.

The physics is in ``core_inertial.py`` (kernels) behind a backend (``backend_cpu.py``); this module
only drives it. The time step follows the CFL condition of Bates et al. (2010, eq. 12),
``dt = alpha * dx / sqrt(g * h_max)`` with the theta weighting's 2-D bound (``Simulation.cfl_length``), and the kinematic condition of the Froude-capped flux
(``SimulationOptions.kinematic_courant``), capped at ``dt_max`` and cut to land on output times and
rain changes. Water balance terms are summed in float64.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gis.errors import BackendUnavailable, InputError, SimulationError

from .backend_cpu import CpuBackend
from .forcing import Hydrograph, Rain
from .state import State

G = 9.80665
BALANCE_COLUMNS = ("time_s", "rain_m3", "inflow_m3", "stage_m3", "outflow_m3", "storage_m3", "error_m3")


@dataclass
class SimulationOptions:
    """Numerical options (defaults follow Bates et al. 2010 and de Almeida et al. 2012)."""

    alpha: float = 0.7  # CFL coefficient
    theta: float = 0.9  # de Almeida et al. (2012) flux weighting; 1 = Bates et al. (2010)
    hmin: float = 1e-3  # wet/dry threshold (m): no flow through faces shallower than this
    h_arrival: float = 0.1  # depth (m) that counts as flooded for arrival time and duration
    dt_max: float = 10.0  # s
    v_max: float = 50.0  # m/s; faster is reported as an instability
    outflow_slope: float = 1e-3  # least slope at free-outflow edges (they take the local bed slope, at least this)
    froude_max: float = 0.8  # flux cap: above it the local-inertial equations grow roll waves (see physics)
    # Where the cap binds, a face carries fr_max h sqrt(g h) of its donor's depth h: an explicit
    # upwind kinematic flux, dq/dh = 1.5 q / h. Its Courant number summed over a cell's outflow
    # faces, sigma = 1.5 dt (out_x / dx + out_y / dy) / h, must stay below 1, else the
    # checkerboard mode grows (amplification 1 - 2 sigma < -1): flow capped in both x and y (a
    # valley running diagonally to the grid) breaks into a depth checkerboard that flickers from
    # step to step. The gravity-wave CFL alone allows sigma up to 2.4 alpha sqrt(theta) (1.59 at alpha 0.7),
    # so the step is also held to sigma <= kinematic_courant; 0 turns the condition off.
    kinematic_courant: float = 0.9
    # running outputs (max depth, max speed, max depth x speed, arrival, duration, time of max) are
    # sampled at the step that crosses each multiple of this many simulated seconds, and at every
    # output time; 0 samples every step. Updating them is a third of a step's time on the 5 m sample.
    stats_interval: float = 5.0
    # local time stepping: each tile steps at its own stable step, a power of two (up to
    # 2**(lts_levels - 1)) of the finest, with neighbouring tiles at most one level apart; 1 steps
    # every tile at the global (finest) step. See Simulation._cycle.
    lts_levels: int = 5
    tile_size: int = 32  # cells; 32 follows a narrow river's deep water more closely than 64 for the levels
    dtype: str = "float32"


@dataclass
class Simulation:
    """A 2-D local-inertial flood simulation on a regular grid.

    Parameters
    ----------
    dem : 2-D array
        Bed elevation (m), rows from north to south; NaN cells are outside the domain.
    dx, dy : float
        Cell size (m).
    manning : float or 2-D array
        Manning n (s m^-1/3), > 0 on every valid cell.
    initial_depth : float or 2-D array
        Initial water depth (m).
    rain : Rain, optional
    inflows : list of Hydrograph
        Discharge (m3/s) shared between each hydrograph's cells.
    stages : list of Hydrograph
        Water level (m) imposed on each hydrograph's cells.
    boundary : {"closed", "open"}
        Domain edges (and the edges of NaN holes): closed walls or free outflow at normal depth.
    options : SimulationOptions
    backend : {"cpu", "cuda", "auto"}
        Where the steps run: numba on the CPU, numba-cuda on a GPU, or the GPU when one is usable
        and the CPU otherwise (``backend_notice`` then says why). The physics is the same.
    transform : affine.Affine, optional
        Only used to name the location of an instability.
    """

    dem: np.ndarray
    dx: float
    dy: float
    manning: float | np.ndarray = 0.05
    initial_depth: float | np.ndarray = 0.0
    rain: Rain | None = None
    inflows: list[Hydrograph] = field(default_factory=list)
    stages: list[Hydrograph] = field(default_factory=list)
    boundary: str = "closed"
    options: SimulationOptions = field(default_factory=SimulationOptions)
    backend: str = "cpu"
    transform: object = None
    crs: object = None  # the grid's CRS, carried into the results (see from_dem / to_dataset)

    @classmethod
    def from_dem(cls, dem, manning=0.05, initial_depth=0.0, **kwargs) -> Simulation:
        """A simulation on a georeferenced DEM (an xarray DataArray with ``.rio`` transform and CRS,
        nodata as NaN): cell sizes, transform and CRS are taken from it, so :meth:`to_dataset` needs
        no georeference again. ``manning`` and ``initial_depth`` may be numbers, arrays or
        DataArrays on the DEM grid; the other keywords are the class's fields."""
        import rioxarray  # noqa: F401 - registers the .rio accessor

        t = dem.rio.transform()
        z = np.asarray(dem.values, dtype=float)
        nodata = dem.rio.nodata
        if nodata is not None and np.isfinite(nodata):
            z = np.where(z == nodata, np.nan, z)
        val = [np.asarray(v.values if hasattr(v, "values") else v, float) if np.ndim(v) or hasattr(v, "values")
               else v for v in (manning, initial_depth)]
        return cls(z, abs(t.a), abs(t.e), val[0], val[1], transform=t, crs=dem.rio.crs, **kwargs)

    def to_dataset(self, start_time=None):
        """The results so far as an xarray Dataset on the DEM's grid, with its CRS (see
        :func:`hydro.inundation.outputs.product_dataset`)."""
        from .outputs import product_dataset

        return product_dataset(self, self.transform, self.crs, start_time)

    def __post_init__(self) -> None:
        o = self.options
        dem = np.asarray(self.dem, dtype=float)
        if dem.ndim != 2:
            raise InputError("dem", f"expected a 2-D grid, got shape {dem.shape}", "pass a (rows, cols) array")
        valid = ~np.isnan(dem)
        if not valid.any():
            raise InputError("dem", "every cell is nodata", "check the DEM's nodata value")
        if not (self.dx > 0 and self.dy > 0):
            raise InputError("dem", f"cell size {self.dx} x {self.dy} m is not positive", "check the transform")
        n = self.manning
        n_valid = np.asarray(n, float) if np.ndim(n) == 0 else np.asarray(n, float)[valid]
        if np.ndim(n) and np.shape(n) != dem.shape:
            raise InputError("manning", f"shape {np.shape(n)} differs from the DEM's {dem.shape}",
                             "give n on the DEM grid")
        if not np.all(n_valid > 0):
            raise InputError("manning", "n must be > 0 on every valid cell", "use e.g. 0.03-0.1 (s m^-1/3)")
        depth = np.asarray(self.initial_depth, float)
        if depth.ndim and depth.shape != dem.shape:
            raise InputError("initial_depth", f"shape {depth.shape} differs from the DEM's {dem.shape}",
                             "give the depth on the DEM grid")
        if np.any(np.nan_to_num(depth[valid] if depth.ndim else depth) < 0):
            raise InputError("initial_depth", "negative depth", "depths must be >= 0")
        if not o.stats_interval >= 0:
            raise InputError("stats-interval", f"{o.stats_interval} s is negative", "give seconds >= 0 (0: every step)")
        if not (isinstance(o.lts_levels, (int, np.integer)) and 1 <= o.lts_levels <= 8):
            raise InputError("lts-levels", f"{o.lts_levels} is not a whole number from 1 to 8",
                             "use 1 (every cell at the global step) to 8; see README, '2-D inundation'")
        if self.boundary not in ("closed", "open"):
            raise InputError("boundary", f"unknown boundary '{self.boundary}'", "use 'closed' or 'open'")
        engine_cls, self.backend, self.backend_notice = _engine_class(self.backend, o.lts_levels)
        dtype = np.dtype(o.dtype)
        gridded = self.rain is not None and self.rain.gridded
        self.state = State.allocate(dem, np.broadcast_to(np.nan_to_num(depth), dem.shape), n, gridded,
                                    dtype=dtype, tile_size=o.tile_size)
        self.valid = valid
        self.n_valid = int(valid.sum())
        self.area = float(self.dx * self.dy)
        for hg in [*self.inflows, *self.stages]:
            if np.any(~valid[hg.rows, hg.cols]):
                raise InputError(hg.name, "location is outside the domain (DEM nodata)", "move it onto valid cells")
            self.state.forced[(hg.rows + 1) // o.tile_size, (hg.cols + 1) // o.tile_size] = True
        self.engine = engine_cls(self.state, self.dx, self.dy, o.theta, o.hmin, o.h_arrival, o.v_max,
                                 self.boundary == "open", o.outflow_slope, o.froude_max)
        self.t = 0.0
        self.steps = 0
        self.substeps = 0  # finest steps (local time stepping; equal to steps without it)
        self._lts = o.lts_levels > 1 and _supports_lts(engine_cls)
        if o.lts_levels > 1 and not self._lts:  # the default on a backend without local steps (_engine_class)
            self.backend_notice = (f"note: the {self.backend} backend steps every cell at the global step "
                                   f"(lts_levels 1, not the default {o.lts_levels})")
        # a cycle's finest steps stay within half a tile: the active tiles (wet ones and a ring of one
        # tile) are set once per cycle, and a front moves less than a cell per finest step
        self._levels = min(o.lts_levels, max(1, (o.tile_size // 2).bit_length()))
        ts = o.tile_size
        NY, NX = self.state.z.shape
        pad = np.zeros((self.state.active.shape[0] * ts, self.state.active.shape[1] * ts), bool)
        pad[:NY, :NX] = ~np.isnan(self.state.z)
        self._tile_cells = pad.reshape(self.state.active.shape[0], ts, -1, ts).sum(axis=(1, 3))
        self.cell_updates = 0
        self.wall_seconds = 0.0
        self._lazy_volume = getattr(self.engine, "lazy_volume", False)
        self.volume0 = self.engine.refresh()
        self.volume = self.volume0
        self.totals = dict(rain_m3=0.0, inflow_m3=0.0, stage_m3=0.0, outflow_m3=0.0, clipped_m3=0.0)
        self._hmax = self.engine.max_depth()
        self._kin = 0.0  # largest outflow rate per unit depth of the last step (1/s)
        self._rain_k = -2
        self._rain_rate = 0.0
        self._rain_sum = 0.0  # sum over valid cells of the net rate (m/s)
        self.snapshots: list[tuple[float, np.ndarray]] = []
        self.balance_rows: list[tuple[float, ...]] = []
        self.wet_fraction = 0.0

    # ------------------------------------------------------------------ forcing
    def _set_rain(self, t: float) -> None:
        k = self.rain.index(t) if self.rain is not None else -1
        if k == self._rain_k:
            return
        self._rain_k = k
        net = self.rain.net_m_per_s(k) if self.rain is not None else 0.0
        if np.ndim(net) == 0:
            self._rain_rate = float(net)
            self._rain_sum = self._rain_rate * self.n_valid
            if self.state.rain.size > 1:
                self.state.rain[:] = 0.0
                self.engine.push(("rain",))
        else:
            # 2-byte codes: the scale keeps the peak at 60000 codes (relative step <= 2e-5)
            peak = float(np.nanmax(np.where(self.valid, net, 0.0)))
            scale = peak / 60000.0 if peak > 0 else 1.0
            r = self.state.interior(self.state.rain)
            r[:] = np.where(self.valid, np.rint(net / scale), 0).astype(np.uint16)
            self.engine.rain_scale = scale
            self.engine.push(("rain",))
            self._rain_rate = 0.0
            self._rain_sum = float(r.sum(dtype=np.float64)) * scale

    def cfl_length(self) -> float:
        """``L`` of the gravity-wave step ``dt = L / sqrt(g h_max)``: ``alpha sqrt(2 theta / (dx^-2 + dy^-2))``.

        The linearised 2-D scheme (staggered, forward-backward, theta-weighted fluxes) is least stable
        for the checkerboard mode, whose amplification stays within 1 while
        ``g h dt^2 (1/dx^2 + 1/dy^2) <= theta`` (von Neumann analysis: the mode's flux factor is
        2 theta - 1, its gradient symbol 4/dx^2 + 4/dy^2). With ``dx = dy`` the step is
        ``alpha sqrt(theta) dx / sqrt(g h)``, Bates et al.'s (2010, eq. 12) at theta = 1, and
        ``alpha`` < 1/sqrt(2) keeps it stable for any theta. Their formula without the sqrt(theta)
        breaks the bound at theta 0.9 (alpha 0.7 > sqrt(0.45) = 0.671): the flicker that
        ``tests/test_inundation_validation.py::test_a_collapsing_mound_in_a_valley_stays_smooth`` shows.
        """
        o = self.options
        return o.alpha * math.sqrt(2.0 * o.theta / (self.dx ** -2 + self.dy ** -2))

    def _next_dt(self, t_stop: float) -> float:
        o = self.options
        if math.isnan(self._hmax):  # resumed from a run with local time stepping
            self._hmax = self.engine.max_depth()
        dt = self.cfl_length() / math.sqrt(G * self._hmax) if self._hmax > o.hmin else o.dt_max
        if o.kinematic_courant > 0 and self._kin > 0:
            dt = min(dt, o.kinematic_courant / (1.5 * self._kin))
        dt = min(dt, o.dt_max, t_stop - self.t)
        if self.rain is not None:
            dt = min(dt, self.rain.next_change(self.t) - self.t)
        return dt

    # ------------------------------------------------------------------ stepping
    def step(self, t_stop: float) -> float:
        """Advance one time step (a cycle of local time steps with ``lts_levels`` > 1), not beyond
        ``t_stop``; return its length."""
        if self._lts:
            return self._cycle(t_stop)
        dt = self._next_dt(t_stop)
        t, e = self.t, self.engine
        self._set_rain(t)
        for sg in self.stages:
            self.totals["stage_m3"] += e.impose_stage(sg.rows + 1, sg.cols + 1, sg.at(t))
        for inf in self.inflows:
            self.totals["inflow_m3"] += e.add_volume(inf.rows + 1, inf.cols + 1, inf.integral(t, t + dt) / len(inf.rows))
        rain_all = self._rain_sum > 0.0
        record, dt_record = self._sampling(t, dt, t_stop)
        st = e.step(dt, t + dt, self._rain_rate, rain_all, record, dt_record)
        self.t = t + dt
        self.steps += 1
        self.substeps += 1
        self.cell_updates += self.n_valid
        self.totals["rain_m3"] += self._rain_sum * dt * self.area
        self.totals["outflow_m3"] += st.outflow_m3
        self.totals["clipped_m3"] += st.clipped_m3
        if not self._lazy_volume:
            self.volume = st.volume_m3
        self._hmax = st.hmax
        self._kin = st.kin_rate
        self.wet_fraction = st.wet_cells / self.n_valid
        if st.bad_cell >= 0:
            self._instability(st.bad_cell)
        return dt

    def _cycle(self, t_stop: float) -> float:
        """One cycle of local time stepping (Osher & Sanders 1983; Sanders 2008, "Integration of a
        shallow water model with a local time step", J. Hydraul. Res. 46, 466-475), per tile
        (``SimulationOptions.tile_size``, 32 cells by default).

        Each tile's stable step (gravity-wave and kinematic conditions over the tile and the ring of
        cells around it) sets its level m: it steps 2**m finest steps at a time, so a deep river
        does not hold the shallow floodplain to its step. A cycle is 2**(levels-1) finest steps
        at most; at substep k the tiles whose level divides k step (fluxes, limiter, depths).
        A face between two levels carries its current flux into the coarse cell at the fine rate
        (``core_inertial.interface_apply``), so the volume each face moves is the same on both sides
        and the scheme stays exactly conservative; between its own steps a coarse cell's outflow
        through such a face is limited to its depth (``interface_limit``), so depths stay >= 0.
        Depends on the state and the time only, so a hot start reproduces the run.
        """
        o, e = self.options, self.engine
        t = self.t
        self._set_rain(t)
        rain_all = self._rain_sum > 0.0
        cap = min(o.dt_max, t_stop - t)
        if self.rain is not None:
            cap = min(cap, self.rain.next_change(t) - t)
        tile_dt, part = e.tile_steps(self.cfl_length(), o.kinematic_courant, rain_all)
        T, n, lev = plan_levels(tile_dt, part, self._levels, cap, finest=self.state.forced)
        e.set_levels(lev)
        record, dt_record = self._sampling(t, T, t_stop)
        dtf = T / n
        for k in range(n):
            tk = t + k * dtf
            for sg in self.stages:
                self.totals["stage_m3"] += e.impose_stage(sg.rows + 1, sg.cols + 1, sg.at(tk))
            for inf in self.inflows:
                self.totals["inflow_m3"] += e.add_volume(inf.rows + 1, inf.cols + 1,
                                                         inf.integral(tk, tk + dtf) / len(inf.rows))
            st = e.substep(k, n, dtf, t + T, self._rain_rate, rain_all, record, dt_record)
            if k == 0:  # every tile that takes part steps at substep 0: its figures are the whole grid's
                self.wet_fraction = st.wet_cells / self.n_valid
            self.totals["outflow_m3"] += st.outflow_m3
            self.totals["clipped_m3"] += st.clipped_m3
            if st.bad_cell >= 0:
                self.t = tk + dtf
                self._instability(st.bad_cell)
        e.end_cycle()
        self._hmax, self._kin = math.nan, 0.0  # not kept here: a global step after a hot start measures them
        self.t = t + T
        self.steps += 1
        self.substeps += n
        self.cell_updates += int((self._tile_cells * (n >> lev.astype(np.int64))).sum())
        self.totals["rain_m3"] += self._rain_sum * T * self.area
        self.volume = st.volume_m3
        return T

    def _sampling(self, t: float, dt: float, t_stop: float) -> tuple[bool, float]:
        """Whether the step from ``t`` to ``t + dt`` samples the running outputs, and the duration it
        counts: every step when ``stats_interval`` is 0; else the steps that cross a multiple of the
        interval (each crossed multiple counts one interval of duration) and the step that reaches
        ``t_stop`` (an output time), so that the maxima hold every snapshot. Depends on times only,
        so a hot-started run samples where the uninterrupted one does."""
        every = self.options.stats_interval
        if not every > 0:
            return True, dt
        crossed = math.floor((t + dt) / every + 1e-9) - math.floor(t / every + 1e-9)
        return crossed > 0 or t + dt >= t_stop - 1e-9, crossed * every

    def _instability(self, flat: int) -> None:
        self.engine.pull(("h",))
        NX = self.state.h.shape[1]
        i, j = divmod(flat, NX)
        h = float(self.state.h[i, j])
        where = f"row {i - 1}, col {j - 1}"
        if self.transform is not None:
            x, y = self.transform @ (j - 1 + 0.5, i - 1 + 0.5)
            where += f" (x={x:.1f}, y={y:.1f})"
        raise SimulationError(
            f"instability at t = {self.t:.2f} s in cell {where}: depth {h:.4g} m "
            f"(NaN, negative or speed > {self.options.v_max:g} m/s); lower alpha "
            f"(now {self.options.alpha}) or check the DEM and Manning n there")

    def error_m3(self) -> float:
        tt = self.totals
        expected = self.volume0 + tt["rain_m3"] + tt["inflow_m3"] + tt["stage_m3"] - tt["outflow_m3"] + tt["clipped_m3"]
        return self.volume - expected

    def volume_error_relative(self) -> float:
        tt = self.totals
        scale = self.volume0 + tt["rain_m3"] + tt["inflow_m3"] + abs(tt["stage_m3"])
        return abs(self.error_m3()) / scale if scale > 0 else 0.0

    def _record(self, snapshot: bool) -> None:
        tt = self.totals
        if self._lazy_volume:  # the CUDA backend reduces the stored volume only here
            self.volume = self.engine.stored_volume()
        self.balance_rows.append((self.t, tt["rain_m3"], tt["inflow_m3"], tt["stage_m3"], tt["outflow_m3"],
                                  self.volume, self.error_m3()))
        if snapshot:
            self.engine.pull(("h",))
            self.snapshots.append((self.t, self.state.interior(self.state.h).astype(np.float32)))

    def run(self, duration_s: float, output_interval_s: float | None = None, progress: bool = False,
            checkpoint_path: str | Path | None = None) -> Simulation:
        """Run until ``duration_s`` seconds after the start (continuing from a hot start).

        Depth snapshots and water-balance rows are taken every ``output_interval_s`` (and at 0 and
        the end). With ``checkpoint_path`` the state is saved there at each output time.
        """
        if not duration_s > 0:
            raise InputError("duration", f"{duration_s} s is not positive", "give a duration > 0 seconds")
        if output_interval_s is not None and not output_interval_s > 0:
            raise InputError("output-interval", f"{output_interval_s} s is not positive", "give a value > 0")
        every = output_interval_s or duration_s
        if not self.balance_rows:
            self._record(snapshot=output_interval_s is not None)
        bar = _Progress(duration_s, self) if progress else None
        t0 = t_bar = time.perf_counter()
        while self.t < duration_s - 1e-9:
            t_out = min((math.floor(self.t / every + 1e-9) + 1) * every, duration_s)
            while self.t < t_out - 1e-9:
                self.step(t_out)
                if bar:
                    bar.update(time.perf_counter() - t_bar)
            self._record(snapshot=output_interval_s is not None)
            if checkpoint_path is not None and self.t < duration_s - 1e-9:
                self.wall_seconds += time.perf_counter() - t0  # the time so far goes into the checkpoint
                self.save_checkpoint(checkpoint_path)
                t0 = time.perf_counter()  # (its writing does not count)
        self.engine.pull()  # the running outputs (max depth, arrival, ...) back on the host
        self.wall_seconds += time.perf_counter() - t0
        if bar:
            bar.close()
        return self

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | Path) -> None:
        """Write the full state (arrays, time, totals, outputs so far) to an ``.npz`` file atomically."""
        from gis.atomic import atomic_path

        self.engine.pull()
        arrays = {f"s_{k}": v for k, v in self.state.arrays().items()}
        scal = np.array([self.t, self.steps, self.cell_updates, self.volume0, self.volume, self._hmax,
                         *[self.totals[k] for k in sorted(self.totals)], self._kin, self.wall_seconds,
                         self.substeps])
        snaps = np.stack([s for _, s in self.snapshots]) if self.snapshots else np.zeros((0,) + self.valid.shape)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, scalars=scal, snap_t=np.array([t for t, _ in self.snapshots]), snaps=snaps,
                         balance=np.array(self.balance_rows), **arrays)

    def load_checkpoint(self, path: str | Path) -> Simulation:
        """Hot start: restore a checkpoint written by :meth:`save_checkpoint` for the same inputs."""
        try:
            d = np.load(path)
        except (OSError, ValueError) as exc:
            raise InputError(Path(path), f"cannot read the checkpoint ({exc})", "give a file written by a run") from exc
        for k, v in self.state.arrays().items():
            a = d[f"s_{k}"]
            if a.shape != v.shape:
                raise InputError(Path(path), f"array {k} has shape {a.shape}, expected {v.shape}",
                                 "hot start with the same DEM and options")
            v[...] = a
        sc = d["scalars"]
        self.t, self.steps, self.cell_updates = float(sc[0]), int(sc[1]), int(sc[2])
        self.volume0, self.volume, self._hmax = float(sc[3]), float(sc[4]), float(sc[5])
        for k, val in zip(sorted(self.totals), sc[6:]):
            self.totals[k] = float(val)
        # the last step's kinematic rate (absent from checkpoints written before 2026-11-23: 0, the
        # first step then takes the gravity-wave CFL alone)
        self._kin = float(sc[6 + len(self.totals)]) if len(sc) > 6 + len(self.totals) else 0.0
        # the stepping time so far, so that a resumed run's summary divides all its cell updates by all
        # its time (absent before 2026-11-24: then only the resumed part's updates and time count)
        if len(sc) > 7 + len(self.totals):
            self.wall_seconds = float(sc[7 + len(self.totals)])
        else:
            self.cell_updates = 0
        self.substeps = int(sc[8 + len(self.totals)]) if len(sc) > 8 + len(self.totals) else self.steps
        self.snapshots = [(float(t), s) for t, s in zip(d["snap_t"], d["snaps"])]
        self.balance_rows = [tuple(r) for r in d["balance"]]
        self._rain_k = -2
        self.engine.push()
        return self

    # ------------------------------------------------------------------ results
    def summary(self) -> dict:
        return {
            "cells": self.n_valid,
            "steps": self.substeps,  # time steps at the finest step
            "lts_cycles": self.steps,  # cycles of local time steps (= steps without them)
            "lts_levels": self.options.lts_levels if self._lts else 1,
            # cell updates done, against stepping every cell at the finest step (1 without local time stepping)
            "lts_work_fraction": self.cell_updates / (self.n_valid * self.substeps) if self.substeps else None,
            "simulated_seconds": self.t,
            "wall_seconds": round(self.wall_seconds, 3),
            "cell_updates_per_second": self.cell_updates / self.wall_seconds if self.wall_seconds > 0 else None,
            "volume_error_relative": self.volume_error_relative(),
            "state_bytes_per_cell": round(self.state.bytes_per_cell(), 3),
            "backend": self.backend,
            "dtype": self.options.dtype,
            "stats_interval_s": self.options.stats_interval,
            "kernel_seconds": {k: round(v, 3) for k, v in self.engine.seconds.items()},
            **{k: v for k, v in self.totals.items()},
            "storage_m3": self.volume,
            "initial_storage_m3": self.volume0,
        }


def plan_levels(tile_dt: np.ndarray, part: np.ndarray, levels: int, cap: float,
                finest: np.ndarray | None = None) -> tuple[float, int, np.ndarray]:
    """A cycle of local time stepping from each tile's stable step ``tile_dt`` (s, ``inf`` without water).

    Returns the cycle length ``T`` (at most ``cap``), its number of finest steps ``n`` (a power of
    two, at most 2**(levels-1)) and each tile's level m (uint8; the tile steps ``T / n * 2**m``, never
    more than its stable step). A taking-part tile with no water near takes the least step of its 8
    neighbours (a front may enter it within the cycle); neighbouring tiles differ by one level at most.
    Tiles marked ``finest`` (those holding inflow or stage cells, whose depth the forcing may raise
    within the cycle) take the finest step.
    """
    from scipy.ndimage import minimum_filter

    big = np.inf
    st = np.where(part, tile_dt, big)
    nb = minimum_filter(st, size=3, mode="constant", cval=big)
    st = np.where(part & ~np.isfinite(st), nb, st)
    finite = part & np.isfinite(st)
    if not finite.any():
        return cap, 1, np.zeros(part.shape, np.uint8)
    dt0 = float(st[finite].min())
    T = min(dt0 * 2 ** (levels - 1), cap)
    n = 1 if T <= dt0 else min(2 ** math.ceil(math.log2(T / dt0) - 1e-12), 2 ** (levels - 1))
    top = int(round(math.log2(n)))
    dtf = T / n
    with np.errstate(divide="ignore", invalid="ignore"):
        lev = np.floor(np.log2(np.where(finite, st, big) / dtf))
    lev = np.clip(np.nan_to_num(lev, posinf=top), 0, top)
    lev -= (dtf * 2.0 ** lev > st) & (lev > 0)  # rounding: never above the tile's stable step
    lev = np.where(part, lev, top)
    if finest is not None:
        lev[finest] = 0
    for _ in range(top):  # neighbours at most one level apart
        low = minimum_filter(np.where(part, lev, top), size=3, mode="nearest") + 1
        new = np.where(part, np.minimum(lev, low), top)
        if np.array_equal(new, lev):
            break
        lev = new
    return T, n, lev.astype(np.uint8)


def _supports_lts(engine_cls: type) -> bool:
    """Whether a backend has local time stepping (its ``supports_lts``; the CPU's ``substep``)."""
    return bool(getattr(engine_cls, "supports_lts", hasattr(engine_cls, "substep")))


def _engine_class(name: str, lts_levels: int = SimulationOptions.lts_levels) -> tuple[type, str, str]:
    """The backend class for ``name`` ("cpu", "cuda" or "auto"), the name it runs as, and a notice.

    "auto" takes CUDA when numba-cuda imports and a GPU answers, else the CPU with a one-line
    notice; "cuda" without a usable GPU raises :class:`BackendUnavailable`.

    The CUDA backend has no local time stepping: with the default ``lts_levels`` it steps globally
    (``Simulation`` then gives a one-line notice); any other ``lts_levels`` above 1 is refused on
    "cuda" (:class:`InputError`) and runs on the CPU on "auto", with a notice.
    """
    if name == "cpu":
        return CpuBackend, "cpu", ""
    if name not in ("cuda", "auto"):
        raise InputError("backend", f"unknown backend '{name}'", "use cpu, cuda or auto")
    from .backend_cuda import CudaBackend, cuda_usable

    asked_lts = lts_levels > 1 and lts_levels != SimulationOptions.lts_levels and not _supports_lts(CudaBackend)
    if name == "cuda" and asked_lts:
        raise InputError("lts-levels", f"{lts_levels} levels of local time stepping asked for, but the CUDA backend "
                         "steps every cell at the global step", "use --lts-levels 1 (or the default) with --backend "
                         "cuda, or --backend cpu")
    ok, why = cuda_usable()
    if ok and asked_lts:
        return CpuBackend, "cpu", (f"note: lts_levels {lts_levels} asks for local time stepping, which only the CPU "
                                   "backend has; running on the CPU")
    if ok:
        return CudaBackend, "cuda", ""
    if name == "cuda":
        raise BackendUnavailable(f"--backend cuda: {why}; use --backend cpu or auto")
    return CpuBackend, "cpu", f"note: no usable CUDA GPU ({why}); running on the CPU"


class _Progress:
    """One-line progress on stderr: simulated time, percent, ETA, wet fraction."""

    def __init__(self, total_s: float, sim: Simulation):
        self.total, self.sim, self.last = total_s, sim, -1.0
        self.start_t = sim.t

    def update(self, wall: float) -> None:
        if wall - self.last < 1.0:
            return
        self.last = wall
        done = (self.sim.t - self.start_t) / max(self.total - self.start_t, 1e-9)
        eta = wall * (1 - done) / done if done > 0 else float("nan")
        sys.stderr.write(f"\r  t = {_hms(self.sim.t)} / {_hms(self.total)}  {100 * done:5.1f}%  "
                         f"ETA {_hms(eta)}  wet {100 * self.sim.wet_fraction:5.1f}%  ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.last >= 0:
            sys.stderr.write("\n")


def _hms(s: float) -> str:
    if not math.isfinite(s):
        return "--:--:--"
    s = int(s)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
