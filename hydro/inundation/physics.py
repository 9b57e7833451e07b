"""The per-face and per-cell formulas of the local-inertial scheme, written once for every backend.

These are plain Python functions (no decorator). Each backend compiles them for its target:
the CPU kernels with ``numba.njit(inline="always")``, the CUDA kernels with
``numba.cuda.jit(device=True)``, so the backends differ in how they run, not in what they compute.
The builtins ``max``/``min`` are spelled out as conditional
expressions: numba's star-argument overload of ``max`` does not compile for every CUDA target.
Functions that need a target-specific helper (the bit reinterpretation behind the fast inverse
cube root) are built by a ``make_*`` factory that receives the helper.

numba's on-disk cache keys a kernel on its own file only: after editing this file, delete the
cached kernels (``rm hydro/inundation/__pycache__/*.nb[ic]``) so they recompile. Touching
``core_inertial.py`` is not enough: on 2026-11-23 a touched file still loaded the old kernels.

Method: Bates, Horritt & Fewtrell (2010), "A simple inertial formulation of the shallow water
equations for efficient two-dimensional flood inundation modelling", J. Hydrol. 387, 33-45
(continuity eq. 5, semi-implicit Manning friction eq. 11, face depth max(eta) - max(z)); flux
weighting of de Almeida, Bates, Freer & Souvignet (2012), Water Resour. Res. 48, W05528 (eq. 7);
Froude cap after de Almeida & Bates (2013), Water Resour. Res. 49, 4833-4844.
"""

from __future__ import annotations

import math

G = 9.80665
# float64 bit pattern that makes (MAGIC - bits(x) / 3) a first guess of x^(-1/3) (Lomont-style)
INV_CBRT_MAGIC = 0x553F09FC49D9B000


