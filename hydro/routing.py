"""Routing: sub-basin outflow by a Nash-cascade unit hydrograph, then Muskingum-Cunge between
sections following the case's ``downstream`` links from upstream to downstream.

Methods
-------
- Nash, J. E. (1957). The form of the instantaneous unit hydrograph. IAHS Publ. 45, 114-121:
  n equal linear reservoirs with storage constant k; the IUH is a gamma density, so the
  T-hour unit hydrograph ordinates are differences of the regularised incomplete gamma function
  (the S-curve), which sum to 1 exactly once the tail is folded into the last ordinate.
- Lag from basin length and slope: Kirpich, Z. P. (1940). Time of concentration of small
  agricultural watersheds. Civil Engineering 10(6), 362: tc[min] = 0.0195 L[m]^0.77 S^-0.385;
  lag = 0.6 tc (USDA-SCS NEH-4, ch. 15) and lag = n k. Where a sub-basin lacks ``length_km`` it
  comes from area by Hack's law, L[mi] = 1.4 A[mi2]^0.6 (Hack 1957, USGS Prof. Paper 294-B).
- Cunge, J. A. (1969). On the subject of a flood propagation computation method (Muskingum
  method). J. Hydraul. Res. 7(2), 205-230: K = dx / c, X = 1/2 (1 - Q / (B S0 c dx)), with the
  celerity c = dQ/dA and top width B from the section's subdivided-conveyance rating
  (:mod:`hydro.stage`). Between sections the parameters vary with discharge, recomputed at every
  sub-step from the three-point reference discharge: the variable-parameter form of Ponce, V. M. &
  Chaganti, P. V. (1994). Variable-parameter Muskingum-Cunge method revisited. J. Hydrol. 162,
  433-439. :func:`muskingum_cunge` keeps the constant-parameter form (Ponce & Yevjevich 1978,
  J. Hydraul. Div. 104(12)) for comparison. There is no lower bound on the celerity: a flood on a
  wide floodplain travels as slowly as the rating says, and no slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammainc

from hydro import core_routing as core
from hydro.stage import Rating


def kirpich_lag_h(length_km: float, slope: float) -> float:
    """Basin lag (h) = 0.6 x Kirpich time of concentration."""
    tc_min = 0.0195 * (length_km * 1000.0) ** 0.77 * max(slope, 1e-4) ** -0.385
    return 0.6 * tc_min / 60.0


def hack_length_km(area_km2: float) -> float:
    """Longest flow path from area by Hack's law (1957)."""
    return 1.4 * (area_km2 / 2.58999) ** 0.6 * 1.609344


def nash_parameters(area_km2: float, length_km: float | None, slope: float,
                    lag_factor: float = 1.0, n: float = 3.0) -> tuple[float, float]:
    """Nash cascade (n, k in hours) for a sub-basin; ``lag_factor`` scales the lag in calibration."""
    if length_km is None or not np.isfinite(length_km) or length_km <= 0:
        length_km = hack_length_km(area_km2)
    lag = max(kirpich_lag_h(length_km, slope) * lag_factor, 0.05)
    return float(n), lag / float(n)


def nash_unit_hydrograph(n: float, k_h: float, dt_h: float = 1.0, tail: float = 1e-6) -> np.ndarray:
    """Ordinates of the dt-hour Nash unit hydrograph; they sum to exactly 1.

    u_j = G(j dt) - G((j - 1) dt), G(t) = P(n, t / k) the regularised lower incomplete gamma
    function (S-curve of the Nash IUH); the ordinates stop when 1 - G < ``tail`` and the
    remainder is added to the last ordinate.
    """
    if n <= 0 or k_h <= 0:
        raise ValueError("Nash n and k must be positive")
    t_end = n * k_h + 12.0 * math.sqrt(n) * k_h + dt_h  # mean + 12 sd of the gamma IUH
    m = max(1, int(math.ceil(t_end / dt_h)))
    g = gammainc(n, np.arange(m + 1) * dt_h / k_h)
    u = np.diff(g)
    keep = np.nonzero(1.0 - g[1:] >= tail)[0]
    last = (keep[-1] + 2) if keep.size else 1
    u = u[:last].copy()
    u[-1] += 1.0 - u.sum()
    return u


