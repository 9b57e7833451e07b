"""CUDA kernels of the local-inertial scheme (numba-cuda): the GPU twin of ``core_inertial``.

The formulas are those of :mod:`hydro.inundation.physics` (Bates, Horritt & Fewtrell 2010,
J. Hydrol. 387:33-45; de Almeida, Bates, Freer & Souvignet 2012, WRR 48:W05528), compiled here
as CUDA device functions; these kernels only say how the grid is walked. One thread per padded
cell, in blocks of ``BLOCK`` threads; a thread of an inactive (dry) tile returns at once (a whole
block when it lies inside one such tile), so the work follows the wet area as on the CPU.

The kernels are built once per state dtype (:func:`kernels`): a float32 state computes in float32,
with the float32 builds of the formulas and every scalar in float32, as the CPU kernels do
(``core_inertial``); a float64 state in float64. The running outputs stay float32 and the step
statistics float64 on both.

A time step is four launches on one stream and no host synchronisation:

1. ``fluxes`` new face fluxes from the old ones (the theta weighting needs the old
   neighbours, so the new fluxes go to a second buffer; the buffers swap each step);
2. ``limit`` scales the outgoing fluxes of cells that would run dry (only the donor cell
   writes a face, so it is race-free);
3. ``continuity`` depths, rain, running outputs, and a block reduction of the step's
   statistics (max depth, boundary outflow, clipped volume, wet cells, kinematic rate) into ``stats``;
4. ``update_active`` tile activity for the next step (wet tiles dilated by one).

``stats`` is a small (2, NSTAT) int64 array: step k writes row ``k % 2`` and clears the other,
so the host reads one row per step (for the next time step) with a single copy. Every figure goes in
with an integer atomic, so a run gives the same bits every time (a hot start reproduces the
uninterrupted run's water balance): the maxima (depth, kinematic rate; both >= 0) as the bit
patterns of their float64 values, whose integer order is theirs; the volumes (outflow, clipped) in
fixed point, ``FIX`` units per m3, each block's float64 sum rounded once; the counts as integers.
Floating-point atomic adds of block sums (the first build) depend on the order in which the blocks
finish, which a GPU does not fix (the simulator does): the validation suite's bit-for-bit hot-start
test failed on the H200, and these sums (and the stored volume's) were the step's only
order-dependent arithmetic. The first build's float64 maxima were compare-and-swap loops; its whole
statistics reduction cost about a quarter of a step there (BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import math
import os
from types import SimpleNamespace

import numpy as np
from numba import config, cuda, float64, int64

from . import physics

SIMULATOR = bool(getattr(config, "ENABLE_CUDASIM", 0)) or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

# columns of the stats array
HMAX, OUTFLOW, CLIPPED, WET, BAD, ACTIVE, KIN = range(7)
NSTAT = 7
NO_BAD = 1 << 62  # "no unstable cell" in the BAD column (atomic min of flat indices)
FIX = float(1 << 32)  # fixed-point units per m3 of the OUTFLOW and CLIPPED columns (|a step's sum| < 2.1e9 m3)

if SIMULATOR:  # the simulator runs device functions as Python: reinterpret bits with numpy
    def _as_int64(x):
        return int(np.float64(x).view(np.int64))

    def _as_float64(i):
        return float(np.int64(i).view(np.float64))

    def _as_int32(x):
        return np.float32(x).view(np.int32)

    def _as_float32(i):
        return np.int32(i).view(np.float32)

    BLOCK = (4, 4)  # few Python threads per block
else:  # pragma: no cover - needs a GPU
    from numba.cuda import libdevice

    _as_int64 = libdevice.double_as_longlong
    _as_float64 = libdevice.longlong_as_double
    _as_int32 = libdevice.float_as_int
    _as_float32 = libdevice.int_as_float
    BLOCK = (32, 8)  # a warp along a row: coalesced loads

BX, BY = BLOCK
NT = BX * BY

_wall_neighbour = cuda.jit(device=True)(physics.wall_neighbour)
_select_max = cuda.jit(device=True)(physics.select_max)
_new_depth = cuda.jit(device=True)(physics.new_depth)
_point_depth_change = cuda.jit(device=True)(physics.point_depth_change)
_record_cell = cuda.jit(device=True)(physics.make_record_cell(cuda.jit(device=True)(physics.cell_outputs)))


@cuda.jit(device=True)
def _tile(i, ts, tsh):
    """The tile index of row or column ``i``: a shift when the tile size is a power of two (``tsh`` >= 0),
    a division otherwise (a 64-bit division costs tens of instructions per thread)."""
    return (i >> tsh) if tsh >= 0 else i // ts


@cuda.jit(device=True)
def _block_skips(active, tile_valid, rain_all, ts, tsh):
    """Whether this whole block lies inside one tile that is not computed (then it returns at once)."""
    i0 = cuda.blockIdx.y * BY
    j0 = cuda.blockIdx.x * BX
    ti = _tile(i0, ts, tsh)
    tj = _tile(j0, ts, tsh)
    if (ti != _tile(i0 + BY - 1, ts, tsh) or tj != _tile(j0 + BX - 1, ts, tsh) or ti >= active.shape[0]
            or tj >= active.shape[1]):
        return False  # the block spans tiles (tile smaller than a block): decided per thread
    return not (active[ti, tj] or (rain_all and tile_valid[ti, tj]))


@functools.cache
def kernels(dtype: str = "float32", reduce_stats: bool = True) -> SimpleNamespace:
    """The step kernels for a state of ``dtype`` (``"float32"`` or ``"float64"``), compiled on first use.

    ``reduce_stats=False`` builds a ``continuity`` without the block reduction of the step statistics
    (a profiling variant for ``benchmarks/bench_cuda.py``: the stats it leaves are wrong).
    """
    F = np.dtype(dtype).type
    if F is np.float32:
        inv_cbrt = cuda.jit(device=True)(physics.make_inv_cbrt32(_as_int32, _as_float32))
    else:
        inv_cbrt = cuda.jit(device=True)(physics.make_inv_cbrt(_as_int64, _as_float64))
    face_flux = cuda.jit(device=True)(physics.make_face_flux(inv_cbrt, F))
    outgoing_volume = cuda.jit(device=True)(physics.make_outgoing_volume(_select_max, F))
    kinematic_rate = cuda.jit(device=True)(physics.make_kinematic_rate(outgoing_volume, F))
    ZERO = F(0.0)

    @cuda.jit
    def fluxes(z, h, qx, qy, qx_new, qy_new, n, n_uniform, n0, active, ts, tsh, dt, inv_dx, inv_dy, theta, hmin,
               open_bc, s_min, fr_max, v_max, stats, slot):  # pragma: no cover - compiled
        """New fluxes of the east and south faces of every cell of an active tile (old -> new buffers).

        A face velocity |q| / h above ``v_max`` (or a NaN) records the cell's flat index in
        ``stats[slot, BAD]`` (atomic min).
        """
        j, i = cuda.grid(2)
        ny, nx = z.shape
        if i >= ny or j >= nx or not active[_tile(i, ts, tsh), _tile(j, ts, tsh)]:
            return
        zc = z[i, j]
        hc = h[i, j]
        nc = n0 if n_uniform else n[i, j]
        if j + 1 < nx:
            qold = qx[i, j]
            qprev = qx[i, j - 1] if j > 0 else ZERO
            qnext = qx[i, j + 1]
            ne = n0 if n_uniform else n[i, j + 1]
            zm = z[i, j - 1] if j > 0 else zc  # j == 0: zc is the NaN ring, outside
            zp = z[i, j + 2] if j + 2 < nx else z[i, j + 1]
            if not open_bc:
                qprev = _wall_neighbour(qprev, qold, zm != zm)
                qnext = _wall_neighbour(qnext, qold, zp != zp)
            he = h[i, j + 1]
            qn_ = face_flux(qold, qprev, qnext, zm, zc, hc, z[i, j + 1], he, zp, nc, ne, dt, inv_dx, theta, hmin,
                            open_bc, s_min, fr_max)
            qx_new[i, j] = qn_
            if not abs(qn_) <= v_max * (hc if hc > he else he):
                cuda.atomic.min(stats, (slot, BAD), int64(i * nx + j))
        if i + 1 < ny:
            qold = qy[i, j]
            qprev = qy[i - 1, j] if i > 0 else ZERO
            qnext = qy[i + 1, j]
            ns = n0 if n_uniform else n[i + 1, j]
            zm = z[i - 1, j] if i > 0 else zc  # i == 0: zc is the NaN ring, outside
            zp = z[i + 2, j] if i + 2 < ny else z[i + 1, j]
            if not open_bc:
                qprev = _wall_neighbour(qprev, qold, zm != zm)
                qnext = _wall_neighbour(qnext, qold, zp != zp)
            hs = h[i + 1, j]
            qn_ = face_flux(qold, qprev, qnext, zm, zc, hc, z[i + 1, j], hs, zp, nc, ns, dt, inv_dy, theta, hmin,
                            open_bc, s_min, fr_max)
            qy_new[i, j] = qn_
            if not abs(qn_) <= v_max * (hc if hc > hs else hs):
                cuda.atomic.min(stats, (slot, BAD), int64(i * nx + j))

    @cuda.jit
    def limit(z, h, qx, qy, active, ts, tsh, dt, dx, dy):  # pragma: no cover - compiled
        """Scale the outgoing fluxes of a cell that would lose more water than it holds (in place)."""
        j, i = cuda.grid(2)
        ny, nx = z.shape
        if (i < 1 or j < 1 or i >= ny - 1 or j >= nx - 1 or not active[_tile(i, ts, tsh), _tile(j, ts, tsh)]
                or z[i, j] != z[i, j]):
            return
        qe = qx[i, j]
        qw = qx[i, j - 1]
        qs = qy[i, j]
        qn = qy[i - 1, j]
        out = outgoing_volume(qe, qw, qs, qn, dt, dx, dy)
        avail = h[i, j] * dx * dy
        if out > avail and out > ZERO:
            f = avail / out
            if qe > ZERO:
                qx[i, j] = qe * f
            if qw < ZERO:
                qx[i, j - 1] = qw * f
            if qs > ZERO:
                qy[i, j] = qs * f
            if qn < ZERO:
                qy[i - 1, j] = qn * f

    @cuda.jit
    def continuity(z, h, qx, qy, rain, rain_uniform, rain0, rain_scale, active, tile_valid, rain_all, ts, tsh,
                   dt, inv_dx, inv_dy, area, dxd, dyd, neg_tol, t_new, record, dt_rec, hmin, h_arrival, h_vel,
                   fr4g2, max_h, max_speed, max_hv, arrival, duration, t_max, tile_stamp, stamp, stats,
                   slot):  # pragma: no cover - compiled
        """Depth update, running outputs (when ``record``; duration step ``dt_rec``), and the
        block-reduced step statistics.

        Every tile holding a valid cell is updated when ``rain_all`` (rain reaches dry tiles too),
        otherwise only active tiles. A wet cell writes ``stamp`` into its tile's ``tile_stamp``.
        ``area``, ``dxd`` and ``dyd`` are float64 (the volumes are summed in float64, as on the CPU).
        """
        if _block_skips(active, tile_valid, rain_all, ts, tsh):
            return  # the whole block, before any syncthreads
        j, i = cuda.grid(2)
        ny, nx = z.shape
        hmax = ZERO
        outv = 0.0
        clip = 0.0
        wet = 0.0
        kin = ZERO
        ti = _tile(i, ts, tsh)
        tj = _tile(j, ts, tsh)
        if (1 <= i < ny - 1 and 1 <= j < nx - 1 and z[i, j] == z[i, j]
                and (active[ti, tj] or (rain_all and tile_valid[ti, tj]))):
            qe = qx[i, j]
            qw = qx[i, j - 1]
            qs = qy[i, j]
            qn = qy[i - 1, j]
            r = rain0 if rain_uniform else rain0 + F(rain[i, j]) * rain_scale
            h0 = h[i, j]
            hn = _new_depth(h0, qe, qw, qs, qn, r, dt, inv_dx, inv_dy)
            kin = kinematic_rate(h0, qe, qw, qs, qn, hmin, inv_dx, inv_dy)
            # boundary outflow: faces whose other side is outside the domain
            dtd = float64(dt)
            if z[i, j + 1] != z[i, j + 1]:
                outv += float64(qe) * dyd * dtd
            if z[i, j - 1] != z[i, j - 1]:
                outv -= float64(qw) * dyd * dtd
            if z[i + 1, j] != z[i + 1, j]:
                outv += float64(qs) * dxd * dtd
            if z[i - 1, j] != z[i - 1, j]:
                outv -= float64(qn) * dxd * dtd
            if hn < neg_tol:  # kept as it is, for the message (as on the CPU): the run stops here
                cuda.atomic.min(stats, (slot, BAD), int64(i * nx + j))
            elif hn < ZERO:  # rounding
                clip = -float64(hn) * area
                hn = ZERO
            elif hn != hn:
                cuda.atomic.min(stats, (slot, BAD), int64(i * nx + j))
            h[i, j] = hn
            hmax = hn
            if _record_cell(i, j, hn, qe, qw, qs, qn, record, dt_rec, t_new, hmin, h_arrival, h_vel, fr4g2,
                            max_h, max_speed, max_hv, arrival, duration, t_max):
                wet = 1.0
                tile_stamp[ti, tj] = stamp
        if reduce_stats:
            _reduce_stats(stats, slot, float64(hmax), outv, clip, wet, float64(kin))

    return SimpleNamespace(fluxes=fluxes, limit=limit, continuity=continuity, dtype=F)


@cuda.jit(device=True)
def _fixed(v):
    """A volume (m3) in the fixed point of the stats array (rounded to the nearest unit)."""
    return int64(math.floor(v * FIX + 0.5))


@cuda.jit(device=True)
def _reduce_stats(stats, slot, hmax, outv, clip, wet, kin):  # pragma: no cover - compiled
    """Block reduction of one thread's step figures into ``stats[slot]``: a fixed-order tree in shared
    memory, then one integer atomic per block and figure (see the module's docstring), so the result
    does not depend on the order the blocks run in.

    Every thread of the block must call it (it synchronises the block).
    """
    s_hmax = cuda.shared.array(NT, float64)
    s_out = cuda.shared.array(NT, float64)
    s_clip = cuda.shared.array(NT, float64)
    s_wet = cuda.shared.array(NT, float64)
    s_kin = cuda.shared.array(NT, float64)
    tid = cuda.threadIdx.y * BX + cuda.threadIdx.x
    s_hmax[tid] = hmax
    s_out[tid] = outv
    s_clip[tid] = clip
    s_wet[tid] = wet
    s_kin[tid] = kin
    cuda.syncthreads()
    stride = NT // 2
    while stride > 0:
        if tid < stride:
            if s_hmax[tid + stride] > s_hmax[tid]:
                s_hmax[tid] = s_hmax[tid + stride]
            s_out[tid] += s_out[tid + stride]
            s_clip[tid] += s_clip[tid + stride]
            s_wet[tid] += s_wet[tid + stride]
            if s_kin[tid + stride] > s_kin[tid]:
                s_kin[tid] = s_kin[tid + stride]
        cuda.syncthreads()
        stride //= 2
    if tid == 0:
        # the maxima only where they may raise the row's (a stale read costs an atomic, never a wrong max):
        # once the row holds the step's maximum most blocks skip theirs
        m = _as_int64(s_hmax[0])
        if s_hmax[0] > 0.0 and m > stats[slot, HMAX]:
            cuda.atomic.max(stats, (slot, HMAX), m)
        if s_out[0] != 0.0:
            cuda.atomic.add(stats, (slot, OUTFLOW), _fixed(s_out[0]))
        if s_clip[0] != 0.0:
            cuda.atomic.add(stats, (slot, CLIPPED), _fixed(s_clip[0]))
        if s_wet[0] != 0.0:
            cuda.atomic.add(stats, (slot, WET), int64(s_wet[0]))
        m = _as_int64(s_kin[0])
        if s_kin[0] > 0.0 and m > stats[slot, KIN]:
            cuda.atomic.max(stats, (slot, KIN), m)


@cuda.jit
def update_active(tile_stamp, stamp, forced, tile_valid, active, qx, qy, qx2, qy2, ts, stats, slot):  # pragma: no cover
    """Active = wet or forced, dilated by one tile, and holding a valid cell; zero both flux buffers
    of tiles that fall dry.

    Counts active tiles into ``stats[slot, ACTIVE]`` and clears the other row of ``stats`` for the
    next step.
    """
    tx, ty = cuda.grid(2)
    nty, ntx = active.shape
    if tx == 0 and ty == 0:
        for k in range(NSTAT):
            stats[1 - slot, k] = 0
        stats[1 - slot, BAD] = NO_BAD
    if ty >= nty or tx >= ntx:
        return
    a = False
    for dy_ in range(-1, 2):
        for dx_ in range(-1, 2):
            yy = ty + dy_
            xx = tx + dx_
            if 0 <= yy < nty and 0 <= xx < ntx and (tile_stamp[yy, xx] == stamp or forced[yy, xx]):
                a = True
    a = a and tile_valid[ty, tx]
    if active[ty, tx] and not a:
        ny, nx = qx.shape
        for i in range(ty * ts, ty * ts + ts if ty * ts + ts < ny else ny):
            for j in range(tx * ts, tx * ts + ts if tx * ts + ts < nx else nx):
                qx[i, j] = 0.0
                qy[i, j] = 0.0
                qx2[i, j] = 0.0
                qy2[i, j] = 0.0
    active[ty, tx] = a
    if a:
        cuda.atomic.add(stats, (slot, ACTIVE), 1)


@cuda.jit
def add_point_volume(h, rows, cols, volume_per_cell, area, moved):  # pragma: no cover - compiled
    """Add ``volume_per_cell`` (m3, may be negative) to each listed cell; the volume each moved goes to
    ``moved[k]`` (the host sums them in a fixed order).

    Withdrawals never take more than a cell holds. Listed cells are distinct.
    """
    k = cuda.grid(1)
    if k >= rows.shape[0]:
        return
    dh = _point_depth_change(h[rows[k], cols[k]], volume_per_cell, area)
    h[rows[k], cols[k]] += dh
    moved[k] = dh * area


@cuda.jit
def impose_stage(z, h, rows, cols, stage_m, area, moved):  # pragma: no cover - compiled
    """Set the water level of boundary cells to ``stage_m`` (never below the bed); the volume each cell
    gained goes to ``moved[k]``."""
    k = cuda.grid(1)
    if k >= rows.shape[0]:
        return
    i = rows[k]
    j = cols[k]
    hn = stage_m - z[i, j]
    if hn < 0.0:
        hn = 0.0
    moved[k] = (hn - h[i, j]) * area
    h[i, j] = hn


@cuda.jit
def stored_volume(z, h, area, partial):  # pragma: no cover - compiled
    """Depth x area over the valid cells of each block into ``partial[block]`` (float64, a fixed-order tree;
    the host sums the blocks' partials in a fixed order, so the result is the same every run)."""
    s = cuda.shared.array(NT, float64)
    j, i = cuda.grid(2)
    ny, nx = z.shape
    v = 0.0
    if i < ny and j < nx and z[i, j] == z[i, j]:
        v = h[i, j] * area
    tid = cuda.threadIdx.y * BX + cuda.threadIdx.x
    s[tid] = v
    cuda.syncthreads()
    stride = NT // 2
    while stride > 0:
        if tid < stride:
            s[tid] += s[tid + stride]
        cuda.syncthreads()
        stride //= 2
    if tid == 0:
        partial[cuda.blockIdx.y * cuda.gridDim.x + cuda.blockIdx.x] = s[0]


def tile_shift(ts: int) -> int:
    """log2 of the tile size when it is a power of two, else -1 (the kernels then divide)."""
    return ts.bit_length() - 1 if ts > 0 and ts & (ts - 1) == 0 else -1


def grid2d(ny: int, nx: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Launch configuration covering an (ny, nx) array with ``BLOCK`` threads (x along columns)."""
    return (math.ceil(nx / BX), math.ceil(ny / BY)), BLOCK
