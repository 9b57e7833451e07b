"""CPU backend: one time step of the local-inertial scheme on a :class:`State`, with numba kernels.

A backend is "what is computed" for one step; :class:`~hydro.inundation.simulation.Simulation`
is "how it is driven" (time step choice, forcing, outputs). A CUDA backend only has to offer the
same methods on its own arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np

from . import core_inertial as K
from .physics import speed6_coefficient
from .state import State


@dataclass
class StepStats:
    hmax: float
    volume_m3: float
    outflow_m3: float
    clipped_m3: float
    wet_cells: int
    bad_cell: int  # flat padded index of the first unstable cell, -1 if none
    active_tiles: int
    kin_rate: float = 0.0  # 1/s: largest outflow rate per unit depth of a cell (see core_inertial.update_depth)


def inner_tiles(z: np.ndarray, ts: int) -> np.ndarray:
    """Tiles whose cells, and every cell within 2 of them, are inside the domain (``z`` not NaN): their
    faces have no wall or boundary face among the cells a face flux reads, so the flux kernel takes
    the face function without those selects there."""
    from scipy.ndimage import minimum_filter

    ny, nx = z.shape
    nty, ntx = -(-ny // ts), -(-nx // ts)
    near = minimum_filter((z == z).astype(np.uint8), size=5, mode="constant", cval=0).astype(bool)
    pad = np.zeros((nty * ts, ntx * ts), bool)
    pad[:ny, :nx] = near
    return pad.reshape(nty, ts, ntx, ts).all(axis=(1, 3))


class CpuBackend:
    """Numba (parallel CPU) backend."""

    name = "cpu"
    supports_lts = True

    def __init__(self, state: State, dx: float, dy: float, theta: float, hmin: float, h_arrival: float,
                 v_max: float, open_boundary: bool, outflow_slope: float, froude_max: float):
        self.s = state
        self.dx, self.dy = float(dx), float(dy)
        self.theta, self.hmin, self.h_arrival, self.v_max = float(theta), float(hmin), float(h_arrival), float(v_max)
        self.open_bc = bool(open_boundary)
        self.s_min = float(outflow_slope)
        self.fr_max = float(froude_max)
        nty = state.active.shape[0]
        self._blk = {k: np.zeros(nty) for k in ("hmax", "vol", "out", "clip", "kin")}
        self._blk_wet = np.zeros(nty, np.int64)
        self._blk_bad = np.zeros(nty, np.int64)
        self._flux_bad = np.zeros(nty, np.int64)
        # active column spans per tile row (maximal runs of active tiles), rebuilt by update_active
        self._spans = np.zeros(state.active.shape + (2,), np.int64)
        self._nspan = np.zeros(nty, np.int64)
        self._code0 = inner_tiles(state.z, state.tile_size).astype(np.uint8)  # tile codes, level 0
        self._code = self._code0  # level << 1 | inner (core_inertial.compute_fluxes)
        self._lev_scale = 2.0 ** np.arange(8, dtype=state.h.dtype)  # a level's step in finest steps
        self._part = np.zeros_like(state.active)
        self._part_listed = np.zeros_like(state.active)  # the tiles the face list was built on
        self._nf = 0  # faces between tiles of different levels (local time stepping)
        self._faces = np.zeros((0, 7), np.int64)  # core_inertial.interface_faces
        self._share = np.zeros(0, np.float64)
        self._n_by_level = np.zeros(8, np.int64)
        self.rain_scale = 0.0  # m/s per code of the gridded rain array
        self.chunk = 1  # tile rows dealt to the threads one at a time (the wet rows are uneven; 0: numba's halves)
        self.seconds = {"flux": 0.0, "limit": 0.0, "depth": 0.0, "tiles": 0.0}  # where the time goes

    def refresh(self) -> float:
        """Recompute tile volumes and wet flags from ``h`` (start or hot start); return the volume."""
        s = self.s
        K.tile_volumes(s.z, s.h, s.tile_size, s.tile_vol, self.dx, self.dy)
        ts = s.tile_size
        wet = s.h > self.hmin
        NY, NX = s.h.shape
        pad = np.zeros((s.active.shape[0] * ts, s.active.shape[1] * ts), bool)
        pad[:NY, :NX] = wet
        s.tile_wet[:] = pad.reshape(s.active.shape[0], ts, s.active.shape[1], ts).any(axis=(1, 3))
        s.active[:] = True
        K.update_active(s.tile_wet, s.forced, s.tile_valid, s.active, s.qx, s.qy, ts, self._spans, self._nspan)
        return float(s.tile_vol.sum())

    def pull(self, names: tuple[str, ...] | None = None) -> None:
        """Device -> host copy of state arrays: nothing to do, the CPU works on the host arrays."""

    def push(self, names: tuple[str, ...] | None = None) -> None:
        """Host -> device copy of state arrays: the CPU works on the host arrays, so only the state
        derived from ``active`` (its column spans) is rebuilt when a hot start restored it."""
        if names is None or "active" in names:
            s = self.s  # the restored tile_wet/forced give back the restored active, and its spans
            K.update_active(s.tile_wet, s.forced, s.tile_valid, s.active, s.qx, s.qy, s.tile_size, self._spans,
                            self._nspan)

    def max_depth(self) -> float:
        return float(K.max_wet_depth(self.s.h, self.s.z))

    def add_volume(self, rows: np.ndarray, cols: np.ndarray, volume_per_cell: float) -> float:
        return K.add_point_volume(self.s.z, self.s.h, rows, cols, volume_per_cell, self.dx * self.dy)

    def impose_stage(self, rows: np.ndarray, cols: np.ndarray, stage_m: float) -> float:
        return K.impose_stage(self.s.z, self.s.h, rows, cols, stage_m, self.dx * self.dy)

    def step(self, dt: float, t_new: float, rain0: float, rain_all: bool, record: bool = True,
             dt_record: float | None = None) -> StepStats:
        """One step of length ``dt`` ending at ``t_new``; the running outputs are updated when
        ``record``, counting ``dt_record`` (default ``dt``) of duration."""
        self._code, self._nf = self._code0, 0
        st = self.substep(0, 1, dt, t_new, rain0, rain_all, record, dt_record)
        st.active_tiles = self.end_cycle()
        return st

    # ------------------------------------------------------------------ local time stepping
    def tile_steps(self, cfl_length: float, kinematic_courant: float, rain_all: bool) -> tuple[np.ndarray, np.ndarray]:
        """Each tile's stable step (s; ``inf`` where no water is near; ``cfl_length`` from
        ``Simulation.cfl_length``) and which tiles take part in the next cycle (active ones, and every
        valid one while it rains)."""
        s = self.s
        f = s.h.dtype.type
        np.logical_or(s.active, s.tile_valid & bool(rain_all), out=self._part)
        out = np.empty(s.active.shape)
        K.tile_steps(s.h, s.qx, s.qy, self._part, s.tile_size, float(cfl_length), f(self.dx), f(self.dy), f(self.hmin),
                     float(kinematic_courant), out)
        return out, self._part.copy()

    def set_levels(self, levels: np.ndarray) -> None:
        """Give each tile its level for the next cycle (a tile of level m steps 2**m finest steps) and
        list the faces between tiles of different levels."""
        s = self.s
        code = (self._code0 | (levels.astype(np.uint8) << 1)).astype(np.uint8)
        if self._nf and np.array_equal(code, self._code) and np.array_equal(self._part, self._part_listed):
            return  # the same levels on the same tiles: the same faces between levels
        self._code = code
        self._part_listed = self._part.copy()
        self._nf = 0
        self._n_by_level[:] = 0
        if levels[self._part].max(initial=0) > 0:
            if not len(self._faces):
                m = 2 * s.active.size * s.tile_size
                self._faces, self._share = np.zeros((m, 7), np.int64), np.zeros(m)
                self._faces_tmp = np.zeros((m, 8), np.int64)
            self._nf = K.interface_faces(s.z, self._part, self._code, s.tile_size, self._faces, self._share,
                                         self._n_by_level, self._faces_tmp)

    def end_cycle(self) -> int:
        """After a cycle's last substep: the new active tiles and their spans; returns their number."""
        s = self.s
        t0 = time.perf_counter()
        n = K.update_active(s.tile_wet, s.forced, s.tile_valid, s.active, s.qx, s.qy, s.tile_size, self._spans,
                            self._nspan)
        self.seconds["tiles"] += time.perf_counter() - t0
        return int(n)

    def substep(self, k: int, n_sub: int, dt: float, t_new: float, rain0: float, rain_all: bool, record: bool = True,
                dt_record: float | None = None) -> StepStats:
        """Substep ``k`` of ``n_sub`` finest steps of length ``dt`` of a cycle ending at ``t_new``: the
        tiles whose level steps now (all of them at ``k`` 0) take their step; the running outputs are
        updated at each tile's last step of the cycle when ``record``, counting ``dt_record`` (default
        ``dt``) of duration. Call :meth:`end_cycle` after the last one."""
        with numba.parallel_chunksize(self.chunk):
            return self._substep(k, n_sub, dt, t_new, rain0, rain_all, record, dt_record)

    def _substep(self, k, n_sub, dt, t_new, rain0, rain_all, record, dt_record) -> StepStats:
        s = self.s
        ts = s.tile_size
        clock = time.perf_counter
        # every float scalar in the state's dtype: a Python float would promote float32 arithmetic to float64
        f = s.h.dtype.type
        f32 = np.float32
        dt_, dx, dy, hmin = f(dt), f(self.dx), f(self.dy), f(self.hmin)
        t0 = clock()
        if n_sub > 1:
            K.level_spans(s.active, self._code, k, ts, s.h.shape[1], self._spans, self._nspan)
        K.save_block_edges(s.qy, ts, self._spans, self._nspan, s.top_old, s.bot_old)
        K.compute_fluxes(s.z, s.h, s.qx, s.qy, s.n, s.n.size == 1, self._spans, self._nspan, ts,
                         s.top_old, s.bot_old, self._code, self._lev_scale, s.active, k, dt_, dx, dy, f(self.theta), hmin, self.open_bc, f(self.s_min),
                         f(self.fr_max), f(self.v_max), self._flux_bad)
        t1 = clock()
        K.limit_first_rows(s.z, s.h, s.qx, s.qy, self._spans, self._nspan, ts, self._code, self._lev_scale, dt_, dx, dy)
        # the faces between levels whose fine side steps now: those whose fine level divides k
        nf = int(self._n_by_level[(k & -k).bit_length() - 1 if k else 7]) if self._nf else 0
        if nf:
            K.interface_limit(s.h, s.qx, s.qy, self._faces, self._share, nf, k, float(dt), self.dx, self.dy)
        t2 = clock()
        b = self._blk
        K.update_depth(s.z, s.h, s.qx, s.qy, s.rain, s.rain.size == 1, f(rain0), f(self.rain_scale), s.active,
                       s.tile_valid, s.tile_edge, rain_all, ts, self._code, self._lev_scale, k, n_sub, dt_, dx, dy, f32(t_new), bool(record),
                       f(dt if dt_record is None else dt_record), hmin, f(self.h_arrival),
                       f(10.0 * self.hmin), f(speed6_coefficient(self.fr_max)), s.max_h, s.max_speed, s.max_hv, s.arrival,
                       s.duration, s.t_max,
                       s.tile_wet, s.tile_vol, b["hmax"], b["vol"], b["out"], b["clip"], self._blk_wet, self._blk_bad,
                       b["kin"], f(-1e-3), n_sub == 1)
        moved = clipped = 0.0
        if nf:
            moved, clipped = K.interface_apply(s.h, s.qx, s.qy, s.tile_vol, self._faces, nf, k, ts, dt_,
                                               self._lev_scale, dx, dy, f(-1e-3))
        t3 = clock()
        sec = self.seconds
        sec["flux"] += t1 - t0
        sec["limit"] += t2 - t1
        sec["depth"] += t3 - t2
        bad = np.concatenate([self._flux_bad[self._flux_bad >= 0], self._blk_bad[self._blk_bad >= 0]])
        return StepStats(hmax=float(b["hmax"].max()), volume_m3=float(b["vol"].sum()) + moved,
                         outflow_m3=float(b["out"].sum()), clipped_m3=float(b["clip"].sum()) + clipped,
                         wet_cells=int(self._blk_wet.sum()), bad_cell=int(bad[0]) if bad.size else -1,
                         active_tiles=-1, kin_rate=float(b["kin"].max()))