def uh_matrix(uhs: list[np.ndarray]) -> np.ndarray:
    """Stack unit hydrographs of different lengths into one zero-padded array."""
    width = max(len(u) for u in uhs)
    out = np.zeros((len(uhs), width))
    for i, u in enumerate(uhs):
        out[i, : len(u)] = u
    return out


def convolve(inflow: np.ndarray, uh: np.ndarray) -> np.ndarray:
    """Convolve each row of ``inflow`` (ns, nt) with its unit hydrograph row ``uh`` (ns, L)."""
    inflow = np.ascontiguousarray(inflow, dtype=np.float64)
    out = np.empty_like(inflow)
    core.convolve_rows(inflow, np.ascontiguousarray(uh, dtype=np.float64), out)
    return out


@dataclass(frozen=True)
class Muskingum:
    """Muskingum coefficients for ``n_reach`` sub-reaches and ``n_sub`` sub-steps per step."""

    c0: float
    c1: float
    c2: float
    n_reach: int
    n_sub: int
    k_s: float
    x: float

    def route(self, inflow: np.ndarray) -> np.ndarray:
        """Outflow for each row of ``inflow`` (nm, nt)."""
        inflow = np.ascontiguousarray(np.atleast_2d(inflow), dtype=np.float64)
        out = np.empty_like(inflow)
        core.muskingum_rows(inflow, self.c0, self.c1, self.c2, self.n_reach, self.n_sub, out)
        return out


def muskingum_coefficients(k_s: float, x: float, dt_s: float) -> tuple[float, float, float]:
    """C0, C1, C2 of the Muskingum method (McCarthy 1938) for storage constant K and weight X."""
    den = 2.0 * k_s * (1.0 - x) + dt_s
    return (dt_s - 2.0 * k_s * x) / den, (dt_s + 2.0 * k_s * x) / den, (2.0 * k_s * (1.0 - x) - dt_s) / den


def muskingum_cunge(length_m: float, slope: float, rating: Rating, q_ref: float, dt_h: float = 1.0) -> Muskingum:
    """Constant-parameter Muskingum-Cunge for a reach of ``length_m`` (Cunge 1969).

    The reach is split into sub-reaches and the step into sub-steps so that the Courant number
    c dt / dx is near 1, which keeps all three coefficients non-negative (no spurious dips).
    """
    if not length_m > 1.0:  # sections next to each other: pass the flow on unchanged
        return Muskingum(1.0, 0.0, 0.0, 1, 1, 0.0, 0.0)
    c, width = rating.celerity(max(q_ref, 1e-3))
    c = max(c, 1e-6)
    slope = max(slope, 1e-5)
    dt_s = dt_h * 3600.0
    courant, n_reach, n_sub = _grid(length_m, c, dt_s)
    dx = length_m / n_reach
    dt_sub = dt_s / n_sub
    k_s = dx / c
    x = 0.5 * (1.0 - max(q_ref, 1e-3) / (max(width, 0.1) * slope * c * dx))
    x = min(max(x, 0.0), 0.5 * courant)
    c0, c1, c2 = muskingum_coefficients(k_s, x, dt_sub)
    return Muskingum(c0, c1, c2, n_reach, n_sub, k_s, x)


def _grid(length_m: float, c: float, dt_s: float) -> tuple[float, int, int]:
    """Sub-reaches and sub-steps with the Courant number c dt_sub / dx <= 1, as close to 1 as
    possible; X is then capped at Courant / 2 so that C0 >= 0 (and C2 >= 0 since X <= 1/2)."""
    best = (0.0, 1, 1)
    for n_reach in range(1, 65):
        dx = length_m / n_reach
        n_sub = max(1, int(math.ceil(c * dt_s / dx - 1e-9)))
        courant = c * dt_s / n_sub / dx
        if courant > best[0] + 1e-6:
            best = (courant, n_reach, n_sub)
        if courant > 0.97:
            break
    return best


