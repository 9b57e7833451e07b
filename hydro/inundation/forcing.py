"""Forcing of the 2-D model: rain on the grid, inflow hydrographs, stage hydrographs.

These are plain containers that the time loop samples; they never open files (see ``io.py``).
Rain is piecewise constant: the value of row k applies from ``times_s[k]`` until ``times_s[k+1]``
(the last row for one more interval of the same length), then no rain. Hydrographs (discharge,
stage) are interpolated linearly in time and held at their end values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MM_PER_H = 1.0 / 3.6e6  # m/s per mm/h


@dataclass
class Rain:
    """Rain on the grid: a uniform series or a gridded stack, in mm/h.

    Parameters
    ----------
    times_s : array of float
        Start of each interval, seconds since the start of the run, strictly increasing.
    rate_mm_per_h : array
        Shape ``(nt,)`` for rain uniform in space, or ``(nt, ny, nx)`` on the DEM grid.
    runoff_coefficient : float
        Fraction of rain that becomes surface water (0-1), default 1.
    loss_mm_per_h : float
        Constant infiltration loss subtracted from the rain rate (never below zero), default 0.
    """

    times_s: np.ndarray
    rate_mm_per_h: np.ndarray
    runoff_coefficient: float = 1.0
    loss_mm_per_h: float = 0.0
    _ends: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.times_s = np.asarray(self.times_s, dtype=float)
        self.rate_mm_per_h = np.asarray(self.rate_mm_per_h, dtype=np.float32)
        if self.times_s.ndim != 1 or len(self.times_s) != len(self.rate_mm_per_h):
            raise ValueError("rain: times_s and rate_mm_per_h must have the same length")
        step = np.diff(self.times_s)[-1] if len(self.times_s) > 1 else 3600.0
        self._ends = np.append(self.times_s[1:], self.times_s[-1] + step)

    @classmethod
    def constant(cls, rate_mm_per_h: float, duration_s: float, **kw) -> Rain:
        """Uniform rain at a constant rate from time 0 for ``duration_s`` seconds."""
        return cls(np.array([0.0]), np.array([rate_mm_per_h]), **kw) if duration_s <= 0 else \
            cls(np.array([0.0, duration_s]), np.array([rate_mm_per_h, 0.0]), **kw)

    @property
    def gridded(self) -> bool:
        return self.rate_mm_per_h.ndim == 3

    def index(self, t: float) -> int:
        """Row in force at time ``t`` (-1 when no rain)."""
        k = int(np.searchsorted(self.times_s, t, side="right")) - 1
        if k < 0 or t >= self._ends[k]:
            return -1
        return k

    def next_change(self, t: float) -> float:
        """The first time after ``t`` at which the rate changes (inf if none)."""
        edges = np.concatenate([self.times_s, self._ends])
        later = edges[edges > t + 1e-9]
        return float(later.min()) if later.size else np.inf

    def net_m_per_s(self, k: int):
        """Net rate in m/s of row ``k``: a float (uniform) or a 2-D float32 array (gridded)."""
        if k < 0:
            return 0.0
        r = self.rate_mm_per_h[k]
        net = np.maximum(r * self.runoff_coefficient - self.loss_mm_per_h, 0.0) * MM_PER_H
        return float(net) if not self.gridded else net.astype(np.float32)


@dataclass
class Hydrograph:
    """A discharge (m3/s) or stage (m) time series at a set of grid cells.

    Parameters
    ----------
    name : str
        Location name (used in messages and the water balance).
    rows, cols : array of int
        Cells (unpadded row/column indices on the DEM grid) the series acts on. An inflow is
        shared equally between them; a stage is imposed on each.
    times_s, values : array of float
        Series, seconds since the start; linear in time, held at the ends.
    """

    name: str
    rows: np.ndarray
    cols: np.ndarray
    times_s: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        self.rows = np.asarray(self.rows, dtype=np.int64)
        self.cols = np.asarray(self.cols, dtype=np.int64)
        self.times_s = np.asarray(self.times_s, dtype=float)
        self.values = np.asarray(self.values, dtype=float)

    def at(self, t: float) -> float:
        return float(np.interp(t, self.times_s, self.values))

    def integral(self, t0: float, t1: float) -> float:
        """Exact integral of the series from ``t0`` to ``t1`` (m3 for a discharge): trapezoids
        between the breakpoints inside the interval, so a step that straddles one loses nothing."""
        inside = self.times_s[(self.times_s > t0) & (self.times_s < t1)]
        tt = np.concatenate(([t0], inside, [t1]))
        v = np.interp(tt, self.times_s, self.values)
        return float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(tt)))
