"""Stage, mean velocity and hydraulic depth from discharge without a measured rating curve.

The reference case has "no measured stage-discharge curve" (无实测水位~流量关系线): the forecast
inverts Manning's equation on the surveyed cross-section instead. For a water level h the wetted
polygon of the profile (station, elevation pairs; partially wetted segments cut at the waterline)
gives flow area A, wetted perimeter P and top width T, and

    Q(h) = A R^(2/3) S^(1/2) / n,   R = A / P          (Manning 1891; Chow 1959, eq. 5-7)

is tabulated on a fine grid of levels and inverted by monotone interpolation. Mean velocity is
V = Q / A and hydraulic depth D = A / T (Chow 1959, section 2-6). The whole section is treated as
one channel; where a compound section's Q(h) dips as water spreads onto a flat floodplain (the
well-known artefact of the single-channel method) the table keeps the running maximum so that
stage stays a single-valued function of discharge. Above the highest surveyed point the section is
extended by vertical walls at its two end stations (``Rating.top_m`` tells where that begins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gis.errors import InputError


def parse_profile(text: str | np.ndarray, source: str = "sections", section: str = "?") -> np.ndarray:
    """Parse ``"station,elevation;station,elevation;..."`` into an (N, 2) array and validate it."""
    if isinstance(text, str):
        try:
            pts = np.array([[float(v) for v in pair.split(",")] for pair in text.strip().strip(";").split(";")])
        except ValueError as exc:
            raise InputError(source, f"section '{section}': cannot read profile ({exc})",
                             "write `station,elevation;station,elevation;...` in metres") from None
    else:
        pts = np.asarray(text, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 3:
        raise InputError(source, f"section '{section}': profile has {len(pts)} point(s)",
                         "survey at least 3 station,elevation pairs across the channel")
    if not np.all(np.isfinite(pts)):
        raise InputError(source, f"section '{section}': profile has NaN values", "fix the surveyed pairs")
    if np.any(np.diff(pts[:, 0]) <= 0):
        raise InputError(source, f"section '{section}': profile stations do not increase",
                         "list the pairs from left bank to right bank with increasing station")
    z = pts[:, 1]
    if z.max() - z.min() < 0.05 or z.min() >= min(z[0], z[-1]):
        raise InputError(source, f"section '{section}': profile is flat (no channel below the banks)",
                         "survey the channel bed between two higher bank points")
    return pts


def wetted_geometry(profile: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flow area (m2), wetted perimeter (m) and top width (m) of ``profile`` at each ``level``.

    Segments are cut exactly at the waterline; above the end points the section is closed by
    vertical walls. Vectorised over levels.
    """
    x, z = profile[:, 0], profile[:, 1]
    h = np.atleast_1d(np.asarray(level, dtype=float))[:, None]
    x0, x1, z0, z1 = x[:-1], x[1:], z[:-1], z[1:]
    d0 = np.clip(h - z0, 0.0, None)
    d1 = np.clip(h - z1, 0.0, None)
    dx = x1 - x0
    dz = z1 - z0
    seg = np.hypot(dx, dz)
    both = (d0 > 0) & (d1 > 0)
    one = (d0 > 0) ^ (d1 > 0)
    # fraction of the segment under water when only one end is wet
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(one, np.maximum(d0, d1) / np.abs(dz), 0.0)
    f = np.where(both, 1.0, np.clip(f, 0.0, 1.0))
    area = np.where(both, 0.5 * (d0 + d1) * dx, np.where(one, 0.5 * np.maximum(d0, d1) * f * dx, 0.0)).sum(axis=1)
    perim = (f * seg).sum(axis=1)
    width = (f * dx).sum(axis=1)
    # vertical walls above the end stations
    hl = np.clip(h[:, 0] - z[0], 0.0, None)
    hr = np.clip(h[:, 0] - z[-1], 0.0, None)
    perim = perim + hl + hr
    return area, perim, width


@dataclass
class Rating:
    """Manning rating table of one section: discharge, area and top width against water level."""

    section: str
    level_m: np.ndarray
    discharge_m3_per_s: np.ndarray
    area_m2: np.ndarray
    top_width_m: np.ndarray
    bed_m: float
    top_m: float

    def stage(self, q: np.ndarray) -> np.ndarray:
        """Water level (m) for discharge ``q`` (m3/s), any shape."""
        q = np.asarray(q, dtype=float)
        return np.interp(q, self.discharge_m3_per_s, self.level_m, left=self.bed_m)

    def discharge(self, level: np.ndarray) -> np.ndarray:
        return np.interp(level, self.level_m, self.discharge_m3_per_s, left=0.0)

    def hydraulics(self, q: np.ndarray) -> dict[str, np.ndarray]:
        """Stage (m), mean velocity (m/s), hydraulic depth A/T (m) and flow area for ``q``."""
        q = np.asarray(q, dtype=float)
        h = self.stage(q)
        a = np.interp(h, self.level_m, self.area_m2)
        t = np.interp(h, self.level_m, self.top_width_m)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(a > 0, q / a, 0.0)
            d = np.where(t > 0, a / t, 0.0)
        return {"stage": h, "velocity": v, "depth": d, "area": a}

    def celerity(self, q: float) -> tuple[float, float]:
        """Kinematic wave celerity dQ/dA (m/s) and top width (m) at discharge ``q``."""
        h = float(self.stage(q))
        i = int(np.clip(np.searchsorted(self.level_m, h), 1, len(self.level_m) - 1))
        da = self.area_m2[i] - self.area_m2[i - 1]
        dq = self.discharge_m3_per_s[i] - self.discharge_m3_per_s[i - 1]
        c = dq / da if da > 0 else 0.0
        return max(c, 0.1), float(np.interp(h, self.level_m, self.top_width_m))


def build_rating(profile: np.ndarray, manning_n: float, slope: float, section: str = "?",
                 levels: int = 2000, headroom_m: float = 10.0) -> Rating:
    """Tabulate Manning's Q(h) on ``profile`` from the thalweg to ``headroom_m`` above its top."""
    if not (manning_n > 0 and slope > 0):
        raise InputError("sections", f"section '{section}': manning_n={manning_n}, bed_slope={slope}",
                         "give positive manning_n and bed_slope (m/m)")
    z = profile[:, 1]
    bed, top = float(z.min()), float(min(z[0], z[-1]))
    h = np.linspace(bed, max(z.max(), top) + headroom_m, levels)
    a, p, w = wetted_geometry(profile, h)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(p > 0, a / p, 0.0)
    q = a * r ** (2.0 / 3.0) * np.sqrt(slope) / manning_n
    q = np.maximum.accumulate(q)
    # strictly increasing for a unique inverse (flat steps only from the running maximum)
    q = q + np.arange(levels) * 1e-9
    return Rating(section, h, q, a, w, bed, top)
