"""CUDA backend: the local-inertial step of :class:`~hydro.inundation.backend_cpu.CpuBackend` on a GPU.

Same methods, same formulas (:mod:`hydro.inundation.physics`), different walk (``core_cuda``).
The state lives on the device for the whole run: the :class:`State`'s numpy arrays are a host
mirror that is only filled by :meth:`CudaBackend.pull` (depth snapshots at the output interval,
checkpoints, the final products) and sent back by :meth:`CudaBackend.push` (hot start, gridded
rain). Per step the host reads one row of seven int64 (max depth and kinematic rate for the next
time step, outflow, clipped volume, wet cells, unstable cell, active tiles) and nothing else; the stored volume is
reduced on the device only when the water balance is recorded (``lazy_volume``).
"""

from __future__ import annotations

import os
import sys
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


class _Launch:
    """One kernel over a fixed grid, its arguments marshalled once per set of device arrays.

    numba-cuda types and marshals every argument at each launch, in Python: with the 10-37 arguments
    of these kernels that is tens of microseconds per launch, four launches a step, while a whole
    step of 5M cells takes about 150 us on an H200, so the host would set the pace. Here the first
    launch with a given ``key`` goes through numba (it compiles and picks the kernel) and its
    marshalled argument list is kept; later launches with that key re-marshal only the scalars
    and call the driver's launch directly. The caller gives a new key whenever the device arrays
    differ (the flux buffers swap each step: two keys); the arrays' identities are checked anyway.

    Falls back to numba's own launch in the simulator, with ``FLOODKIT_CUDA_FAST_LAUNCH=0``, or where
    numba-cuda's internals differ from those of 0.30 (then once, with a warning).
    """

    enabled = os.environ.get("FLOODKIT_CUDA_FAST_LAUNCH", "1") != "0"

    def __init__(self, kernel, griddim, blockdim, simulator: bool):
        self.cfg = kernel[griddim, blockdim]
        self.fast = self.enabled and not simulator
        self._cache: dict = {}

    def __call__(self, key, *args):
        if not self.fast:
            self.cfg(*args)
            return
        entry = self._cache.get(key)
        if entry is not None:
            handle, kargs, scalars, arrays, keep, lc, stream = entry
            for n, p in enumerate(arrays):
                if args[p] is not keep[n]:
                    raise RuntimeError(f"_Launch: key {key!r} used with other device arrays")
            for p, idx, conv in scalars:
                kargs[idx] = conv(args[p])
            _core_launch(stream, lc, handle, *kargs)
            return
        launched = False
        try:
            got = []
            cbs = self.cfg.pre_launch_callbacks
            cbs.append(lambda kernel, cfg: got.append(kernel))
            try:
                self.cfg(*args)  # compiles on first use; the callback hands over the kernel it launches
                launched = True
            finally:
                cbs.pop()
            self._cache[key] = self._prepare(got[0], args)
        except Exception as exc:  # pragma: no cover - another numba-cuda
            warnings.warn(f"floodkit: the prepared CUDA launch is off ({type(exc).__name__}: {exc}); "
                          "numba's launch is used", RuntimeWarning, stacklevel=2)
            self.fast = False
            if not launched:
                self.cfg(*args)

    def _prepare(self, kernel, args):  # pragma: no cover - needs a GPU
        import ctypes

        from numba.cuda import dispatcher as D
        from numba.cuda import types as T

        global _core_launch
        _core_launch = D.launch
        if kernel.debug or kernel.cooperative or kernel.extensions or len(kernel.argument_types) != len(args):
            raise RuntimeError("kernel options not handled")
        stream = self.cfg.stream
        retr: list = []
        kargs: list = []
        scalars, arrays, keep = [], [], []
        for p, (t, v) in enumerate(zip(kernel.argument_types, args)):
            idx = len(kargs)
            kernel._prepare_args(t, v, stream, retr, kargs)
            if isinstance(t, T.Array):
                arrays.append(p)
                keep.append(v)
            elif t == T.float64:
                scalars.append((p, idx, ctypes.c_double))
            elif t == T.float32:
                scalars.append((p, idx, ctypes.c_float))
            elif t == T.boolean:
                scalars.append((p, idx, bool))
            elif isinstance(t, T.Integer):
                scalars.append((p, idx, getattr(ctypes, f"c_{t}")))
            else:
                raise RuntimeError(f"argument type {t} not handled")
            if not isinstance(t, T.Array) and len(kargs) != idx + 1:
                raise RuntimeError(f"argument type {t} marshalled to {len(kargs) - idx} values")
        if retr:
            raise RuntimeError("host arrays among the arguments")
        if D.CUDA_CORE_GE_1_0:
            lc = D.LaunchConfig(grid=self.cfg.griddim, block=self.cfg.blockdim, shmem_size=self.cfg.sharedmem,
                                is_cooperative=False)
        else:
            lc = D.LaunchConfig(grid=self.cfg.griddim, block=self.cfg.blockdim, shmem_size=self.cfg.sharedmem,
                                cooperative_launch=False)
        handle = kernel._codelibrary.get_cufunc().kernel
        return handle, kargs, scalars, arrays, keep, lc, stream


