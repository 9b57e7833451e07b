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
dry tile is skipped and the work follows the wet area. Parallelism is over tile rows; within a tile
row the kernels walk each row over the maximal runs of active tiles (``spans``, rebuilt by
:func:`update_active`).

Speed rules (checked on the generated code, see BENCHMARKS.md): every float scalar comes in the
state's dtype and the physics is compiled once per dtype (a Python float constant would promote
float32 arithmetic to float64); the inner loops run over 1-D slices indexed from 0 (with ``j - 1``
indices numba's negative-index wrap-around blocks LLVM's loop vectoriser) and are select-only;
fastmath without 'nnan'/'ninf' (outside cells are NaN and tested with ``z != z``); no int64 or
float64 value inside a float32 loop (a counter, a promoted uint16): LLVM sizes the SIMD width by the
widest type and halves it (4 lanes instead of 8, 1.16x on the 5 m sample), so reductions are bool
flags or float32 row partial sums.

These functions are pure: arrays in, arrays out, no I/O, no classes.
"""

from __future__ import annotations

import warnings

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core.errors import NumbaIRAssumptionWarning
from numba.extending import intrinsic, overload

from . import physics

# numba's pedantic SSA check warns about the selects of the inlined physics (harmless, compile time only)
warnings.filterwarnings("ignore", category=NumbaIRAssumptionWarning)

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


@intrinsic
def _as_int32(typingctx, x):
    """Reinterpret the bits of a float32 as an int32 (no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def _as_float32(typingctx, i):
    """Reinterpret the bits of an int32 as a float32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


# fastmath without 'nnan' / 'ninf': cells outside the domain are NaN and tested with z != z.
# 'reassoc' only where no well-balanced difference is formed (it would let LLVM regroup
# (zr + hr) - (zl + hl)); the depth pass needs it to vectorise its sums.
FM_FLUX = {"contract", "arcp", "nsz", "afn"}
FM_DEPTH = {"contract", "arcp", "nsz", "afn", "reassoc"}

# The formulas live in physics.py, shared with the CUDA kernels (core_cuda.py); inlined here, once
# per state dtype so that a float32 state computes in float32 (twice the SIMD width of float64).
# libm's cbrt took two thirds of the flux kernel's time, hence the bit-pattern inverse cube roots.
_point_depth_change = njit(cache=True, inline="always")(physics.point_depth_change)
_inv_cbrt64 = njit(cache=True, inline="always")(physics.make_inv_cbrt(_as_int64, _as_float64))
_inv_cbrt32 = njit(cache=True, inline="always")(physics.make_inv_cbrt32(_as_int32, _as_float32))
_face_flux64 = njit(cache=True, inline="always", error_model="numpy")(physics.make_face_flux(_inv_cbrt64, np.float64))
_face_flux32 = njit(cache=True, inline="always", error_model="numpy")(physics.make_face_flux(_inv_cbrt32, np.float32))
_face_flux64_in = njit(cache=True, inline="always", error_model="numpy")(
    physics.make_face_flux(_inv_cbrt64, np.float64, interior=True))
_face_flux32_in = njit(cache=True, inline="always", error_model="numpy")(
    physics.make_face_flux(_inv_cbrt32, np.float32, interior=True))
_wall_neighbour = njit(cache=True, inline="always")(physics.wall_neighbour)
_select_max = njit(cache=True)(physics.select_max)  # LLVM inlines it; numba-level inlining warns
_outgoing_volume64 = njit(cache=True, inline="always")(physics.make_outgoing_volume(_select_max, np.float64))
_outgoing_volume32 = njit(cache=True, inline="always")(physics.make_outgoing_volume(_select_max, np.float32))
_kinematic_rate64 = njit(cache=True, inline="always")(physics.make_kinematic_rate(_outgoing_volume64, np.float64))
_kinematic_rate32 = njit(cache=True, inline="always")(physics.make_kinematic_rate(_outgoing_volume32, np.float32))
_new_depth = njit(cache=True, inline="always")(physics.new_depth)
_cell_outputs = njit(cache=True, inline="always")(physics.cell_outputs)


def _face_flux_by_dtype(impl32, impl64, what):
    """A dispatcher to the float32 or float64 build of a face function (numba only), by the depth's type."""

    def dispatch(q, qp, qn, zm, zl, hl, zr, hr, zp, nl, nr, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max):
        raise NotImplementedError

    @overload(dispatch, inline="always")
    def _ov(q, qp, qn, zm, zl, hl, zr, hr, zp, nl, nr, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max):
        impl = impl32 if hl == types.float32 else impl64

        def f(q, qp, qn, zm, zl, hl, zr, hr, zp, nl, nr, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max):
            return impl(q, qp, qn, zm, zl, hl, zr, hr, zp, nl, nr, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max)
        return f

    dispatch.__doc__ = f"Dispatch to the float32 or float64 build of {what} (numba only)."
    return dispatch


_face_flux = _face_flux_by_dtype(_face_flux32, _face_flux64, ":func:`physics.face_flux`")
_face_flux_in = _face_flux_by_dtype(_face_flux32_in, _face_flux64_in, "the interior :func:`physics.face_flux`")


def _outgoing_volume(qe, qw, qs, qn, dt, dx, dy):
    """Dispatch to the float32 or float64 build of :func:`physics.outgoing_volume` (numba only)."""
    raise NotImplementedError


@overload(_outgoing_volume, inline="always")
def _outgoing_volume_ov(qe, qw, qs, qn, dt, dx, dy):
    impl = _outgoing_volume32 if qe == types.float32 else _outgoing_volume64

    def f(qe, qw, qs, qn, dt, dx, dy):
        return impl(qe, qw, qs, qn, dt, dx, dy)
    return f


def _kinematic_rate(h, qe, qw, qs, qn, hmin, inv_dx, inv_dy):
    """Dispatch to the float32 or float64 build of :func:`physics.make_kinematic_rate` (numba only)."""
    raise NotImplementedError


@overload(_kinematic_rate, inline="always")
def _kinematic_rate_ov(h, qe, qw, qs, qn, hmin, inv_dx, inv_dy):
    impl = _kinematic_rate32 if h == types.float32 else _kinematic_rate64

    def f(h, qe, qw, qs, qn, hmin, inv_dx, inv_dy):
        return impl(h, qe, qw, qs, qn, hmin, inv_dx, inv_dy)
    return f


@njit(cache=True, inline="always", error_model="numpy", fastmath=FM_FLUX)
def _flux_at(q, qp, qn, zm, zp, closed, zl, hl, zr, hr, nl, nr, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max):
    """One face's new flux; ``zm`` / ``zp`` are the beds before ``l`` and after ``r`` (NaN outside the
    domain: a closed wall there takes no part in the theta weighting, an open edge reads their slope)."""
    return _face_flux(q, _wall_neighbour(qp, q, (zm != zm) & closed), _wall_neighbour(qn, q, (zp != zp) & closed),
                      zm, zl, hl, zr, hr, zp, nl, nr, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max)


@njit(cache=True, inline="always", error_model="numpy", fastmath=FM_FLUX)
def _flux_in(q, qp, qn, zm, zp, closed, zl, hl, zr, hr, nl, nr, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max):
    """:func:`_flux_at` for a face of an inner tile: both cells and the cells beyond them are inside
    the domain, so no wall and no boundary face (the same result, without their selects)."""
    return _face_flux_in(q, qp, qn, zm, zl, hl, zr, hr, zp, nl, nr, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max)


def _make_face_rows(flux):
    """The vectorised loops over one row's x faces and y faces, around ``flux`` (:func:`_flux_at`,
    or :func:`_flux_in` on inner tiles). Each returns whether a face broke the speed check."""

    @njit(cache=True, inline="always", error_model="numpy", fastmath=FM_FLUX)
    def x_faces(zc, hc, nc, oldx, qxr, ja, jl, closed, dt, inv_dx, theta, hmin, open_bc, s_min, fr_max, v_max):
        # sliced views indexed from 0: numba's negative-index wrap-around then folds away and LLVM
        # vectorises the loop (it does not with j - 1 indices)
        zm_, z0, z1, zp_ = zc[ja - 1:jl - 1], zc[ja:jl], zc[ja + 1:jl + 1], zc[ja + 2:jl + 2]
        h0, h1, n0, n1 = hc[ja:jl], hc[ja + 1:jl + 1], nc[ja:jl], nc[ja + 1:jl + 1]
        om, o0, o1, out = oldx[ja - 1:jl - 1], oldx[ja:jl], oldx[ja + 1:jl + 1], qxr[ja:jl]
        viol = False
        for k in range(jl - ja):
            q = o0[k]
            hl = h0[k]
            hr = h1[k]
            res = flux(q, om[k], o1[k], zm_[k], zp_[k], closed, z0[k], hl, z1[k], hr, n0[k], n1[k], dt, inv_dx, theta,
                       hmin, open_bc, s_min, fr_max)
            out[k] = res
            viol |= not (abs(res) <= v_max * (hl if hl > hr else hr))
        return viol

    @njit(cache=True, inline="always", error_model="numpy", fastmath=FM_FLUX)
    def y_faces(zu2, zc, zd, zd2, hc, hd, nc, nd, above, oldy, nxt, qyr, a, b, closed, dt, inv_dy, theta, hmin,
                open_bc, s_min, fr_max, v_max):
        zu_, z0, zd_, zd2_ = zu2[a:b], zc[a:b], zd[a:b], zd2[a:b]
        h0, h1, n0, n1 = hc[a:b], hd[a:b], nc[a:b], nd[a:b]
        oa, o0, on, out = above[a:b], oldy[a:b], nxt[a:b], qyr[a:b]
        viol = False
        for k in range(b - a):
            q = o0[k]
            hl = h0[k]
            hr = h1[k]
            res = flux(q, oa[k], on[k], zu_[k], zd2_[k], closed, z0[k], hl, zd_[k], hr, n0[k], n1[k], dt, inv_dy,
                       theta, hmin, open_bc, s_min, fr_max)
            out[k] = res
            viol |= not (abs(res) <= v_max * (hl if hl > hr else hr))
        return viol

    return x_faces, y_faces


_x_faces, _y_faces = _make_face_rows(_flux_at)
_x_faces_in, _y_faces_in = _make_face_rows(_flux_in)


@njit(cache=True, inline="always")
def _segment_end(tile_code, ty, ts, j, jl, mask):
    """End of the run of tiles, from column ``j`` up to ``jl``, whose ``tile_code & mask`` equals ``j``'s
    tile's (the code is ``level << 1 | inner``: the mask -1 splits by both, ``LEVEL_MASK`` by level)."""
    code = tile_code[ty, j // ts] & mask
    e = min((j // ts + 1) * ts, jl)
    while e < jl and (tile_code[ty, e // ts] & mask) == code:
        e = min(e + ts, jl)
    return e


LEVEL_MASK = ~1  # the level bits of a tile code


@njit(cache=True, parallel=True)
def save_block_edges(qy, ts, spans, nspan, top_old, bot_old):  # pragma: no cover - numba
    """Copy the old ``qy`` rows just outside each tile row (needed by the theta weighting), over the
    active column spans of the tile row."""
    ny, nx = qy.shape
    nty = top_old.shape[0]
    for ty in prange(nty):
        i0 = ty * ts
        i1 = min(i0 + ts, ny)
        for s in range(nspan[ty]):
            for j in range(spans[ty, s, 0], spans[ty, s, 1]):
                top_old[ty, j] = qy[i0 - 1, j] if i0 > 0 else 0.0
                bot_old[ty, j] = qy[i1, j] if i1 < ny else 0.0


@njit(cache=True, inline="always", error_model="numpy", fastmath=FM_FLUX)
def _limit_row(zr, hr, qxr, qys, qyn, fbuf, a, b, dt, dx, dy, one):
    """Outflow limiter on cells ``a .. b-1`` of one row (``qys`` / ``qyn``: its south / north faces).

    Each cell's factor (``h dx dy / out`` when it would send out more than it holds) goes to
    ``fbuf``; then each face is scaled by its donor's factor. Race-free and exactly conservative
    (see :func:`physics.make_outgoing_volume`); both loops are select-only and vectorise.
    """
    area = dx * dy
    nlim = False  # a bool reduction: an int64 counter would halve the loop's SIMD width
    m = b - a
    z0, h0, qe_, qw_, qs_, qn_, f0 = zr[a:b], hr[a:b], qxr[a:b], qxr[a - 1:b - 1], qys[a:b], qyn[a:b], fbuf[a:b]
    for k in range(m):  # sliced views from 0: vectorises (see compute_fluxes)
        out = _outgoing_volume(qe_[k], qw_[k], qs_[k], qn_[k], dt, dx, dy)
        avail = h0[k] * area
        zz = z0[k]
        lim = (out > avail) & (out > 0.0) & (zz == zz)
        f = avail / out
        f0[k] = f if lim else one
        nlim |= lim
    if not nlim:
        return
    fbuf[a - 1] = one
    fbuf[b] = one
    qf, fl, fr = qxr[a - 1:b], fbuf[a - 1:b], fbuf[a:b + 1]
    for k in range(m + 1):
        q = qf[k]
        qf[k] = q * (fl[k] if q > 0.0 else fr[k])
    for k in range(m):
        q = qs_[k]
        qs_[k] = q * f0[k] if q > 0.0 else q
        q = qn_[k]
        qn_[k] = q * f0[k] if q < 0.0 else q


@njit(cache=True, inline="always", error_model="numpy", fastmath=FM_FLUX)
def _limit_row_spans(z, h, qx, qy, r, spans, nspan, ty, fbuf, tile_code, lev_scale, ts, dt, dx, dy, one):
    """The limiter on row ``r`` over the tile row's spans, in runs of one level (each with its step)."""
    ny, nx = z.shape
    if r < 1 or r > ny - 2:
        return
    for s in range(nspan[ty]):
        a = max(spans[ty, s, 0], 1)
        b = min(spans[ty, s, 1], nx - 1)
        j = a
        while j < b:
            e = _segment_end(tile_code, ty, ts, j, b, LEVEL_MASK)
            _limit_row(z[r], h[r], qx[r], qy[r], qy[r - 1], fbuf, j, e, dt * lev_scale[tile_code[ty, j // ts] >> 1],
                       dx, dy, one)
            j = e


@njit(cache=True, parallel=True, error_model="numpy", fastmath=FM_FLUX)
def compute_fluxes(z, h, qx, qy, n, n_uniform, spans, nspan, ts, top_old, bot_old, tile_code, lev_scale,
                   active, k_sub, dt, dx, dy, theta, hmin, open_bc, s_min, fr_max, v_max, blk_bad):  # pragma: no cover - numba
    """Update ``qx`` and ``qy`` in place on the active column spans, then limit outflow.

    Every float scalar must come in the arrays' dtype (the backend casts them), else a float32
    state would compute in float64. The theta weighting needs the *old* neighbour fluxes along the
    flux direction: each row's old ``qx`` and ``qy`` are copied to line buffers before the row is
    updated, the old ``qy`` of the row above is carried, and the rows beyond a tile row come from
    ``top_old`` / ``bot_old``. A closed wall beyond a neighbour face takes no part in the weighting
    (q itself is used there), else it would bleed flux out of the edge face of a steady flow. A face
    velocity |q| / h above ``v_max`` (or a NaN) marks the tile row's first such cell in ``blk_bad``.

    ``tile_code[ty, tx]`` is ``level << 1 | inner``. A tile of level m steps ``dt * lev_scale[m]``
    (``dt * 2**m``, local time stepping; all levels are 0 without it). At substep ``k_sub`` the tiles in
    ``spans`` step; a face between one of them and an active tile that does not step now keeps its flux,
    and a face between two stepping tiles of different levels takes the coarser step, so that a face
    between two levels changes at the coarse rate whichever tile owns it (the scheme then treats east
    and west, north and south alike). On inner tiles (no cell outside
    the domain within 2 cells) the faces take the interior build of the face function, without the
    boundary and wall selects (same result).

    The outflow limiter (:func:`_limit_row`) runs here one row behind the fluxes, once all four
    faces of that row are final; the first row of each tile row, whose north faces belong to the
    tile row above, is left to :func:`limit_first_rows`.
    """
    ny, nx = z.shape
    nty = nspan.shape[0]
    inv_dx = dt / dt / dx
    inv_dy = dt / dt / dy
    one = dt / dt
    zero = dt - dt
    closed = not open_bc
    for ty in prange(nty):
        blk_bad[ty] = -1
        ns = nspan[ty]
        if ns == 0:
            continue
        i0 = ty * ts
        i1 = min(i0 + ts, ny)
        above = top_old[ty].copy()  # old qy of the row above the current row
        oldx = np.zeros(nx, qx.dtype)
        oldy = np.zeros(nx, qy.dtype)
        fbuf = np.ones(nx + 1, qx.dtype)
        nbuf = np.full(nx, n[0, 0])
        viol = False
        for i in range(i0, i1):
            zc = z[i]
            hc = h[i]
            qxr = qx[i]
            qyr = qy[i]
            nc = nbuf if n_uniform else n[i]
            for s in range(ns):
                for j in range(max(spans[ty, s, 0] - 1, 0), min(spans[ty, s, 1] + 1, nx)):
                    oldx[j] = qxr[j]
                    oldy[j] = qyr[j]
            for s in range(ns):
                a = spans[ty, s, 0]
                b = spans[ty, s, 1]
                # x faces (east of cell j), j = 0 .. nx-2; the two edge faces apart (no j-1 / j+2)
                ja = a
                jb = min(b, nx - 1)
                if ja == 0:
                    res = _flux_at(oldx[0], zero, oldx[1], zc[0], zc[2], closed, zc[0], hc[0],
                                   zc[1], hc[1], nc[0], nc[1], dt * lev_scale[tile_code[ty, 0] >> 1], inv_dx, theta, hmin, open_bc, s_min, fr_max)
                    qxr[0] = res
                    viol |= not (abs(res) <= v_max * max(hc[0], hc[1]))
                    ja = 1
                jl = min(jb, nx - 2)
                j = ja
                while j < jl:  # runs of inner / other tiles
                    e = _segment_end(tile_code, ty, ts, j, jl, -1)
                    code = tile_code[ty, j // ts]
                    dts = dt * lev_scale[code >> 1]
                    if code & 1:
                        viol |= _x_faces_in(zc, hc, nc, oldx, qxr, j, e, closed, dts, inv_dx, theta, hmin, open_bc,
                                            s_min, fr_max, v_max)
                    else:
                        viol |= _x_faces(zc, hc, nc, oldx, qxr, j, e, closed, dts, inv_dx, theta, hmin, open_bc,
                                         s_min, fr_max, v_max)
                    j = e
                if jb > jl and jl >= ja:
                    j = nx - 2
                    res = _flux_at(oldx[j], oldx[j - 1], oldx[j + 1], zc[j - 1], zc[j + 1], closed,
                                   zc[j], hc[j], zc[j + 1], hc[j + 1], nc[j], nc[j + 1],
                                   dt * lev_scale[tile_code[ty, j // ts] >> 1], inv_dx, theta, hmin,
                                   open_bc, s_min, fr_max)
                    qxr[j] = res
                    viol |= not (abs(res) <= v_max * max(hc[j], hc[j + 1]))
                c = (a // ts + 1) * ts  # a face between two stepping tiles of different levels takes the coarse step
                while c < b and c + 1 < nx:
                    la_, lb_ = tile_code[ty, c // ts - 1] >> 1, tile_code[ty, c // ts] >> 1
                    if la_ != lb_:
                        viol |= _x_faces(zc, hc, nc, oldx, qxr, c - 1, c, closed, dt * lev_scale[max(la_, lb_)], inv_dx,
                                         theta, hmin, open_bc, s_min, fr_max, v_max)
                    c += ts
                if k_sub > 0 and b < nx - 1 and active[ty, b // ts] and k_sub % (1 << (tile_code[ty, b // ts] >> 1)):
                    qxr[b - 1] = oldx[b - 1]  # the face to a tile that does not step now keeps its flux
                # y faces (south of cell (i, j)), i = 0 .. ny-2
                if i + 1 < ny:
                    zd = z[i + 1]
                    hd = h[i + 1]
                    nd = nbuf if n_uniform else n[i + 1]
                    nxt = qy[i + 1] if i + 1 < i1 else bot_old[ty]
                    zu2 = z[i - 1] if i > 0 else zc  # row 0 is the NaN ring: a wall beyond
                    zd2 = z[i + 2] if i + 2 < ny else zd
                    j = a
                    while j < b:
                        e = _segment_end(tile_code, ty, ts, j, b, -1)
                        code = tile_code[ty, j // ts]
                        dts = dt * lev_scale[code >> 1]
                        if code & 1:
                            viol |= _y_faces_in(zu2, zc, zd, zd2, hc, hd, nc, nd, above, oldy, nxt, qyr, j, e, closed,
                                                dts, inv_dy, theta, hmin, open_bc, s_min, fr_max, v_max)
                        else:
                            viol |= _y_faces(zu2, zc, zd, zd2, hc, hd, nc, nd, above, oldy, nxt, qyr, j, e, closed,
                                             dts, inv_dy, theta, hmin, open_bc, s_min, fr_max, v_max)
                        j = e
                    if i == i1 - 1 and ty + 1 < nty:  # the faces to the tile row below
                        for tx in range(a // ts, (b - 1) // ts + 1):
                            if not active[ty + 1, tx]:
                                continue
                            c0, c1 = max(tx * ts, a), min(tx * ts + ts, b)
                            la_, lb_ = tile_code[ty, tx] >> 1, tile_code[ty + 1, tx] >> 1
                            if k_sub % (1 << lb_):  # that tile does not step now: the faces keep their flux
                                for jj in range(c0, c1):
                                    qyr[jj] = oldy[jj]
                            elif la_ != lb_:  # both step: the coarse step
                                viol |= _y_faces(zu2, zc, zd, zd2, hc, hd, nc, nd, above, oldy, nxt, qyr, c0, c1, closed,
                                                 dt * lev_scale[max(la_, lb_)], inv_dy, theta, hmin, open_bc, s_min,
                                                 fr_max, v_max)
            above, oldy = oldy, above
            if i - 1 > i0:
                _limit_row_spans(z, h, qx, qy, i - 1, spans, nspan, ty, fbuf, tile_code, lev_scale, ts, dt, dx, dy, one)
        if i1 - 1 > i0:
            _limit_row_spans(z, h, qx, qy, i1 - 1, spans, nspan, ty, fbuf, tile_code, lev_scale, ts, dt, dx, dy, one)
        if viol:  # rare: find the first offending cell
            for i in range(i0, min(i1, ny - 1)):
                for j in range(nx - 1):
                    if not (abs(qx[i, j]) <= v_max * max(h[i, j], h[i, j + 1])) or \
                            not (abs(qy[i, j]) <= v_max * max(h[i, j], h[i + 1, j])):
                        if blk_bad[ty] < 0:
                            blk_bad[ty] = i * nx + j


@njit(cache=True, parallel=True, error_model="numpy", fastmath=FM_FLUX)
def limit_first_rows(z, h, qx, qy, spans, nspan, ts, tile_code, lev_scale, dt, dx, dy):  # pragma: no cover - numba
    """The outflow limiter on the first row of each tile row (after :func:`compute_fluxes`)."""
    ny, nx = z.shape
    nty = nspan.shape[0]
    one = dt / dt
    for ty in prange(nty):
        if nspan[ty] == 0:
            continue
        fbuf = np.ones(nx + 1, qx.dtype)
        _limit_row_spans(z, h, qx, qy, ty * ts, spans, nspan, ty, fbuf, tile_code, lev_scale, ts, dt, dx, dy, one)


@njit(cache=True, inline="always")
def _bad_depth(hn, neg_tol):
    """A depth that stops the run: NaN, or negative beyond rounding (``neg_tol`` < 0)."""
    return (hn < neg_tol) | (hn != hn)


@njit(cache=True, fastmath=True)
def _row_max(a, j0, j1):  # pragma: no cover - numba
    """Largest value of ``a[j0:j1]`` (NaN-free input: depths are checked before)."""
    m = a[j0]
    for j in range(j0 + 1, j1):
        m = a[j] if a[j] > m else m
    return m


@njit(cache=True, parallel=True, error_model="numpy", fastmath=FM_DEPTH)
def update_depth(z, h, qx, qy, rain, rain_uniform, rain0, rain_scale, active, tile_valid, tile_edge, rain_all, ts,
                 tile_code, lev_scale, k_sub, n_sub, dt, dx, dy, t_new, record, dt_rec, hmin, h_arrival, h_vel, fr4g2,
                 max_h, max_speed, max_hv, arrival, duration, t_max,
                 tile_wet, tile_vol, blk_hmax, blk_vol, blk_out, blk_clip, blk_wet, blk_bad, blk_kin,
                 neg_tol, step_stats):  # pragma: no cover
    """Continuity (Bates et al. 2010 eq. 5) plus rain, running maxima, and per-tile-row statistics.

    Float scalars come in the state's dtype (``t_new`` in float32, the accumulators' dtype).
    ``rain`` holds the net rate as integer codes of ``rain_scale`` m/s (uint16, 2 bytes per cell);
    a uniform rate is the scalar ``rain0`` (m/s) instead. The running outputs follow
    :func:`physics.cell_outputs` (select-only, so the row loop vectorises); they are updated only
    when ``record`` (a sampling step), with ``dt_rec`` as the duration step. When ``rain_all`` every
    tile holding a valid cell (``tile_valid``) is updated (rain reaches dry tiles too); otherwise
    only active ones. With local time stepping (``tile_code >> 1``, the tile's level m, see
    :func:`compute_fluxes`) this is substep ``k_sub`` of ``n_sub`` of length ``dt``: a tile of level m
    is updated when ``k_sub`` is a multiple of 2**m, by a step ``dt * lev_scale[m]``, and records its
    outputs at its last update of the cycle. Statistics per tile row (so sums are deterministic, in float64): max depth,
    stored volume (``tile_vol`` keeps each tile's, so a skipped tile is not re-read), boundary
    outflow volume, clipped negative volume, wet-cell count, the flat index of the first
    unstable cell (-1 if none), and the kinematic rate ``blk_kin``: the largest outflow rate per
    unit depth of a cell, ``(out_x / dx + out_y / dy) / h`` (1/s, ``h`` the depth the fluxes came
    from), which bounds the next time step where the Froude cap makes the flux a function of the
    donor's depth (see ``SimulationOptions.kinematic_courant``). The max depth and the kinematic rate
    are only taken when ``step_stats`` (local time stepping takes its steps from :func:`tile_steps`).
    """
    ny, nx = z.shape
    nty, ntx = active.shape
    area = float(dx) * float(dy)
    inv_dx = dt / dt / dx
    inv_dy = dt / dt / dy
    zero = dt - dt
    one = dt / dt
    dxd, dyd = float(dx), float(dy)
    for ty in prange(nty):
        i0 = ty * ts
        i1 = min(i0 + ts, ny)
        hmax = zero
        vol = 0.0
        outv = 0.0
        clip = 0.0
        nwet = 0
        bad = -1
        kin = zero
        # the tiles that step now, in runs of one level along the tile row (first tile, end tile): each
        # row of a run is one loop, so the loop set-up is paid per run, not per tile (it cost as much
        # as the 32 cells of a tile row)
        segs = np.empty((ntx, 2), np.int64)
        nseg = 0
        run_lev = -1
        for tx in range(ntx):
            lev = tile_code[ty, tx] >> 1
            if not (active[ty, tx] or (rain_all and tile_valid[ty, tx])) or k_sub % (1 << lev) != 0:
                # a skipped tile has no flux through it (or waits for its level's next step), so its
                # depths and volume are unchanged
                vol += tile_vol[ty, tx]
                run_lev = -1
                continue
            if lev == run_lev:
                segs[nseg - 1, 1] = tx + 1
            else:
                segs[nseg, 0] = tx
                segs[nseg, 1] = tx + 1
                nseg += 1
                run_lev = lev
        # a tile row where no tile steps now (most of them at the odd substeps) allocates and visits nothing
        w = nx if nseg > 0 else 1
        rbuf = np.zeros(w, rain.dtype)
        kbuf = np.zeros(w, h.dtype)
        colv = np.zeros(w, h.dtype)  # per column of the tile row: its volume (m) and wet cells
        colw = np.zeros(w, h.dtype)
        for i in range(max(i0, 1), min(i1, ny - 1) if nseg > 0 else 0):
            zr = z[i]
            hr = h[i]
            qxr = qx[i]
            qys = qy[i]
            qyn = qy[i - 1]
            rr = rbuf if rain_uniform else rain[i]
            for s in range(nseg):
                lev = tile_code[ty, segs[s, 0]] >> 1
                per = 1 << lev
                dtt = dt * lev_scale[lev]
                dtd = float(dtt)
                rec = record and k_sub + per == n_sub
                ja = max(segs[s, 0] * ts, 1)
                jb = min(segs[s, 1] * ts, nx - 1)
                if ja >= jb:
                    continue
                badr = False
                cl = zero
                # sliced views indexed from 0 so that the loop vectorises (see compute_fluxes); every
                # value in the state's dtype (the rain code converted to float32, the clipped volume
                # and the column sums in float32, the instability check as a bool): one int64 or
                # float64 term would make LLVM halve the SIMD width of the loop
                z0, h0_, qe_, qw_, qs_, qn_, r0 = zr[ja:jb], hr[ja:jb], qxr[ja:jb], qxr[ja - 1:jb - 1], qys[ja:jb], \
                    qyn[ja:jb], rr[ja:jb]
                cv, cw = colv[ja:jb], colw[ja:jb]
                kb = kbuf[:jb - ja]  # each cell's kinematic rate; a max reduction in this loop would not vectorise
                for k in range(jb - ja):
                    zz = z0[k]
                    h0 = h0_[k]
                    qe = qe_[k]
                    qw = qw_[k]
                    qs = qs_[k]
                    qn = qn_[k]
                    hn = _new_depth(h0, qe, qw, qs, qn, rain0 + np.float32(r0[k]) * rain_scale, dtt, inv_dx, inv_dy)
                    hn = hn if zz == zz else h0
                    kb[k] = _kinematic_rate(h0, qe, qw, qs, qn, hmin, inv_dx, inv_dy) if step_stats else zero
                    badr |= _bad_depth(hn, neg_tol)
                    clipped = (hn < zero) & (hn >= neg_tol)  # rounding; below neg_tol it stays, for the message
                    cl += hn if clipped else zero
                    hn = zero if clipped else hn
                    h0_[k] = hn
                    cv[k] += hn
                    cw[k] += one if hn > hmin else zero
                if step_stats:
                    kr = _row_max(kb, 0, jb - ja)
                    kin = kr if kr > kin else kin
                    m = _row_max(hr, ja, jb)
                    hmax = m if m > hmax else hmax
                if badr and bad < 0:  # rare: the first offending cell of the row
                    for k in range(jb - ja):
                        if _bad_depth(h0_[k], neg_tol):
                            bad = i * nx + ja + k
                            break
                if rec:  # a second pass over the (cached) row: a branch inside the loop above stops it vectorising
                    mh, ms, mhv, arr, dur, tm = max_h[i, ja:jb], max_speed[i, ja:jb], max_hv[i, ja:jb], \
                        arrival[i, ja:jb], duration[i, ja:jb], t_max[i, ja:jb]
                    for k in range(jb - ja):
                        o = _cell_outputs(h0_[k], qe_[k], qw_[k], qs_[k], qn_[k], dt_rec, t_new, hmin, h_arrival,
                                          h_vel, fr4g2, mh[k], ms[k], mhv[k], arr[k], dur[k], tm[k])
                        mh[k], ms[k], mhv[k], arr[k], dur[k], tm[k] = o
                clip -= float(cl) * area
                for tx in range(segs[s, 0], segs[s, 1]):  # boundary outflow: faces whose other side is outside
                    if not tile_edge[ty, tx]:
                        continue
                    for j in range(max(tx * ts, 1), min(tx * ts + ts, nx - 1)):
                        if zr[j] != zr[j]:
                            continue
                        if zr[j + 1] != zr[j + 1]:
                            outv += float(qxr[j]) * dyd * dtd
                        if zr[j - 1] != zr[j - 1]:
                            outv -= float(qxr[j - 1]) * dyd * dtd
                        if z[i + 1, j] != z[i + 1, j]:
                            outv += float(qys[j]) * dxd * dtd
                        if z[i - 1, j] != z[i - 1, j]:
                            outv -= float(qyn[j]) * dxd * dtd
        for s in range(nseg):  # each stepped tile's volume and wet flag from its columns
            for tx in range(segs[s, 0], segs[s, 1]):
                tv = 0.0
                tw = zero
                for j in range(tx * ts, min(tx * ts + ts, nx)):
                    tv += float(colv[j])
                    tw += colw[j]
                tv *= area
                tile_wet[ty, tx] = tw > zero
                tile_vol[ty, tx] = tv
                vol += tv
                nwet += int(tw)
        blk_hmax[ty] = hmax
        blk_vol[ty] = vol
        blk_out[ty] = outv
        blk_clip[ty] = clip
        blk_wet[ty] = nwet
        blk_bad[ty] = bad
        blk_kin[ty] = kin


@njit(cache=True, inline="always")
def _span_add(spans, ty, tx, ts, nx, ns, run, a):
    """Tile ``tx`` of tile row ``ty`` into the row's column spans when ``a`` (it extends the last span when
    the tile before it was in, ``run``, else opens one); returns the number of spans."""
    if a:
        if not run:
            spans[ty, ns, 0] = tx * ts
            ns += 1
        spans[ty, ns - 1, 1] = min(tx * ts + ts, nx)
    return ns


@njit(cache=True)
def update_active(tile_wet, forced, tile_valid, active, qx, qy, ts, spans, nspan):  # pragma: no cover - numba
    """Active = wet or forced, dilated by one tile, and holding a valid cell; zero the fluxes of
    tiles that fall dry; list each tile row's active column spans (``spans[ty, k] = (j0, j1)``,
    maximal runs of active tiles, ``nspan[ty]`` of them).

    Returns the number of active tiles.
    """
    nty, ntx = tile_wet.shape
    ny, nx = qx.shape
    count = 0
    for ty in range(nty):
        ns = 0
        run = False
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
            count += a
            ns = _span_add(spans, ty, tx, ts, nx, ns, run, a)
            run = a
        nspan[ty] = ns
    return count


@njit(cache=True, parallel=True, error_model="numpy", fastmath=FM_DEPTH)
def tile_steps(h, qx, qy, part, ts, cfl_length, dx, dy, hmin, kc, out):  # pragma: no cover - numba
    """Local time stepping: each participating tile's stable step (s) into ``out`` (float64).

    The least, over the tile's cells and the ring of cells around it (a face between two tiles is
    bound by both cells), of the gravity-wave step ``cfl_length / sqrt(g h)`` (Bates et al. 2010 eq. 12,
    ``Simulation.cfl_length``) and the kinematic step ``kc / (1.5 k)``, ``k`` a cell's outflow rate per unit depth
    (:func:`physics.make_kinematic_rate`); ``inf`` for a tile with no wet cell there. ``h`` is 0 on
    cells outside the domain and their faces carry nothing, so they take no part.
    """
    ny, nx = h.shape
    nty, ntx = part.shape
    one = hmin / hmin
    zero = hmin - hmin
    inv_dx = one / dx
    inv_dy = one / dy
    for ty in prange(nty):
        # per column of the tile row and the ring rows above and below: the largest depth and kinematic
        # rate, over each run of taking-part tiles widened by a column each side (one loop per row and
        # run: per tile, the loop set-up cost as much as the cells); then each tile's maxima over its columns
        colh = np.zeros(nx, h.dtype)
        colk = np.zeros(nx, h.dtype)
        i0, i1 = max(ty * ts - 1, 1), min(ty * ts + ts + 1, ny - 1)
        tx = 0
        while tx < ntx:
            if not part[ty, tx]:
                out[ty, tx] = np.inf
                tx += 1
                continue
            te = tx + 1
            while te < ntx and part[ty, te]:
                te += 1
            j0, j1 = max(tx * ts - 1, 1), min(te * ts + 1, nx - 1)
            m = j1 - j0
            if m > 0:
                ch, ck = colh[j0:j1], colk[j0:j1]
                for i in range(i0, i1):
                    h0_, qe_, qw_, qs_, qn_ = h[i, j0:j1], qx[i, j0:j1], qx[i, j0 - 1:j1 - 1], qy[i, j0:j1], \
                        qy[i - 1, j0:j1]
                    for k in range(m):
                        r = _kinematic_rate(h0_[k], qe_[k], qw_[k], qs_[k], qn_[k], hmin, inv_dx, inv_dy)
                        hh = h0_[k]
                        ch[k] = hh if hh > ch[k] else ch[k]
                        ck[k] = r if r > ck[k] else ck[k]
            for t in range(tx, te):
                a, b = max(t * ts - 1, 1), min(t * ts + ts + 1, nx - 1)
                hm = zero
                km = zero
                if a < b:
                    hm = _row_max(colh, a, b)
                    km = _row_max(colk, a, b)
                st = np.inf
                if hm > hmin:
                    st = cfl_length / np.sqrt(G * float(hm))
                if kc > 0 and km > 0:
                    st = min(st, kc / (1.5 * float(km)))
                out[ty, t] = st
            tx = te


@njit(cache=True)
def level_spans(active, tile_code, k_sub, ts, nx, spans, nspan):  # pragma: no cover - numba
    """The column spans of the active tiles that step at substep ``k_sub`` (level m: ``k_sub`` a
    multiple of 2**m), as :func:`update_active` lists them; returns their number."""
    nty, ntx = active.shape
    count = 0
    for ty in range(nty):
        ns = 0
        run = False
        for tx in range(ntx):
            a = active[ty, tx] and k_sub % (1 << (tile_code[ty, tx] >> 1)) == 0
            count += a
            ns = _span_add(spans, ty, tx, ts, nx, ns, run, a)
            run = a
        nspan[ty] = ns
    return count


@njit(cache=True)
def interface_faces(z, part, tile_code, ts, faces, share, n_by_level, tmp):  # pragma: no cover - numba
    """List the faces between valid cells of two participating tiles of different levels, by the fine
    side's level (counting sort), for :func:`interface_limit` and :func:`interface_apply`.

    Row ``f`` of ``faces`` (int64, 7 columns) is ``(i, j, d, ic, jc, lb, la)``: the face ``qx[i, j]``
    (``d`` 0) or ``qy[i, j]`` (``d`` 1), its coarse cell ``(ic, jc)``, the fine and the coarse level;
    ``share[f]`` is 1 over the number of the coarse cell's faces to finer tiles. ``n_by_level[m]`` is
    the number of faces whose fine level is at most m: the faces stepping at a substep whose
    largest level dividing it is m are the first ``n_by_level[m]``. ``tmp`` is scratch, 8 columns.
    Returns the count.
    """
    nty, ntx = part.shape
    ny, nx = z.shape
    n = 0
    for ty in range(nty):
        for tx in range(ntx):
            if not part[ty, tx]:
                continue
            l0 = tile_code[ty, tx] >> 1
            for d in range(2):
                ty2, tx2 = ty + d, tx + 1 - d
                if ty2 >= nty or tx2 >= ntx or not part[ty2, tx2]:
                    continue
                l1 = tile_code[ty2, tx2] >> 1
                if l1 == l0:
                    continue
                for k in range(ts):
                    i = ty * ts + ts - 1 if d else ty * ts + k
                    j = tx * ts + k if d else tx * ts + ts - 1
                    i2, j2 = i + d, j + 1 - d
                    if i2 >= ny or j2 >= nx or not (z[i, j] == z[i, j] and z[i2, j2] == z[i2, j2]):
                        continue
                    coarse_first = l0 > l1
                    ic, jc = (i, j) if coarse_first else (i2, j2)
                    cty, ctx = (ty, tx) if coarse_first else (ty2, tx2)
                    la = l0 if coarse_first else l1
                    tmp[n, 0], tmp[n, 1], tmp[n, 2], tmp[n, 3], tmp[n, 4] = i, j, d, ic, jc
                    tmp[n, 5], tmp[n, 6] = (l1, l0) if coarse_first else (l0, l1)
                    # the coarse cell's faces to finer tiles share its depth: a second one only at a
                    # tile corner, toward the tile beside the coarse one across the corner
                    nfine = 1
                    for side in (-1, 1):
                        if k != (0 if side < 0 else ts - 1):
                            continue
                        ni, nj = (ic + side, jc) if d == 0 else (ic, jc + side)
                        nty_, ntx_ = (cty + side, ctx) if d == 0 else (cty, ctx + side)
                        if 0 <= nty_ < nty and 0 <= ntx_ < ntx and 0 <= ni < ny and 0 <= nj < nx \
                                and part[nty_, ntx_] and (tile_code[nty_, ntx_] >> 1) < la and z[ni, nj] == z[ni, nj]:
                            nfine += 1
                    tmp[n, 7] = nfine
                    n += 1
    n_by_level[:] = 0
    for f in range(n):
        n_by_level[tmp[f, 5]] += 1
    start = np.zeros(n_by_level.size, np.int64)
    for m in range(1, n_by_level.size):
        start[m] = start[m - 1] + n_by_level[m - 1]
    for f in range(n):
        m = tmp[f, 5]
        for c in range(7):  # element by element: a row slice per face costs a view each
            faces[start[m], c] = tmp[f, c]
        share[start[m]] = 1.0 / tmp[f, 7]
        start[m] += 1
    for m in range(1, n_by_level.size):
        n_by_level[m] += n_by_level[m - 1]
    return n


@njit(cache=True, inline="always")
def _inflow_sign(faces, f):
    """+1 when a positive flux at face ``f`` flows into its coarse cell (the cell east or south of it)."""
    return 1.0 if (faces[f, 3] != faces[f, 0] or faces[f, 4] != faces[f, 1]) else -1.0


@njit(cache=True)
def interface_limit(h, qx, qy, faces, share, nf, k_sub, dt, dx, dy):  # pragma: no cover - numba
    """Local time stepping: the outflow limiter for a coarse cell between its own steps.

    At substep ``k_sub`` the first ``nf`` faces of :func:`interface_faces` step with their fine side
    (level lb, for ``dt 2**lb``). Where the coarse side (level la) does not step now, its own limiter
    ran at its last step: an outflow from the coarse cell is scaled so that it takes at most its
    ``share`` of the cell's depth. Depths stay >= 0, and the scaled flux is the one both cells see
    (conservative).
    """
    area = dx * dy
    for f in range(nf):
        if k_sub % (1 << faces[f, 6]) == 0:
            continue  # the coarse cell steps now: its own limiter covers the face
        i, j, d = faces[f, 0], faces[f, 1], faces[f, 2]
        q = qx[i, j] if d == 0 else qy[i, j]
        if not _inflow_sign(faces, f) * q < 0.0:  # not an outflow from the coarse cell
            continue
        out = abs(float(q)) * dt * (1 << faces[f, 5]) * (dy if d == 0 else dx)
        avail = float(h[faces[f, 3], faces[f, 4]]) * area * share[f]
        if out > avail:
            if d == 0:
                qx[i, j] = q * (avail / out)
            else:
                qy[i, j] = q * (avail / out)


@njit(cache=True)
def interface_apply(h, qx, qy, tile_vol, faces, nf, k_sub, ts, dt, lev_scale, dx, dy, neg_tol):  # pragma: no cover
    """Local time stepping: a coarse cell's share of its faces to finer tiles, after the depth pass.

    At substep ``k_sub`` the first ``nf`` faces of :func:`interface_faces` step with their fine side.
    The fine cell took ``q dt 2**lb`` through the face in the depth pass; the coarse cell takes the
    same, less what its own depth pass took when it stepped too (``q dt 2**la``), so each face moves
    the same volume on both sides (conservative; the flux accumulation of Sanders 2008, done as it
    happens). ``tile_vol`` follows. Returns (volume moved into coarse cells, clipped negative
    volume) in m3.
    """
    area = float(dx) * float(dy)
    moved = 0.0
    clipped = 0.0
    zero = dt - dt
    for f in range(nf):
        i, j, d, ic, jc = faces[f, 0], faces[f, 1], faces[f, 2], faces[f, 3], faces[f, 4]
        q = qx[i, j] if d == 0 else qy[i, j]
        dtb = dt * lev_scale[faces[f, 5]]
        dta = dt * lev_scale[faces[f, 6]] if k_sub % (1 << faces[f, 6]) == 0 else zero
        inv_w = dt / dt / (dx if d == 0 else dy)
        h_old = h[ic, jc]
        h[ic, jc] = h_old + _inflow_sign(faces, f) * (q * (dtb - dta) * inv_w)
        if h[ic, jc] < zero and h[ic, jc] >= neg_tol:
            clipped -= float(h[ic, jc]) * area
            h[ic, jc] = zero
        dv = (float(h[ic, jc]) - float(h_old)) * area
        moved += dv
        tile_vol[ic // ts, jc // ts] += dv
    return moved, clipped


@njit(cache=True)
def add_point_volume(z, h, rows, cols, volume_per_cell, area):  # pragma: no cover - numba
    """Add ``volume_per_cell`` (m3, may be negative) to each listed cell; return the volume added.

    Withdrawals never take more than a cell holds, so the returned volume is what really moved.
    """
    total = 0.0
    for k in range(rows.shape[0]):
        dh = _point_depth_change(h[rows[k], cols[k]], volume_per_cell, area)
        h[rows[k], cols[k]] += dh
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
    """Stored volume per tile, in float64 per cell (:func:`update_depth` sums float32 columns: the same to rounding)."""
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
