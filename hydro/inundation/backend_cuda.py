"""CUDA backend: the local-inertial step of :class:`~hydro.inundation.backend_cpu.CpuBackend` on a GPU.

Same methods, same formulas (:mod:`hydro.inundation.physics`), different walk (``core_cuda``).
The state lives on the device for the whole run: the :class:`State`'s numpy arrays are a host
mirror that is only filled by :meth:`CudaBackend.pull` (depth snapshots at the output interval,
checkpoints, the final products) and sent back by :meth:`CudaBackend.push` (hot start, gridded
rain). Per step the host reads one row of seven float64 (max depth and kinematic rate for the next
time step, outflow, clipped volume, wet cells, unstable cell, active tiles) and nothing else; the stored volume is
reduced on the device only when the water balance is recorded (``lazy_volume``).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from gis.errors import BackendUnavailable

from .backend_cpu import StepStats
from .physics import speed6_coefficient
from .state import ACCUMULATORS, State


def cuda_usable() -> tuple[bool, str]:
    """Whether numba-cuda imports and a CUDA device answers; the reason when not."""
    try:
        from numba import cuda
    except Exception as exc:  # numba-cuda fails to import e.g. with a numpy it does not support
        return False, f"numba.cuda does not import ({type(exc).__name__}: {exc})"
    try:
        if not cuda.is_available():
            return False, "no CUDA GPU or driver found"
        cuda.current_context()
        cuda.device_array(1)  # a context and an allocation: the device is really usable
    except Exception as exc:  # pragma: no cover - needs a broken GPU setup
        return False, f"the CUDA device is not usable ({type(exc).__name__}: {exc})"
    return True, ""


class CudaBackend:
    """numba-cuda backend; the arguments are those of ``CpuBackend``.

    Raises
    ------
    BackendUnavailable
        When numba-cuda or a usable GPU is missing (the simulator, ``NUMBA_ENABLE_CUDASIM=1``,
        counts as a GPU).
    """

    name = "cuda"
    lazy_volume = True  # StepStats.volume_m3 is NaN; ask stored_volume() when the balance is recorded

    def __init__(self, state: State, dx: float, dy: float, theta: float, hmin: float, h_arrival: float,
                 v_max: float, open_boundary: bool, outflow_slope: float, froude_max: float):
        ok, why = cuda_usable()
        if not ok:
            raise BackendUnavailable(f"backend 'cuda': {why}; use --backend cpu (or auto)")
        from numba import cuda

        from . import core_cuda as C

        try:  # small launches (tiles, points) are fine; numba-cuda would warn about occupancy
            from numba.core.errors import NumbaPerformanceWarning

            warnings.simplefilter("ignore", NumbaPerformanceWarning)
        except ImportError:  # pragma: no cover - numba-cuda without numba's errors module
            pass

        self.C, self.cuda = C, cuda
        self.s = state
        self.dx, self.dy = float(dx), float(dy)
        self.theta, self.hmin, self.h_arrival, self.v_max = float(theta), float(hmin), float(h_arrival), float(v_max)
        self.open_bc = bool(open_boundary)
        self.s_min = float(outflow_slope)
        self.fr_max = float(froude_max)
        self.rain_scale = 0.0  # m/s per code of the gridded rain array
        self._stamp = 1
        self._slot = 0
        self._grid, self._block = C.grid2d(*state.h.shape)
        nty, ntx = state.active.shape
        self._tgrid = ((ntx + C.BX - 1) // C.BX, (nty + C.BY - 1) // C.BY)
        to = cuda.to_device
        self.d = {k: to(getattr(state, k)) for k in ("z", "h", "n", "rain", *ACCUMULATORS, "forced", "tile_valid")}
        self.d["qx"], self.d["qy"] = to(state.qx), to(state.qy)
        self.d["qx_new"] = cuda.to_device(np.zeros_like(state.qx))
        self.d["qy_new"] = cuda.to_device(np.zeros_like(state.qy))
        self.d["active"] = to(state.active)
        self.d["tile_stamp"] = to(np.zeros(state.active.shape, np.int32))
        stats = np.zeros((2, C.NSTAT))
        stats[:, C.BAD] = C.NO_BAD
        self.d["stats"] = to(stats)
        self.d["total"] = to(np.zeros(1))
        self._stats_host = cuda.pinned_array((2, C.NSTAT))  # page-locked: a faster read back
        self.seconds = {"step": 0.0}  # wall time of the steps, the one read back included

    # ------------------------------------------------------------------ host <-> device
    def pull(self, names: tuple[str, ...] | None = None) -> None:
        """Copy device arrays into the host :class:`State` (all per-cell arrays when ``names`` is None)."""
        names = names or ("h", "qx", "qy", *ACCUMULATORS, "active", "tile_wet", "tile_vol")
        s = self.s
        for k in names:
            if k == "tile_wet":
                s.tile_wet[:] = self.d["tile_stamp"].copy_to_host() == self._stamp
            elif k == "tile_vol":  # only the CPU keeps it; filled so that a checkpoint suits both
                ts = s.tile_size
                nty, ntx = s.tile_vol.shape
                v = np.zeros((nty * ts, ntx * ts))
                v[:s.h.shape[0], :s.h.shape[1]] = np.where(np.isnan(s.z), 0.0, s.h) * (self.dx * self.dy)
                s.tile_vol[:] = v.reshape(nty, ts, ntx, ts).sum(axis=(1, 3))
            else:
                self.d[k].copy_to_host(getattr(self.s, k))

    def push(self, names: tuple[str, ...] | None = None) -> None:
        """Copy host :class:`State` arrays to the device (after a hot start or a rain change)."""
        names = names or ("h", "qx", "qy", *ACCUMULATORS, "active", "tile_wet")
        for k in names:
            if k == "tile_wet":
                self.d["tile_stamp"].copy_to_device(np.where(self.s.tile_wet, self._stamp, 0).astype(np.int32))
            else:
                self.d[k].copy_to_device(np.ascontiguousarray(getattr(self.s, k)))
        if "qx" in names or "qy" in names:  # the spare buffer must be zero on inactive tiles
            self.d["qx_new"].copy_to_device(np.zeros_like(self.s.qx))
            self.d["qy_new"].copy_to_device(np.zeros_like(self.s.qy))

    # ------------------------------------------------------------------ the backend interface
    def refresh(self) -> float:
        """Wet flags and activity from ``h`` (start or hot start); return the stored volume."""
        s = self.s
        self.d["h"].copy_to_device(s.h)
        ts = s.tile_size
        NY, NX = s.h.shape
        nty, ntx = s.active.shape
        pad = np.zeros((nty * ts, ntx * ts), bool)
        pad[:NY, :NX] = s.h > self.hmin
        s.tile_wet[:] = pad.reshape(nty, ts, ntx, ts).any(axis=(1, 3))
        src = np.pad(s.tile_wet | s.forced, 1)
        act = np.zeros_like(s.tile_wet)
        for a in range(3):
            for b in range(3):
                act |= src[a:a + nty, b:b + ntx]
        act &= s.tile_valid
        for ty, tx in zip(*np.nonzero(~act)):
            s.qx[ty * ts:(ty + 1) * ts, tx * ts:(tx + 1) * ts] = 0.0
            s.qy[ty * ts:(ty + 1) * ts, tx * ts:(tx + 1) * ts] = 0.0
        s.active[:] = act
        self.d["forced"].copy_to_device(s.forced)
        self.push(("qx", "qy", "active", "tile_wet"))
        return self.stored_volume()

    def stored_volume(self) -> float:
        """Water stored on valid cells (m3), reduced on the device in float64."""
        tot = self.d["total"]
        tot.copy_to_device(np.zeros(1))
        self.C.stored_volume[self._grid, self._block](self.d["z"], self.d["h"], self.dx * self.dy, tot)
        return float(tot.copy_to_host()[0])

    def max_depth(self) -> float:
        self.pull(("h",))
        s = self.s
        v = np.where(np.isnan(s.z), 0.0, s.h)
        return float(max(v.max(), 0.0))

    def _points(self, rows: np.ndarray, cols: np.ndarray):
        key = (id(rows), id(cols))
        cache = self.__dict__.setdefault("_pts", {})
        if key not in cache:
            cache[key] = (rows, cols, self.cuda.to_device(np.ascontiguousarray(rows, np.int64)),
                          self.cuda.to_device(np.ascontiguousarray(cols, np.int64)))
        return cache[key][2], cache[key][3]

    def add_volume(self, rows: np.ndarray, cols: np.ndarray, volume_per_cell: float) -> float:
        """Add water at the listed cells; an inflow (>= 0) needs no read back, a withdrawal does."""
        d_rows, d_cols = self._points(rows, cols)
        area = self.dx * self.dy
        tot = self.d["total"]
        if volume_per_cell < 0.0:
            tot.copy_to_device(np.zeros(1))
        self.C.add_point_volume[(len(rows) + 127) // 128, 128](self.d["h"], d_rows, d_cols, float(volume_per_cell),
                                                             area, tot)
        if volume_per_cell >= 0.0:
            return len(rows) * (volume_per_cell / area * area)
        return float(tot.copy_to_host()[0])

    def impose_stage(self, rows: np.ndarray, cols: np.ndarray, stage_m: float) -> float:
        d_rows, d_cols = self._points(rows, cols)
        tot = self.d["total"]
        tot.copy_to_device(np.zeros(1))
        self.C.impose_stage[(len(rows) + 127) // 128, 128](self.d["z"], self.d["h"], d_rows, d_cols, float(stage_m),
                                                         self.dx * self.dy, tot)
        return float(tot.copy_to_host()[0])

    def set_rain(self) -> None:
        """Send the host's gridded rain codes (``State.rain``) to the device."""
        self.push(("rain",))

    def step(self, dt: float, t_new: float, rain0: float, rain_all: bool, record: bool = True,
             dt_record: float | None = None) -> StepStats:
        t0 = time.perf_counter()
        C, d, s = self.C, self.d, self.s
        g, b = self._grid, self._block
        ts = s.tile_size
        slot = self._slot
        n_uniform = s.n.size == 1
        dt = float(dt)
        C.fluxes[g, b](d["z"], d["h"], d["qx"], d["qy"], d["qx_new"], d["qy_new"], d["n"], n_uniform,
                       float(s.n.flat[0]), d["active"], ts, dt, self.dx, self.dy, self.theta, self.hmin,
                       self.open_bc, self.s_min, self.fr_max, self.v_max, d["stats"], slot)
        # the new fluxes are now the current ones
        d["qx"], d["qx_new"] = d["qx_new"], d["qx"]
        d["qy"], d["qy_new"] = d["qy_new"], d["qy"]
        C.limit[g, b](d["z"], d["h"], d["qx"], d["qy"], d["active"], ts, dt, self.dx, self.dy)
        self._stamp += 1
        C.continuity[g, b](d["z"], d["h"], d["qx"], d["qy"], d["rain"], s.rain.size == 1, float(rain0),
                           float(self.rain_scale), d["active"], d["tile_valid"], bool(rain_all), ts, dt,
                           self.dx, self.dy, float(t_new), bool(record), float(dt if dt_record is None else dt_record),
                           self.hmin, self.h_arrival, 10.0 * self.hmin,
                           speed6_coefficient(self.fr_max),
                           d["max_h"], d["max_speed"], d["max_hv"], d["arrival"], d["duration"], d["t_max"],
                           d["tile_stamp"], self._stamp, d["stats"], slot)
        C.update_active[self._tgrid, C.BLOCK](d["tile_stamp"], self._stamp, d["forced"], d["tile_valid"], d["active"],
                                             d["qx"], d["qy"], d["qx_new"], d["qy_new"], ts, d["stats"], slot)
        st = d["stats"].copy_to_host(self._stats_host)[slot]  # the one read back per step
        self._slot = 1 - slot
        self.seconds["step"] += time.perf_counter() - t0
        bad = st[C.BAD]
        return StepStats(hmax=float(st[C.HMAX]), volume_m3=float("nan"), outflow_m3=float(st[C.OUTFLOW]),
                         clipped_m3=float(st[C.CLIPPED]), wet_cells=int(st[C.WET]),
                         bad_cell=int(bad) if bad < C.NO_BAD else -1, active_tiles=int(st[C.ACTIVE]),
                         kin_rate=float(st[C.KIN]))