_core_launch = None  # cuda.core's launch, set by the first prepared launch


class CudaBackend:
    """numba-cuda backend; the arguments are those of ``CpuBackend``.

    It steps every tile at the global step: it has no local time stepping
    (``supports_lts`` False; :class:`~hydro.inundation.simulation.Simulation` runs ``lts_levels`` 1 on it).

    Raises
    ------
    BackendUnavailable
        When numba-cuda or a usable GPU is missing (the simulator, ``NUMBA_ENABLE_CUDASIM=1``,
        counts as a GPU).
    """

    name = "cuda"
    supports_lts = False
    lazy_volume = True  # StepStats.volume_m3 is NaN; ask stored_volume() when the balance is recorded

    def __init__(self, state: State, dx: float, dy: float, theta: float, hmin: float, h_arrival: float,
                 v_max: float, open_boundary: bool, outflow_slope: float, froude_max: float):
        ok, why = cuda_usable()
        if not ok:
            raise BackendUnavailable(f"backend 'cuda': {why}; use --backend cpu (or auto)")
        from numba import cuda

        from . import core_cuda as C

        # small launches (tiles, points, small grids) are fine; numba-cuda would warn about their occupancy
        # on every new launch shape (a warning filter does not hold under pytest, which resets them per test)
        for mod in ("numba.cuda.dispatcher", "numba.cuda.core.config", "numba.core.config"):
            cfg = getattr(sys.modules.get(mod), "config", None) if mod.endswith("dispatcher") else sys.modules.get(mod)
            if cfg is not None and hasattr(cfg, "CUDA_LOW_OCCUPANCY_WARNINGS"):
                cfg.CUDA_LOW_OCCUPANCY_WARNINGS = 0

        self.C, self.cuda = C, cuda
        self.s = state
        self.F = F = state.h.dtype.type  # every float scalar of the cell kernels in the state's dtype, as on the CPU
        self.K = C.kernels(np.dtype(F).name)
        self.dx, self.dy = float(dx), float(dy)
        self.theta, self.hmin, self.h_arrival, self.v_max = float(theta), float(hmin), float(h_arrival), float(v_max)
        self.open_bc = bool(open_boundary)
        self.s_min = float(outflow_slope)
        self.fr_max = float(froude_max)
        self.rain_scale = 0.0  # m/s per code of the gridded rain array
        self._stamp = 1
        self._slot = 0
        self._flip = 0  # which pair of flux buffers is current (they swap each step): the prepared launches' key
        self._grid, self._block = C.grid2d(*state.h.shape)
        nty, ntx = state.active.shape
        self._tgrid = ((ntx + C.BX - 1) // C.BX, (nty + C.BY - 1) // C.BY)
        ts = state.tile_size
        self._ts, self._tsh = int(ts), int(C.tile_shift(ts))
        to = cuda.to_device
        self.d = {k: to(getattr(state, k)) for k in ("z", "h", "n", "rain", *ACCUMULATORS, "forced", "tile_valid")}
        self.d["qx"], self.d["qy"] = to(state.qx), to(state.qy)
        self.d["qx_new"] = cuda.to_device(np.zeros_like(state.qx))
        self.d["qy_new"] = cuda.to_device(np.zeros_like(state.qy))
        self.d["active"] = to(state.active)
        self.d["tile_stamp"] = to(np.zeros(state.active.shape, np.int32))
        stats = np.zeros((2, C.NSTAT), np.int64)  # integer figures: see core_cuda's docstring
        stats[:, C.BAD] = C.NO_BAD
        self.d["stats"] = to(stats)
        gx, gy = self._grid
        self.d["partial"] = cuda.device_array(gx * gy)  # per-block stored volumes (stored_volume)
        self._stats_host = cuda.pinned_array((2, C.NSTAT), np.int64)  # page-locked: a faster read back
        self._pts: dict = {}
        self.seconds = {"step": 0.0, "launch": 0.0}  # wall time of the steps (the read back included) and of the launches
        self.profile = None  # a dict: then each kernel is timed with CUDA events (benchmarks/bench_cuda.py)
        self._consts()
        self._launches()

    def _consts(self) -> None:
        F = self.F
        self._c = dict(inv_dx=F(1.0) / F(self.dx), inv_dy=F(1.0) / F(self.dy), dx=F(self.dx), dy=F(self.dy),
                       theta=F(self.theta), hmin=F(self.hmin), s_min=F(self.s_min), fr_max=F(self.fr_max),
                       v_max=F(self.v_max), h_arrival=F(self.h_arrival), h_vel=F(10.0 * self.hmin),
                       fr4g2=F(speed6_coefficient(self.fr_max)), neg_tol=F(-1e-3),
                       area=float(F(self.dx)) * float(F(self.dy)), n0=F(self.s.n.flat[0]))

    def _launches(self) -> None:
        C, K, sim = self.C, self.K, self.C.SIMULATOR
        g, b = self._grid, self._block
        self._fluxes = _Launch(K.fluxes, g, b, sim)
        self._limit = _Launch(K.limit, g, b, sim)
        self._continuity = _Launch(K.continuity, g, b, sim)
        self._update_active = _Launch(C.update_active, self._tgrid, C.BLOCK, sim)

    def use_kernels(self, K) -> None:
        """Step with another build of the kernels (``core_cuda.kernels(dtype, ...)``; a profiling variant)."""
        self.K = K
        self._launches()

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
        """Water stored on valid cells (m3): float64 sums per block on the device, summed here in a fixed
        order (the same bits every run)."""
        part = self.d["partial"]
        self.C.stored_volume[self._grid, self._block](self.d["z"], self.d["h"], self.dx * self.dy, part)
        return float(part.copy_to_host().sum())

    def max_depth(self) -> float:
        self.pull(("h",))
        s = self.s
        v = np.where(np.isnan(s.z), 0.0, s.h)
        return float(max(v.max(), 0.0))

    def _points(self, rows: np.ndarray, cols: np.ndarray):
        """Device copies of a list of cells and a buffer for the volume each moves, cached by content.

        The caller passes new arrays every step (``Simulation`` adds the padding ring), so a cache keyed
        on their identity (the first build) uploaded the cells again and grew by an entry every step.
        """
        rows = np.ascontiguousarray(rows, np.int64)
        cols = np.ascontiguousarray(cols, np.int64)
        key = (rows.tobytes(), cols.tobytes())
        got = self._pts.get(key)
        if got is None:
            got = self._pts[key] = (self.cuda.to_device(rows), self.cuda.to_device(cols),
                                    self.cuda.device_array(len(rows)))
        return got

    def add_volume(self, rows: np.ndarray, cols: np.ndarray, volume_per_cell: float) -> float:
        """Add water at the listed cells; an inflow (>= 0) needs no read back, a withdrawal does."""
        d_rows, d_cols, moved = self._points(rows, cols)
        area = self.dx * self.dy
        self.C.add_point_volume[(len(rows) + 127) // 128, 128](self.d["h"], d_rows, d_cols, float(volume_per_cell),
                                                             area, moved)
        if volume_per_cell >= 0.0:
            return len(rows) * (volume_per_cell / area * area)
        return float(moved.copy_to_host().sum())

    def impose_stage(self, rows: np.ndarray, cols: np.ndarray, stage_m: float) -> float:
        d_rows, d_cols, moved = self._points(rows, cols)
        self.C.impose_stage[(len(rows) + 127) // 128, 128](self.d["z"], self.d["h"], d_rows, d_cols, float(stage_m),
                                                         self.dx * self.dy, moved)
        return float(moved.copy_to_host().sum())

    def set_rain(self) -> None:
        """Send the host's gridded rain codes (``State.rain``) to the device."""
        self.push(("rain",))

    def step(self, dt: float, t_new: float, rain0: float, rain_all: bool, record: bool = True,
             dt_record: float | None = None) -> StepStats:
        """One step: the four launches (:meth:`_enqueue`), then the one read back of its statistics."""
        clock = time.perf_counter
        t0 = clock()
        slot = self._enqueue(dt, t_new, rain0, rain_all, record, dt_record)
        t1 = clock()
        st = self.d["stats"].copy_to_host(self._stats_host)[slot]  # the one read back per step
        sec = self.seconds
        sec["launch"] += t1 - t0
        sec["step"] += clock() - t0
        return self._stats(st)

    def _stats(self, st: np.ndarray) -> StepStats:
        """A row of the integer stats array (core_cuda's docstring) as the step's figures."""
        C = self.C
        bits = st.view(np.float64)
        bad = int(st[C.BAD])
        return StepStats(hmax=float(bits[C.HMAX]), volume_m3=float("nan"), outflow_m3=float(st[C.OUTFLOW]) / C.FIX,
                         clipped_m3=float(st[C.CLIPPED]) / C.FIX, wet_cells=int(st[C.WET]),
                         bad_cell=bad if bad < C.NO_BAD else -1, active_tiles=int(st[C.ACTIVE]),
                         kin_rate=float(bits[C.KIN]))

    def _enqueue(self, dt: float, t_new: float, rain0: float, rain_all: bool, record: bool = True,
                 dt_record: float | None = None) -> int:
        """Launch one step's kernels (no synchronisation); return the row of ``stats`` it fills."""
        d, s, c, F = self.d, self.s, self._c, self.F
        ts, tsh = self._ts, self._tsh
        slot, flip = self._slot, self._flip
        dt_ = F(dt)
        prof = self.profile
        if prof is not None:
            ev = [self.cuda.event() for _ in range(5)]
            ev[0].record()
        qx, qy, qx_new, qy_new = d["qx"], d["qy"], d["qx_new"], d["qy_new"]
        self._fluxes(flip, d["z"], d["h"], qx, qy, qx_new, qy_new, d["n"], s.n.size == 1, c["n0"], d["active"], ts, tsh,
                     dt_, c["inv_dx"], c["inv_dy"], c["theta"], c["hmin"], self.open_bc, c["s_min"], c["fr_max"],
                     c["v_max"], d["stats"], slot)
        if prof is not None:
            ev[1].record()
        # the new fluxes are now the current ones (``flip`` names the pair of buffers for the prepared launches)
        d["qx"], d["qx_new"] = qx_new, qx
        d["qy"], d["qy_new"] = qy_new, qy
        flip = self._flip = 1 - flip
        qx, qy, qx_old, qy_old = qx_new, qy_new, qx, qy
        self._limit(flip, d["z"], d["h"], qx, qy, d["active"], ts, tsh, dt_, c["dx"], c["dy"])
        if prof is not None:
            ev[2].record()
        self._stamp += 1
        self._continuity(flip, d["z"], d["h"], qx, qy, d["rain"], s.rain.size == 1, F(rain0), F(self.rain_scale),
                         d["active"], d["tile_valid"], bool(rain_all), ts, tsh, dt_, c["inv_dx"], c["inv_dy"],
                         c["area"], self.dx, self.dy, c["neg_tol"], np.float32(t_new), bool(record),
                         F(dt if dt_record is None else dt_record), c["hmin"], c["h_arrival"], c["h_vel"], c["fr4g2"],
                         d["max_h"], d["max_speed"], d["max_hv"], d["arrival"], d["duration"], d["t_max"],
                         d["tile_stamp"], self._stamp, d["stats"], slot)
        if prof is not None:
            ev[3].record()
        self._update_active(flip, d["tile_stamp"], self._stamp, d["forced"], d["tile_valid"], d["active"],
                            qx, qy, qx_old, qy_old, ts, d["stats"], slot)
        self._slot = 1 - slot
        if prof is not None:
            ev[4].record()
            ev[4].synchronize()
            for name, a, b in (("fluxes", 0, 1), ("limit", 1, 2), ("continuity", 2, 3), ("update_active", 3, 4)):
                prof[name] = prof.get(name, 0.0) + 1e-3 * ev[a].elapsed_time(ev[b])
        return slot
