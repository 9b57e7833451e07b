"""Runoff generation per sub-basin: the Xinanjiang model (Zhao 1992) and the SCS curve number.

Thin layer over the numba kernels in :mod:`hydro.core_xinanjiang`. Arrays are "series":
one row per sub-basin (or per sub-basin x ensemble member), one column per time step.

Antecedent soil state (前期土壤含水量) for the Xinanjiang model is either carried over from a
previous run (the ``state`` array returned by :func:`run_xinanjiang`) or one of three named
conditions, each a fraction of every capacity (tension layers WUM/WLM/WDM, free water SM):

=========  ======================  ===================
condition  tension water W / WM    free water S / SM
=========  ======================  ===================
dry        0.2                     0.0
normal     0.6                     0.2
wet        0.95                    0.5
=========  ======================  ===================

The same names map to the SCS antecedent-moisture classes I / II / III (Chow et al. 1988,
Applied Hydrology, eq. 5.5.3-4).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gis.errors import InputError
from hydro import core_xinanjiang as core

CONDITIONS = ("dry", "normal", "wet")
_W_FRACTION = {"dry": 0.2, "normal": 0.6, "wet": 0.95}
_S_FRACTION = {"dry": 0.0, "normal": 0.2, "wet": 0.5}

# bounds used by calibration and to validate parameter files (Zhao 1992, table 2 and practice)
PARAM_BOUNDS: dict[str, tuple[float, float]] = {
    "K": (0.5, 1.3), "WUM": (5.0, 30.0), "WLM": (40.0, 100.0), "WDM": (10.0, 80.0),
    "C": (0.08, 0.25), "B": (0.1, 0.6), "IM": (0.0, 0.1), "SM": (5.0, 80.0), "EX": (1.0, 1.9),
    "KI": (0.05, 0.6), "KG": (0.05, 0.6), "CI": (0.5, 0.95), "CG": (0.9, 0.999),
}


def params_array(values: Mapping[str, float] | None = None, n: int = 1, source: str = "params") -> np.ndarray:
    """Xinanjiang parameter rows ``(n, 13)`` from defaults overridden by ``values``.

    Raises :class:`InputError` for unknown names or values outside physical limits.
    """
    row = core.default_params()
    for name, v in (values or {}).items():
        if name not in core.PARAM_NAMES:
            raise InputError(source, f"unknown Xinanjiang parameter '{name}'",
                             f"use one of {', '.join(core.PARAM_NAMES)}")
        v = float(v)
        lo, hi = PARAM_BOUNDS[name]
        if not np.isfinite(v) or v < 0 or (name in ("IM", "C") and v >= 1):
            raise InputError(source, f"Xinanjiang parameter {name}={v} is not physical",
                             f"give a value in [{lo}, {hi}]")
        row[core.PARAM_NAMES.index(name)] = v
    if row[core.P_KI] + row[core.P_KG] >= 1.0:
        raise InputError(source, "KI + KG must be < 1", "lower KI or KG (typically KI + KG = 0.7)")
    return np.tile(row, (n, 1))


def initial_state(condition: str | float, params: np.ndarray) -> np.ndarray:
    """State rows ``(n, 7)`` for a named antecedent condition or a tension-water fraction W/WM."""
    params = np.atleast_2d(params)
    if isinstance(condition, str):
        if condition not in CONDITIONS:
            raise InputError("state", f"unknown antecedent condition '{condition}'",
                             "use dry, normal or wet")
        fw, fs = _W_FRACTION[condition], _S_FRACTION[condition]
    else:
        fw = float(np.clip(condition, 0.0, 1.0))
        fs = 0.5 * fw
    st = np.zeros((params.shape[0], core.N_STATE))
    st[:, core.S_WU] = fw * params[:, core.P_WUM]
    st[:, core.S_WL] = fw * params[:, core.P_WLM]
    st[:, core.S_WD] = fw * params[:, core.P_WDM]
    st[:, core.S_S] = fs * params[:, core.P_SM]
    st[:, core.S_FR] = 0.1 + 0.5 * fw  # runoff-producing fraction grows with wetness
    return st


def classify_state(state: np.ndarray, params: np.ndarray) -> list[str]:
    """Name each row's antecedent condition from W/WM (< 0.4 dry, < 0.8 normal, else wet)."""
    state, params = np.atleast_2d(state), np.atleast_2d(params)
    w = state[:, :3].sum(axis=1) / params[:, 1:4].sum(axis=1)
    return ["dry" if f < 0.4 else "normal" if f < 0.8 else "wet" for f in w]


def run_xinanjiang(rain_mm: np.ndarray, pet_mm: np.ndarray | float, params: np.ndarray,
                   state: np.ndarray, dt_h: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Channel inflow (RS + QI + QG, mm per step) and actual ET for each series.

    Parameters
    ----------
    rain_mm : (ns, nt) rainfall per step.
    pet_mm : (ns, nt) or scalar, potential evapotranspiration per step.
    params : (ns, 13) Xinanjiang parameters (:func:`params_array`).
    state : (ns, 7) state, updated in place (carry it to the next run).
    dt_h : step length in hours.
    """
    rain = np.ascontiguousarray(rain_mm, dtype=np.float64)
    pet = np.ascontiguousarray(np.broadcast_to(pet_mm, rain.shape), dtype=np.float64)
    inflow = np.empty_like(rain)
    evap = np.empty_like(rain)
    core.xaj_run(rain, pet, np.ascontiguousarray(params, dtype=np.float64), state, float(dt_h), inflow, evap)
    return inflow, evap


def scs_cn_for_condition(cn2: float | np.ndarray, condition: str) -> np.ndarray:
    """Curve number for dry (AMC I), normal (II) or wet (III) soil (Chow et al. 1988, eq. 5.5.3-4)."""
    cn2 = np.asarray(cn2, dtype=float)
    if condition == "dry":
        return 4.2 * cn2 / (10.0 - 0.058 * cn2)
    if condition == "wet":
        return 23.0 * cn2 / (10.0 + 0.13 * cn2)
    if condition == "normal":
        return cn2
    raise InputError("state", f"unknown antecedent condition '{condition}'", "use dry, normal or wet")


def run_scs(rain_mm: np.ndarray, cn: float | np.ndarray, cum_rain_mm: np.ndarray | None = None,
            ia_ratio: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Excess rainfall per step by the SCS curve number (the simple alternative to Xinanjiang).

    Returns ``(excess_mm, cum_rain_mm)``; pass ``cum_rain_mm`` back in to continue an event.
    """
    rain = np.ascontiguousarray(np.atleast_2d(rain_mm), dtype=np.float64)
    ns = rain.shape[0]
    cn_arr = np.ascontiguousarray(np.broadcast_to(np.asarray(cn, dtype=float), (ns,)))
    if np.any((cn_arr <= 0) | (cn_arr > 100)):
        raise InputError("params", "curve number must be in (0, 100]", "use CN between 30 and 98")
    cum = np.zeros(ns) if cum_rain_mm is None else np.array(cum_rain_mm, dtype=float)
    out = np.empty_like(rain)
    core.scs_run(rain, cn_arr, float(ia_ratio), cum, out)
    return out, cum
