"""Numba kernels of the local-inertial shallow-water scheme (CPU backend).

The scheme is the local-inertial approximation of Bates, Horritt & Fewtrell (2010), "A simple
inertial formulation of the shallow water equations for efficient two-dimensional flood inundation
modelling", J. Hydrol. 387, 33-45, with the theta-weighted flux of de Almeida, Bates, Freer &
Souvignet (2012), "Improving the stability of a simple formulation of the shallow water equations
for 2-D flood modeling", Water Resour. Res. 48, W05528. Manning friction is semi-implicit
(Bates et al. 2010, eq. 11). The flow depth at a face is max(eta) - max(z) (Bates et al. 2010), so a
lake at rest stays at rest over any terrain (well-balanced).

Layout (all arrays share one padded shape ``(NY, NX)``; a ring of NaN cells surrounds the domain
so that every boundary is a face between a valid cell and a NaN cell):

- ``z``  bed elevation, NaN outside the domain;
- ``h``  water depth at cell centres;
- ``qx`` unit discharge (m2/s) through the east face of cell (i, j), i.e. between (i, j) and (i, j+1);
- ``qy`` unit discharge through the south face, between (i, j) and (i+1, j) (row index grows south).

Work is organised in square tiles of ``ts`` cells; ``active[ty, tx]`` says whether a tile is
computed. A tile is active when it or one of its 8 neighbours holds a wet cell (1-tile halo), so a
dry tile is skipped and the work follows the wet area. Parallelism is over tile rows.

These functions are pure: arrays in, arrays out, no I/O, no classes.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from . import physics

G = physics.G


@intrinsic
def _as_int64(typingctx, x):
    """Reinterpret the bits of a float64 as an int64 (no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _as_float64(typingctx, i):
    """Reinterpret the bits of an int64 as a float64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


# The formulas live in physics.py, shared with the CUDA kernels (core_cuda.py); inlined here.
# libm's cbrt took two thirds of the flux kernel's time, hence the bit-pattern inverse cube root.
_inv_cbrt = njit(cache=True, inline="always")(physics.make_inv_cbrt(_as_int64, _as_float64))
_face_flux = njit(cache=True, inline="always", error_model="numpy")(physics.make_face_flux(_inv_cbrt))
_wall_neighbour = njit(cache=True, inline="always")(physics.wall_neighbour)
_outgoing_volume = njit(cache=True, inline="always")(physics.make_outgoing_volume(max))
_new_depth = njit(cache=True, inline="always")(physics.new_depth)
_record_cell = njit(cache=True, inline="always")(physics.record_cell)


@njit(cache=True, parallel=True)
def save_block_edges(qy, ts, top_old, bot_old):  # pragma: no cover - numba
    """Copy the old ``qy`` rows just outside each tile row (needed by the theta weighting)."""
    ny, nx = qy.shape
    nty = top_old.shape[0]
    for ty in prange(nty):
        i0 = ty * ts
        i1 = min(i0 + ts, ny)
        for j in range(nx):
            top_old[ty, j] = qy[i0 - 1, j] if i0 > 0 else 0.0
            bot_old[ty, j] = qy[i1, j] if i1 < ny else 0.0


@njit(cache=True, parallel=True, error_model="numpy")
def compute_fluxes(z, h, qx, qy, n, n_uniform, n0, active, ts, top_old, bot_old,
                   dt, dx, dy, theta, hmin, open_bc, s_min, fr_max, v_max, blk_bad):  # pragma: no cover - numba
    """Update ``qx`` and ``qy`` in place on active tiles.

    The theta weighting needs the *old* neighbour fluxes along the flux direction: each row's old
    ``qx`` and ``qy`` are copied to line buffers before the row is updated, the old ``qy`` of the row
    above is carried, and the rows beyond a tile row come from ``top_old`` / ``bot_old``. A closed
    wall beyond a neighbour face takes no part in the weighting (q itself is used there), else it
    would bleed flux out of the edge face of a steady flow. A face velocity |q| / h above
    ``v_max`` (or a NaN) marks the tile row's first such cell in ``blk_bad``.
    """
    ny, nx = z.shape
    nty, ntx = active.shape
    inv_dx = 1.0 / dx
    inv_dy = 1.0 / dy
    for ty in prange(nty):
        blk_bad[ty] = -1
        any_active = False
        for tx in range(ntx):
            any_active = any_active or active[ty, tx]
        if not any_active:
            continue
        i0 = ty * ts
        i1 = min(i0 + ts, ny)
        above = top_old[ty].copy()  # old qy of the row above the current row
        oldx = np.empty(nx, qx.dtype)
        oldy = np.empty(nx, qy.dtype)
        nviol = 0
        for i in range(i0, i1):
            for j in range(nx):
                oldx[j] = qx[i, j]
                oldy[j] = qy[i, j]
            for tx in range(ntx):
                if not active[ty, tx]:
                    continue
                j0 = tx * ts
                j1 = min(j0 + ts, nx)
                # x faces (east of cell j), j = 0 .. nx-2
                for j in range(j0, min(j1, nx - 1)):
                    q = oldx[j]
                    qp = oldx[j - 1] if j > 0 else 0.0
                    qn = oldx[j + 1]
                    if not open_bc:
                        qp = _wall_neighbour(qp, q, j == 0 or z[i, j - 1] != z[i, j - 1])
                        qn = _wall_neighbour(qn, q, j + 2 >= nx or z[i, j + 2] != z[i, j + 2])
                    nl = n0 if n_uniform else n[i, j]
                    nr = n0 if n_uniform else n[i, j + 1]
                    hl = h[i, j]
                    hr = h[i, j + 1]
                    res = _face_flux(q, qp, qn, z[i, j], hl, z[i, j + 1], hr, nl, nr, dt, inv_dx, theta, hmin,
                                     open_bc, s_min, fr_max)
                    qx[i, j] = res
                    nviol += 0 if abs(res) <= v_max * max(hl, hr) else 1
                # y faces (south of cell (i, j)), i = 0 .. ny-2
                if i + 1 < ny:
                    for j in range(j0, j1):
                        q = oldy[j]
                        qp = above[j]
                        qn = qy[i + 1, j] if i + 1 < i1 else bot_old[ty, j]
                        if not open_bc:
                            qp = _wall_neighbour(qp, q, i == 0 or z[i - 1, j] != z[i - 1, j])
                            qn = _wall_neighbour(qn, q, i + 2 >= ny or z[i + 2, j] != z[i + 2, j])
                        nl = n0 if n_uniform else n[i, j]
                        nr = n0 if n_uniform else n[i + 1, j]
                        hl = h[i, j]
                        hr = h[i + 1, j]
                        res = _face_flux(q, qp, qn, z[i, j], hl, z[i + 1, j], hr, nl, nr, dt, inv_dy, theta, hmin,
                                         open_bc, s_min, fr_max)
                        qy[i, j] = res
                        nviol += 0 if abs(res) <= v_max * max(hl, hr) else 1
            above, oldy = oldy, above
        if nviol > 0:  # rare: find the first offending cell
            for i in range(i0, min(i1, ny - 1)):
                for j in range(nx - 1):
                    if not (abs(qx[i, j]) <= v_max * max(h[i, j], h[i, j + 1])) or \
                            not (abs(qy[i, j]) <= v_max * max(h[i, j], h[i + 1, j])):
                        if blk_bad[ty] < 0:
                            blk_bad[ty] = i * nx + j


@njit(cache=True, parallel=True, error_model="numpy")
def limit_outflow(z, h, qx, qy, active, ts, dt, dx, dy):  # pragma: no cover - numba
    """Scale the outgoing fluxes of a cell that would lose more water than it holds.

    Each face has one donor cell (the one it flows out of) and only the donor rescales it, so
    the pass is race-free and exactly conservative; depths can no longer go negative.
    """
    ny, nx = z.shape
    nty, ntx = active.shape
    for ty in prange(nty):
        i0 = ty * ts
        i1 = min(i0 + ts, ny)
        for tx in range(ntx):
            if not active[ty, tx]:
                continue
            j0 = tx * ts
            j1 = min(j0 + ts, nx)
            for i in range(max(i0, 1), min(i1, ny - 1)):
                for j in range(max(j0, 1), min(j1, nx - 1)):
                    if z[i, j] != z[i, j]:
                        continue
                    qe = qx[i, j]
                    qw = qx[i, j - 1]
                    qs = qy[i, j]
                    qn = qy[i - 1, j]
                    out = _outgoing_volume(qe, qw, qs, qn, dt, dx, dy)
                    avail = h[i, j] * dx * dy
                    if out > avail and out > 0.0:
                        f = avail / out
                        if qe > 0.0:
                            qx[i, j] = qe * f
                        if qw < 0.0:
                            qx[i, j - 1] = qw * f
                        if qs > 0.0:
                            qy[i, j] = qs * f
                        if qn < 0.0:
                            qy[i - 1, j] = qn * f


@njit(cache=True, parallel=True, error_model="numpy")
def update_depth(z, h, qx, qy, rain, rain_uniform, rain0, rain_scale, active, tile_valid, tile_edge, rain_all, ts, dt, dx, dy, t_new,
                 hmin, h_arrival, h_vel,
                 max_h, max_speed, max_hv, arrival, duration, t_max,
                 tile_wet, tile_vol, blk_hmax, blk_vol, blk_out, blk_clip, blk_wet, blk_bad):  # pragma: no cover
    """Continuity (Bates et al. 2010 eq. 5) plus rain, running maxima, and per-tile-row statistics.

    ``rain`` holds the net rate as integer codes of ``rain_scale`` m/s (uint16, 2 bytes per cell);
    a uniform rate is the scalar ``rain0`` (m/s) instead. The cell speed is the centred unit
    discharge over max(h, ``h_vel``), so a just-wetted cell does not report a spurious speed. When ``rain_all`` every
    tile holding a valid cell (``tile_valid``) is updated (rain reaches dry tiles too); otherwise
    only active ones. Statistics per tile
    row (so sums are deterministic): max depth, stored volume (``tile_vol`` keeps each tile's, so a
    skipped tile is not re-read), boundary outflow volume, clipped
    negative volume, wet-cell count, and the flat index of the first unstable cell (-1 if none).
    """
    ny, nx = z.shape
    nty, ntx = active.shape
    area = dx * dy
    inv_dx = 1.0 / dx
    inv_dy = 1.0 / dy
    for ty in prange(nty):
        i0 = ty * ts
        i1 = min(i0 + ts, ny)
        hmax = 0.0
        vol = 0.0
        outv = 0.0
        clip = 0.0
        nwet = 0
        bad = -1
        for tx in range(ntx):
            j0 = tx * ts
            j1 = min(j0 + ts, nx)
            if not (active[ty, tx] or (rain_all and tile_valid[ty, tx])):
                # a skipped tile has no flux through it, so its depths and volume are unchanged
                vol += tile_vol[ty, tx]
                continue
            wet = False
            tv = 0.0
            edge = tile_edge[ty, tx]
            for i in range(max(i0, 1), min(i1, ny - 1)):
                for j in range(max(j0, 1), min(j1, nx - 1)):
                    if z[i, j] != z[i, j]:
                        continue
                    qe = qx[i, j]
                    qw = qx[i, j - 1]
                    qs = qy[i, j]
                    qn = qy[i - 1, j]
                    r = rain0 if rain_uniform else rain[i, j] * rain_scale
                    hn = _new_depth(h[i, j], qe, qw, qs, qn, r, dt, inv_dx, inv_dy)
                    # boundary outflow: faces whose other side is outside the domain
                    if edge:
                        if z[i, j + 1] != z[i, j + 1]:
                            outv += qe * dy * dt
                        if z[i, j - 1] != z[i, j - 1]:
                            outv -= qw * dy * dt
                        if z[i + 1, j] != z[i + 1, j]:
                            outv += qs * dx * dt
                        if z[i - 1, j] != z[i - 1, j]:
                            outv -= qn * dx * dt
                    if hn < 0.0:
                        if hn < -1e-3 and bad < 0:
                            bad = i * nx + j
                        clip -= hn * area
                        hn = 0.0
                    elif hn != hn and bad < 0:
                        bad = i * nx + j
                    h[i, j] = hn
                    tv += hn * area
                    if hn > hmax:
                        hmax = hn
                    if _record_cell(i, j, hn, qe, qw, qs, qn, dt, t_new, hmin, h_arrival, h_vel,
                                    max_h, max_speed, max_hv, arrival, duration, t_max):
                        wet = True
                        nwet += 1
            tile_wet[ty, tx] = wet
            tile_vol[ty, tx] = tv
            vol += tv
        blk_hmax[ty] = hmax
        blk_vol[ty] = vol
        blk_out[ty] = outv
        blk_clip[ty] = clip
        blk_wet[ty] = nwet
        blk_bad[ty] = bad


@njit(cache=True)
def update_active(tile_wet, forced, tile_valid, active, qx, qy, ts):  # pragma: no cover - numba
    """Active = wet or forced, dilated by one tile, and holding a valid cell; zero the fluxes of
    tiles that fall dry.

    Returns the number of active tiles.
    """
    nty, ntx = tile_wet.shape
    ny, nx = qx.shape
    count = 0
    for ty in range(nty):
        for tx in range(ntx):
            a = False
            for dy_ in range(-1, 2):
                for dx_ in range(-1, 2):
                    yy = ty + dy_
                    xx = tx + dx_
                    if 0 <= yy < nty and 0 <= xx < ntx and (tile_wet[yy, xx] or forced[yy, xx]):
                        a = True
            a = a and tile_valid[ty, tx]
            if active[ty, tx] and not a:
                for i in range(ty * ts, min(ty * ts + ts, ny)):
                    for j in range(tx * ts, min(tx * ts + ts, nx)):
                        qx[i, j] = 0.0
                        qy[i, j] = 0.0
            active[ty, tx] = a
            if a:
                count += 1
    return count


@njit(cache=True)
def add_point_volume(z, h, rows, cols, volume_per_cell, area):  # pragma: no cover - numba
    """Add ``volume_per_cell`` (m3, may be negative) to each listed cell; return the volume added.

    Withdrawals never take more than a cell holds, so the returned volume is what really moved.
    """
    total = 0.0
    for k in range(rows.shape[0]):
        i = rows[k]
        j = cols[k]
        dh = volume_per_cell / area
        if h[i, j] + dh < 0.0:
            dh = -h[i, j]
        h[i, j] += dh
        total += dh * area
    return total


@njit(cache=True)
def impose_stage(z, h, rows, cols, stage_m, area):  # pragma: no cover - numba
    """Set the water level of boundary cells to ``stage_m`` (never below the bed); return the volume added."""
    total = 0.0
    for k in range(rows.shape[0]):
        i = rows[k]
        j = cols[k]
        hn = max(stage_m - z[i, j], 0.0)
        total += (hn - h[i, j]) * area
        h[i, j] = hn
    return total


@njit(cache=True, parallel=True)
def max_wet_depth(h, z):  # pragma: no cover - numba
    """Largest depth over valid cells (for the first time step)."""
    ny, nx = h.shape
    m = np.zeros(ny)
    for i in prange(ny):
        for j in range(nx):
            if z[i, j] == z[i, j] and h[i, j] > m[i]:
                m[i] = h[i, j]
    return m.max()


@njit(cache=True, parallel=True)
def tile_volumes(z, h, ts, tile_vol, dx, dy):  # pragma: no cover - numba
    """Stored volume per tile, summed in the same order as :func:`update_depth`."""
    ny, nx = z.shape
    nty, ntx = tile_vol.shape
    area = dx * dy
    for ty in prange(nty):
        i0 = ty * ts
        i1 = min(i0 + ts, ny)
        for tx in range(ntx):
            j0 = tx * ts
            j1 = min(j0 + ts, nx)
            tv = 0.0
            for i in range(max(i0, 1), min(i1, ny - 1)):
                for j in range(max(j0, 1), min(j1, nx - 1)):
                    if z[i, j] == z[i, j]:
                        tv += h[i, j] * area
            tile_vol[ty, tx] = tv