def route_variable(inflow: np.ndarray, length_m: float, slope: float, rating: Rating, dt_h: float = 1.0
                   ) -> np.ndarray:
    """Variable-parameter Muskingum-Cunge routing of each row of ``inflow`` (nm, nt) through a reach of
    ``length_m`` (Ponce & Chaganti 1994; kernel :func:`hydro.core_routing.muskingum_cunge_vp_rows`).

    The sub-reach and sub-step grid holds the Courant number at or below 1 for the fastest celerity
    of the rating between no flow and 1.2 times the largest inflow.
    """
    inflow = np.ascontiguousarray(np.atleast_2d(inflow), dtype=np.float64)
    if not length_m > 1.0:  # sections next to each other: pass the flow on unchanged
        return inflow.copy()
    q_hi = 1.2 * max(float(inflow.max()), 1e-3)
    qt = rating.discharge_m3_per_s
    upto = max(int(np.searchsorted(qt, q_hi)) + 1, 2)
    c_max = max(float(rating.celerity_m_per_s[:upto].max()), 1e-3)
    dt_s = dt_h * 3600.0
    _, n_reach, n_sub = _grid(length_m, c_max, dt_s)
    # celerity and top width on a uniform discharge grid up to twice the largest inflow (O(1) lookups)
    q_grid = np.linspace(0.0, 2.0 * q_hi, 1025)
    c_grid = np.interp(q_grid, qt, rating.celerity_m_per_s)
    b_grid = np.interp(rating.stage(q_grid), rating.level_m, rating.top_width_m)
    out = np.empty_like(inflow)
    core.muskingum_cunge_vp_rows(inflow, float(q_grid[1]), c_grid, b_grid, max(slope, 1e-5), length_m / n_reach,
                                 dt_s / n_sub, n_reach, n_sub, out)
    return out


def topological_order(ids: list[str], downstream: dict[str, str | None]) -> list[str]:
    """Sections ordered so that every section comes after all sections that drain into it."""
    indeg = {s: 0 for s in ids}
    for s in ids:
        d = downstream.get(s)
        if d in indeg:
            indeg[d] += 1
    ready = [s for s in ids if indeg[s] == 0]
    order: list[str] = []
    while ready:
        s = ready.pop(0)
        order.append(s)
        d = downstream.get(s)
        if d in indeg:
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    if len(order) != len(ids):
        from gis.errors import InputError

        raise InputError("sections", "the `downstream` links form a loop", "make each link point downstream")
    return order


def route_network(local_m3s: np.ndarray, ids: list[str], downstream: dict[str, str | None],
                  reach_length_m: dict[str, float], slope: dict[str, float], ratings: dict[str, Rating],
                  dt_h: float = 1.0, q_ref: dict[str, float] | None = None) -> np.ndarray:
    """Discharge at every section from the local inflow of its own sub-basins plus routed upstream flow.

    Parameters
    ----------
    local_m3s : (nm, nsec, nt) local inflow at each section (sub-basins draining to it).
    ids : section ids, in the order of axis 1.
    downstream, reach_length_m, slope : per section id (the reach from a section to its downstream one).
    ratings : rating of each section (celerity and width for Muskingum-Cunge, varying with discharge).
    q_ref : unused (kept for callers of the constant-parameter form); the parameters vary with
        discharge (Ponce & Chaganti 1994).
    """
    nm, nsec, nt = local_m3s.shape
    q = local_m3s.astype(np.float64, copy=True)
    idx = {s: i for i, s in enumerate(ids)}
    for s in topological_order(ids, downstream):
        d = downstream.get(s)
        if d not in idx:
            continue
        up = q[:, idx[s], :]
        q[:, idx[d], :] += route_variable(up, reach_length_m[s], slope[s], ratings[s], dt_h)
    return q
