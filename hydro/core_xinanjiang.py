"""Xinanjiang rainfall-runoff kernel (numba): saturation excess, three-layer evapotranspiration,
three-source runoff separation and linear-reservoir recession of interflow and groundwater.

Reference: Zhao, R.-J. (1992). The Xinanjiang model applied in China. Journal of Hydrology 135,
371-381. doi:10.1016/0022-1694(92)90096-E. Notation follows that paper.

Every function here is a pure ``@njit(cache=True)`` function over flat arrays so a test can call
it directly; :mod:`hydro.runoff` is the thin layer that builds the arrays.

A *series* is one sub-basin of one ensemble member: ``rain[s, t]`` and ``pet[s, t]`` in mm per
step, ``params[s, :]`` (indices ``P_*``, recession constants per day) and ``state[s, :]``
(indices ``S_*``, updated in place so a run can carry on from where the last one stopped).

Water balance per step over the whole sub-basin (tested): ::

    P = E + RS + RI + RG + Δ[(1 - IM) (WU + WL + WD + S·FR)]
"""

from __future__ import annotations

import numpy as np
from numba import njit

# parameter indices (Zhao 1992, table 1)
P_K, P_WUM, P_WLM, P_WDM, P_C, P_B, P_IM, P_SM, P_EX, P_KI, P_KG, P_CI, P_CG = range(13)
N_PARAMS = 13
PARAM_NAMES = ("K", "WUM", "WLM", "WDM", "C", "B", "IM", "SM", "EX", "KI", "KG", "CI", "CG")
# state indices: tension water per layer (mm over the pervious area), free water depth S on the
# runoff-producing fraction FR, and the outflows (mm/step) of the interflow / groundwater reservoirs
S_WU, S_WL, S_WD, S_S, S_FR, S_QI, S_QG = range(7)
N_STATE = 7

_EPS = 1e-12


@njit(cache=True)
def xaj_step(p, ep0, par, st, dt_h):
    """Advance one series by one step.

    Parameters
    ----------
    p, ep0 : float
        Rainfall and potential evapotranspiration (mm per step).
    par : (N_PARAMS,) float array
        Parameters; KI, KG, CI, CG are per day (converted to the step length here).
    st : (N_STATE,) float array
        State, updated in place.
    dt_h : float
        Step length in hours.

    Returns
    -------
    (e, rs, ri, rg, qi, qg) : tuple of float
        Actual evapotranspiration, surface / interflow / groundwater runoff generated this step,
        and the interflow and groundwater reservoir outflows (all mm per step, sub-basin mean).
    """
    k, wum, wlm, wdm, c, b, im = par[0], par[1], par[2], par[3], par[4], par[5], par[6]
    sm, ex, ki_d, kg_d, ci_d, cg_d = par[7], par[8], par[9], par[10], par[11], par[12]
    wm = wum + wlm + wdm
    frac = dt_h / 24.0
    # daily outflow coefficients of the free-water store -> this step (Zhao 1992, section 3.3)
    kd = ki_d + kg_d
    if kd > 0.0:
        ksum = 1.0 - (1.0 - min(kd, 0.999999)) ** frac
        ki = ki_d / kd * ksum
        kg = kg_d / kd * ksum
    else:
        ki = 0.0
        kg = 0.0
    ci = ci_d ** frac
    cg = cg_d ** frac

    wu, wl, wd, s, fr = st[0], st[1], st[2], st[3], st[4]
    ep = k * ep0

    # ---- three-layer evapotranspiration (pervious area)
    if wu + p >= ep:
        eu, el, ed = ep, 0.0, 0.0
    else:
        eu = wu + p
        rest = ep - eu
        ed = 0.0
        if wl >= c * wlm:
            el = rest * wl / wlm
        elif wl >= c * rest:
            el = c * rest
        else:
            el = wl
            ed = min(c * rest - el, wd)
    e_perv = eu + el + ed
    pe = p - e_perv

    # ---- saturation-excess runoff on the tension-water capacity curve (exponent B)
    w = wu + wl + wd
    r = 0.0
    if pe > 0.0:
        wmm = wm * (1.0 + b)
        ratio = max(0.0, 1.0 - w / wm)
        a = wmm * (1.0 - ratio ** (1.0 / (1.0 + b)))
        if pe + a < wmm:
            r = pe - (wm - w) + wm * (1.0 - (pe + a) / wmm) ** (1.0 + b)
        else:
            r = pe - (wm - w)
        r = min(max(r, 0.0), pe)

    # ---- update the three tension-water layers
    if wu + p >= ep:
        wu = wu + p - eu - r
        if wu > wum:
            wl += wu - wum
            wu = wum
            if wl > wlm:
                wd += wl - wlm
                wl = wlm
                if wd > wdm:  # only by rounding: return it as runoff to keep the balance
                    r += wd - wdm
                    wd = wdm
        if wu < 0.0:  # rounding guard
            r += wu
            wu = 0.0
    else:
        wu = 0.0
        wl -= el
        wd -= ed

    # ---- three-source separation on the free-water store (capacity curve exponent EX)
    rs = 0.0
    if r > _EPS and pe > _EPS:
        fr_new = min(r / pe, 1.0)
        s = s * fr / fr_new  # keep the stored volume S*FR when the contributing area changes
        fr = fr_new
        smm = sm * (1.0 + ex)
        if s >= sm:
            au = smm
        else:
            au = smm * (1.0 - (1.0 - s / sm) ** (1.0 / (1.0 + ex)))
        if pe + au < smm:
            rs = fr * (pe + s - sm + sm * (1.0 - (pe + au) / smm) ** (1.0 + ex))
        else:
            rs = fr * (pe + s - sm)
        rs = min(max(rs, 0.0), r + s * fr)
        s = s + (r - rs) / fr
    ri = ki * s * fr
    rg = kg * s * fr
    s = s * (1.0 - ki - kg)

    # ---- impervious fraction: rain minus evaporation runs off directly
    e_imp = min(p, ep)
    r_imp = p - e_imp

    st[0], st[1], st[2], st[3], st[4] = wu, wl, wd, s, fr
    e = (1.0 - im) * e_perv + im * e_imp
    rs = (1.0 - im) * rs + im * r_imp
    ri = (1.0 - im) * ri
    rg = (1.0 - im) * rg
    # ---- linear-reservoir recession of interflow and groundwater (Zhao 1992, eq. for QI, QG)
    qi = ci * st[5] + (1.0 - ci) * ri
    qg = cg * st[6] + (1.0 - cg) * rg
    st[5] = qi
    st[6] = qg
    return e, rs, ri, rg, qi, qg


