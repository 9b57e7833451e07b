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
