"""Routing kernels (numba): unit-hydrograph convolution and Muskingum(-Cunge) reach routing.

Pure ``@njit(cache=True)`` functions over arrays; :mod:`hydro.routing` computes the coefficients.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def convolve_rows(inflow, uh, out):
    """Discrete convolution of each row of ``inflow`` (ns, nt) with its unit hydrograph.

    ``uh[s, :]`` holds the ordinates of row s's unit hydrograph (zero-padded; sum 1); ``out`` is
    (ns, nt), truncated at nt (what falls after the last step is not returned).
    """
    ns, nt = inflow.shape
    nu = uh.shape[1]
    for s in range(ns):
        for t in range(nt):
            out[s, t] = 0.0
        for t in range(nt):
            r = inflow[s, t]
            if r == 0.0:
                continue
            m = min(nu, nt - t)
            for j in range(m):
                out[s, t + j] += r * uh[s, j]


@njit(cache=True)
def muskingum_rows(inflow, c0, c1, c2, n_reach, n_sub, out):
    """Route each row of ``inflow`` (nm, nt, hourly values) through ``n_reach`` equal Muskingum
    sub-reaches, with ``n_sub`` sub-steps per step (inflow interpolated linearly in between).

    Muskingum (McCarthy 1938): O2 = C0 I2 + C1 I1 + C2 O1 with C0 + C1 + C2 = 1, which conserves
    volume. The initial state is steady (outflow = inflow of the first step).
    """
    nm, nt = inflow.shape
    o = np.empty(n_reach)
    i_prev = np.empty(n_reach)
    for m in range(nm):
        q = inflow[m, 0]
        # state: inflow and outflow of each sub-reach at the last sub-step (steady start)
        o[:] = q
        i_prev[:] = q
        out[m, 0] = q
        for t in range(1, nt):
            a = inflow[m, t - 1]
            b = inflow[m, t]
            for k in range(1, n_sub + 1):
                x = a + (b - a) * k / n_sub
                for r in range(n_reach):
                    new = c0 * x + c1 * i_prev[r] + c2 * o[r]
                    i_prev[r] = x
                    o[r] = new
                    x = new
            out[m, t] = x


@njit(cache=True, inline="always")
def _lookup(q, dq, tab):
    """Linear interpolation in a table on the uniform grid 0, dq, 2 dq, ... (clamped at both ends)."""
    f = q / dq
    if f <= 0.0:
        return tab[0]
    n = tab.shape[0] - 1
    if f >= n:
        return tab[n]
    i = int(f)
    w = f - i
    return tab[i] * (1.0 - w) + tab[i + 1] * w


@njit(cache=True)
def muskingum_cunge_vp_rows(inflow, dq, c_tab, b_tab, slope, dx, dt_sub, n_reach, n_sub, out):
    """Variable-parameter Muskingum-Cunge (Ponce & Chaganti 1994, J. Hydrol. 162, 433-439).

    Each row of ``inflow`` (nm, nt) is routed through ``n_reach`` sub-reaches of length ``dx`` with
    ``n_sub`` sub-steps of ``dt_sub`` seconds per step (inflow linear in between). At every sub-step
    and sub-reach the celerity c and top width B are read from the rating's tables ``c_tab`` and ``b_tab``
    on the uniform discharge grid 0, ``dq``, 2 ``dq``, ... at the three-point reference discharge
    (I1 + I2 + O1) / 3, and

        K = dx / c,  C = c dt / dx,  X = (1 - Q / (B S0 c dx)) / 2  (Cunge 1969),
        O2 = C0 I2 + C1 I1 + C2 O1 with the Muskingum coefficients of K and X,

    with X held in [0, C / 2] so that no coefficient is negative (the caller keeps C <= 1). The
    coefficients sum to 1 at every step, but with K changing between steps the scheme does not
    conserve volume exactly (Ponce & Chaganti 1994 report the small loss; Todini 2007, HESS 11,
    1645-1659); the tests bound it. The initial state is steady (outflow = inflow of the first step).
    """
    nm, nt = inflow.shape
    o = np.empty(n_reach)
    i_prev = np.empty(n_reach)
    for m in range(nm):
        q = inflow[m, 0]
        o[:] = q
        i_prev[:] = q
        out[m, 0] = q
        for t in range(1, nt):
            a = inflow[m, t - 1]
            b = inflow[m, t]
            for k in range(1, n_sub + 1):
                x_in = a + (b - a) * k / n_sub
                for r in range(n_reach):
                    qref = (i_prev[r] + x_in + o[r]) / 3.0
                    c = _lookup(qref, dq, c_tab)
                    if c < 1e-6:  # a guard against division by zero, not a floor on the physics
                        c = 1e-6
                    width = _lookup(qref, dq, b_tab)
                    if width < 1e-3:
                        width = 1e-3
                    courant = c * dt_sub / dx
                    xw = 0.5 * (1.0 - qref / (width * slope * c * dx))
                    if xw > 0.5 * courant:
                        xw = 0.5 * courant
                    if xw < 0.0:
                        xw = 0.0
                    k_s = dx / c
                    den = 2.0 * k_s * (1.0 - xw) + dt_sub
                    c0 = (dt_sub - 2.0 * k_s * xw) / den
                    c1 = (dt_sub + 2.0 * k_s * xw) / den
                    c2 = (2.0 * k_s * (1.0 - xw) - dt_sub) / den
                    new = c0 * x_in + c1 * i_prev[r] + c2 * o[r]
                    i_prev[r] = x_in
                    o[r] = new
                    x_in = new
            out[m, t] = x_in