def make_inv_cbrt(as_int64, as_float64):
    """x^(-1/3) for x > 0: a bit-pattern first guess and three division-free Newton steps.

    ``as_int64`` / ``as_float64`` reinterpret the bits of a float64 / int64 on the target.
    Relative error <= 1e-9 for 1e-8 <= x <= 1e4.
    """

    def inv_cbrt(x):
        r = as_float64(INV_CBRT_MAGIC - as_int64(x) // 3)
        for _ in range(3):
            r = r * (4.0 - x * r * r * r) * (1.0 / 3.0)
        return r

    return inv_cbrt


# float32 bit pattern of the first guess of x^(-1/3), as a float (int <-> float conversions vectorise
# on every SIMD unit, 32-bit integer division does not); fitted for 1e-4 <= x <= 1e4.
INV_CBRT32_MAGIC = 0x54A23000


def make_inv_cbrt32(as_int32, as_float32):
    """float32 x^(-1/3) for x > 0: bit-pattern first guess (relative error <= 3.5e-2) and three
    Newton steps (<= 2e-7, float32 rounding). ``as_int32`` / ``as_float32`` reinterpret bits."""
    import numpy as np

    F, I = np.float32, np.int32
    MAGIC, THIRD, FOUR = F(INV_CBRT32_MAGIC), F(1.0 / 3.0), F(4.0)

    def inv_cbrt32(x):
        r = as_float32(I(MAGIC - F(as_int32(x)) * THIRD))
        for _ in range(3):
            r = r * (FOUR - x * r * r * r) * THIRD
        return r

    return inv_cbrt32


def make_face_flux(inv_cbrt, F=float, interior=False):
    """Build ``face_flux`` around the target's ``inv_cbrt``, with its constants of type ``F``.

    ``F`` is the state's float type (``numpy.float32`` for the CPU's float32 kernels): a Python
    float constant would promote every float32 expression it touches to float64 and halve the
    CPU's SIMD width. ``interior=True`` builds the same formula for a face whose two cells are
    inside the domain (the compiler then drops the boundary-face selects; the result is the same).
    """
    ZERO, HALF, ONE, MONE, GF = F(0.0), F(0.5), F(1.0), F(-1.0), F(G)

    def face_flux(q, q_prev, q_next, zm, zl, hl, zr, hr, zp, nl, nr, dt, inv_dx, theta, hmin, open_bc,
                  s_min, fr_max):
        """New unit discharge at one face (Bates et al. 2010 eq. 11; de Almeida et al. 2012 eq. 7).

        ``q`` is the old flux at the face, ``q_prev`` / ``q_next`` the old fluxes of the faces
        before and after it along the flow direction; ``l`` / ``r`` are the cells on either side
        (``z`` NaN outside the domain), ``zm`` / ``zp`` the beds of the cells before ``l`` and
        after ``r``. Written without branches (selects only) so that the CPU row loops calling it
        vectorise and GPU warps do not diverge. A face between a valid and an outside cell carries
        free outflow at normal depth when ``open_bc``, else nothing: a ghost cell of equal depth
        whose bed continues the local bed slope (valid cell's inner neighbour to the valid cell,
        as LISFLOOD-FP's free boundary does), at least ``s_min``, so that an outlet on a steep valley
        does not back water up. The result is capped at Froude number
        ``fr_max``: the local-inertial equations drop advection and are only meant for subcritical
        flow (Bates et al. 2010 sect. 5; de Almeida & Bates 2013, WRR 49:4833). Without advection
        their uniform flow is unstable to roll waves once the kinematic wave speed 5/3 u passes
        the gravity wave speed sqrt(g h), i.e. Fr > 0.6 with Manning friction (Whitham 1974,
        "Linear and Nonlinear Waves", ch. 3 on flood waves, applied to this system); a capped face carries
        q = fr_max h sqrt(g h), a kinematic wave that cannot grow them (default cap 0.8; the test
        suite's 2 % valley floor shows the roll waves at 1.5). The cap takes the smaller of the face
        depth and the donor cell's depth (the cell the flow leaves): the face depth max(eta) - max(z)
        is blind to a depth checkerboard, and a thin cell pushed on by inertia toward a deeper one
        could otherwise send out more than water of its depth can carry, which feeds the
        checkerboard. A NaN flux stays NaN (the caller reports it).
        """
        lv = True if interior else zl == zl
        rv = True if interior else zr == zr
        inner = lv and rv
        etal = zl + hl
        etar = zr + hr
        hf = (etal if etal > etar else etar) - (zl if zl > zr else zr)
        hb = hl if lv else hr  # the valid side of a boundary face
        sgn = ONE if lv else MONE
        wet_in = inner and hf > hmin
        wet_bd = open_bc and (lv != rv) and hb > hmin
        hx = hf if wet_in else (hb if wet_bd else ONE)
        nf = HALF * (nl + nr) if inner else (nl if lv else nr)
        qth = theta * q + HALF * (ONE - theta) * (q_prev + q_next)
        sb = ((zm - zl) if lv else (zp - zr)) * inv_dx  # bed slope toward the outside cell
        sb = sb if sb > s_min else s_min  # NaN (no inner neighbour) -> s_min
        num = (qth - GF * hx * dt * (etar - etal) * inv_dx) if inner else (q + sgn * GF * hx * dt * sb)
        r = inv_cbrt(hx)
        r3 = r * r * r
        qn = num / (ONE + GF * dt * nf * nf * abs(q) * r3 * r3 * r)
        hd = hl if num > ZERO else hr  # the donor's depth (qn has num's sign; on a boundary face the valid side's)
        hc = hd if hd < hx else hx
        cap = fr_max * hc * math.sqrt(GF * hc)
        qn = -cap if qn < -cap else qn
        qn = cap if qn > cap else qn
        qn = ZERO if (wet_bd and qn * sgn < ZERO) else qn  # no inflow through a free-outflow edge
        return qn if (wet_in or wet_bd) else ZERO

    return face_flux


def wall_neighbour(q_nb, q, beyond_outside):
    """Old neighbour flux for the theta weighting next to a closed wall.

    A closed wall beyond a neighbour face takes no part in the weighting (it would bleed flux out
    of the edge face of a steady flow): use the face's own ``q`` instead. A wall face always
    carries exactly 0, so ``beyond_outside`` (the cell past the neighbour face is outside the
    domain) only matters then.
    """
    return q if beyond_outside else q_nb


def make_outgoing_volume(fmax, F=float):
    """Build ``outgoing_volume`` around the target's ``fmax(a, b)`` (CUDA takes :func:`select_max`),
    with its zero of type ``F`` (see :func:`make_face_flux`)."""
    ZERO = F(0.0)

    def outgoing_volume(qe, qw, qs, qn, dt, dx, dy):
        """Volume (m3) a cell sends out through its four faces in one step.

        The limiter scales a cell's outgoing fluxes by ``h dx dy / out`` when this exceeds what it
        holds. Each face has one donor cell (the one it flows out of) and only the donor's factor
        scales it, so the limiter is race-free and exactly conservative, and depths cannot go
        negative.
        """
        return dt * (dy * (fmax(qe, ZERO) + fmax(-qw, ZERO)) + dx * (fmax(qs, ZERO) + fmax(-qn, ZERO)))

    return outgoing_volume


def make_kinematic_rate(outgoing_volume, F=float):
    """Build ``kinematic_rate`` around the target's build of :func:`make_outgoing_volume`, with its
    constants of type ``F`` (see :func:`make_face_flux`)."""
    ZERO, ONE = F(0.0), F(1.0)

    def kinematic_rate(h, qe, qw, qs, qn, hmin, inv_dx, inv_dy):
        """A cell's outflow per unit area and depth, ``(out_x / dx + out_y / dy) / h`` (1/s), from the
        depth ``h`` its fluxes came from; 0 for a cell at or below ``hmin``. Where the Froude cap
        binds, 1.5 dt times this is the Courant number of the capped outflow summed over the cell's
        faces (``SimulationOptions.kinematic_courant``). Selects only (the CPU loop vectorises).
        """
        wet = h > hmin
        rate = outgoing_volume(qe, qw, qs, qn, ONE, inv_dy, inv_dx)  # dx <-> 1/dy, dy <-> 1/dx: per unit area
        return rate / (h if wet else ONE) if wet else ZERO

    return kinematic_rate


def select_max(a, b):
    """max(a, b) as a select."""
    return a if a > b else b


def new_depth(h, qe, qw, qs, qn, rain_m_per_s, dt, inv_dx, inv_dy):
    """Continuity (Bates et al. 2010 eq. 5) with the net rain rate as a source."""
    return h + dt * ((qw - qe) * inv_dx + (qn - qs) * inv_dy + rain_m_per_s)


def make_record_cell(cell_outputs):
    """Build ``record_cell`` (for the CUDA kernels) around the target's build of :func:`cell_outputs`."""

    def record_cell(i, j, hn, qe, qw, qs, qn, record, dt_rec, t_new, hmin, h_arrival, h_vel, fr4g2,
                    max_h, max_speed6, max_hv6, arrival, duration, t_max):
        """Store a cell's running outputs (:func:`cell_outputs`, duration step ``dt_rec``) after its
        depth update when ``record`` (a sampling step, see ``SimulationOptions.stats_interval``);
        return whether it is wet (> ``hmin``)."""
        if not hn > hmin:
            return False
        if record:
            o = cell_outputs(hn, qe, qw, qs, qn, dt_rec, t_new, hmin, h_arrival, h_vel, fr4g2, max_h[i, j],
                             max_speed6[i, j], max_hv6[i, j], arrival[i, j], duration[i, j], t_max[i, j])
            max_h[i, j], max_speed6[i, j], max_hv6[i, j], arrival[i, j], duration[i, j], t_max[i, j] = o
        return True

    return record_cell


def point_depth_change(h, volume_per_cell, area):
    """Depth added to a cell by a point source or sink of ``volume_per_cell`` (m3, may be negative):
    a withdrawal never takes more than the cell holds, so ``change * area`` is what really moved."""
    dh = volume_per_cell / area
    if h + dh < 0.0:
        dh = -h
    return dh


def speed6_coefficient(fr_max):
    """``fr4g2`` of :func:`cell_outputs`: fr_max^4 g^2 (the speed bound, in sixth powers)."""
    return fr_max ** 4 * G ** 2


def cell_outputs(hn, qe, qw, qs, qn, dt, t_new, hmin, h_arrival, h_vel, fr4g2, mh, ms6, mhv6, arr, dur, tm):
    """The running outputs of one cell after its depth update, as new values (selects only).

    Returns the new (max depth, (max speed)^6, (max depth x speed)^6, arrival, duration,
    time of max depth) from the old ones. The cell speed is the centred unit discharge |q| over
    max(h, ``h_vel``), so a just-wetted cell does not report a spurious speed; and it is bounded
    by (fr_max^2 g |q|)^(1/3) (``fr4g2`` = fr_max^4 g^2), the speed of the shallowest water that
    can carry |q| under the Froude cap: a thin cell below a deep face, whose inflow the face
    depth carried, does not report a speed its water never had (the bound is above the speed
    wherever the cell's own Froude number is within the cap, so it changes nothing there).
    The maxima are kept as sixth powers, u^6 = sp^2 min(sp^4, fr_max^4 g^2 hv^2), so that no root
    is taken per cell and step (roots are monotonic: :func:`outputs.to_dataset` takes the sixth
    roots once).
    Arrival time and duration count depths >= ``h_arrival``; ``dt`` is the time the sample stands
    for (the step, or the sampling interval when the outputs are sampled). Written without branches or
    stores so that the CPU row loops vectorise; no float constant appears, so a float32 state
    keeps float32 arithmetic.
    """
    wet = hn > hmin
    hv_ = hn if hn > h_vel else h_vel
    hv2 = hv_ + hv_
    u = (qe + qw) / hv2
    v = (qs + qn) / hv2
    sp2 = u * u + v * v
    b = fr4g2 * (hv_ * hv_)
    s4 = sp2 * sp2
    u6 = sp2 * (s4 if s4 < b else b)
    sp_w = u6 if wet else ms6
    ms_new = sp_w if sp_w > ms6 else ms6
    h3 = hn * hn * hn
    hv = u6 * (h3 * h3) if wet else mhv6
    mhv_new = hv if hv > mhv6 else mhv6
    top = wet and hn > mh
    above = wet and hn >= h_arrival
    dur_new = dur + dt if above else dur
    arr_new = t_new if (above and arr != arr) else arr
    return (hn if top else mh), ms_new, mhv_new, arr_new, dur_new, (t_new if top else tm)