@njit(cache=True)
def storage_mm(par, st):
    """Water held in the soil and free-water stores, mm over the whole sub-basin."""
    return (1.0 - par[6]) * (st[0] + st[1] + st[2] + st[3] * st[4])


@njit(cache=True)
def xaj_run(rain, pet, params, state, dt_h, inflow, evap):
    """Run many series over many steps.

    Parameters
    ----------
    rain, pet : (ns, nt) float arrays, mm per step.
    params : (ns, N_PARAMS) float array.
    state : (ns, N_STATE) float array, updated in place.
    dt_h : float, step length in hours.
    inflow : (ns, nt) output, channel inflow RS + QI + QG in mm per step.
    evap : (ns, nt) output, actual evapotranspiration in mm per step.
    """
    ns, nt = rain.shape
    for i in range(ns):
        par = params[i]
        st = state[i]
        for t in range(nt):
            e, rs, ri, rg, qi, qg = xaj_step(rain[i, t], pet[i, t], par, st, dt_h)
            inflow[i, t] = rs + qi + qg
            evap[i, t] = e


@njit(cache=True)
def scs_run(rain, cn, ia_ratio, cum_p, inflow):
    """SCS curve-number excess rainfall, incremental form, for many series.

    Reference: USDA-SCS (1972/1985) National Engineering Handbook, Section 4, Hydrology,
    chapter 10: Q = (P - Ia)^2 / (P - Ia + S), S = 25400/CN - 254 (mm), Ia = λS.

    ``cum_p[s]`` is the cumulative event rainfall so far (the state carried between runs);
    ``inflow[s, t]`` receives the excess rainfall of each step (mm per step).
    """
    ns, nt = rain.shape
    for i in range(ns):
        s_mm = 25400.0 / cn[i] - 254.0
        ia = ia_ratio * s_mm
        p = cum_p[i]
        q_prev = (p - ia) ** 2 / (p - ia + s_mm) if p > ia else 0.0
        for t in range(nt):
            p += rain[i, t]
            q = (p - ia) ** 2 / (p - ia + s_mm) if p > ia else 0.0
            inflow[i, t] = q - q_prev
            q_prev = q
        cum_p[i] = p


def default_params() -> np.ndarray:
    """Typical values for humid south-east China mountain basins (Zhao 1992, table 2 ranges)."""
    return np.array([0.9, 20.0, 70.0, 40.0, 0.16, 0.3, 0.02, 30.0, 1.5, 0.35, 0.35, 0.85, 0.98])
