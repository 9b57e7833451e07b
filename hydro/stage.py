"""Stage, velocities and hydraulic depth from discharge on a surveyed cross-section (no measured rating).

The reference case has "no measured stage-discharge curve" (无实测水位~流量关系线): the forecast
builds one from Manning's equation on the surveyed cross-section instead, by **conveyance
subdivision**, the method HEC-RAS uses for cross-sections (HEC-RAS Hydraulic Reference Manual,
US Army Corps of Engineers 2016, ch. 2 "Cross section subdivision for conveyance calculations";
Chow 1959, Open-Channel Hydraulics, ch. 6 on compound sections and ch. 2 on the energy coefficient):

- the section is split into the left overbank (LOB), the main channel and the right overbank (ROB) at
  the bank stations, and further wherever Manning's n changes (n given by station ranges);
- for a water level h, each subdivision i has its flow area A_i, wetted perimeter P_i (ground only:
  the vertical lines between subdivisions are not wetted perimeter) and conveyance
  K_i = A_i R_i^(2/3) / n_i, R_i = A_i / P_i;
- the conveyances are added: Q(h) = K S^(1/2), K = sum K_i (Manning 1891; Chow 1959, ch. 6);
  the main channel carries Q K_ch / K, so its velocity is V_ch = Q K_ch / (K A_ch);
- the energy (Coriolis) coefficient is alpha = (A^2 / K^3) sum K_i^3 / A_i^2 (Chow 1959, ch. 2, with
  the velocity of each subdivision K_i S^(1/2) / A_i; HEC-RAS reference manual, ch. 2).

Segments are cut exactly at the waterline; above the highest surveyed point the section is closed by
vertical walls at its two end stations (``Rating.top_m`` tells where that begins). Without bank
stations the whole section is one subdivision with one n (the single-channel method). Water spreading
onto a flat floodplain then lowers the hydraulic radius of the whole and Q(h) can *fall* as h rises;
the rating is not patched (no running maximum): :func:`build_rating` refuses such a profile with the
fix (add bank stations), because a stage that is not single-valued in discharge cannot be forecast.

Mean velocity is V = Q / A and hydraulic depth D = A / T (Chow 1959, section 2-6); the kinematic-wave
celerity c = dQ/dA = (dQ/dh) / T (Lighthill & Whitham 1955) is tabulated for the routing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gis.errors import InputError

MIN_RELIEF_M = 0.05


# ----------------------------------------------------------------------------- one profile parser
def read_profile(text: Any) -> np.ndarray:
    """Read a cross-section profile into an (N, 2) array of station, elevation (m).

    Accepts ``"0,12.5;3,11.0;..."`` (pairs separated by ``;``, newlines or spaces), a JSON list of
    pairs, an array or a sequence of pairs. Raises ``ValueError`` with a short reason when it
    cannot; whether the profile is usable is :func:`profile_problem`'s job.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        raise ValueError("no profile")
    if isinstance(text, np.ndarray):
        return np.array(text, dtype=float)
    if isinstance(text, str):
        s = text.strip()
        if not s:
            raise ValueError("no profile")
        if s.startswith("["):
            import json

            try:
                pairs = json.loads(s)
            except json.JSONDecodeError as exc:
                raise ValueError("expected station,elevation pairs") from exc
        else:
            chunks = [c for c in s.replace("\n", ";").replace(" ", ";").split(";") if c.strip()]
            pairs = [c.split(",") for c in chunks]
    else:
        pairs = list(text)
    try:
        arr = np.array([[float(a), float(b)] for a, b in pairs], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError("expected station,elevation pairs") from exc
    return arr.reshape(-1, 2)


def profile_problem(arr: np.ndarray) -> str | None:
    """Why a profile cannot carry a Manning rating, or ``None`` when it can (the one set of rules)."""
    if arr.ndim != 2 or arr.shape[0] < 3:
        return f"has {arr.shape[0] if arr.ndim == 2 else 0} point(s); a cross-section needs at least 3"
    if not np.all(np.isfinite(arr)):
        return "has non-numeric values"
    if np.any(np.diff(arr[:, 0]) <= 0):
        return "stations are not strictly increasing (list the pairs from left bank to right bank)"
    z = arr[:, 1]
    if np.ptp(z) < MIN_RELIEF_M:
        return f"is flat (relief below {MIN_RELIEF_M} m)"
    if z.min() >= min(z[0], z[-1]):
        return "has its lowest point at an end; the profile must span the channel from bank to bank"
    return None


def parse_profile(text: Any, source: str = "sections", section: str = "?") -> np.ndarray:
    """Read and check a profile; raise :class:`InputError` naming ``source`` and ``section``."""
    try:
        pts = read_profile(text)
    except ValueError as exc:
        raise InputError(source, f"section '{section}': cannot read profile ({exc})",
                         "write `station,elevation;station,elevation;...` in metres") from None
    why = profile_problem(pts)
    if why:
        raise InputError(source, f"section '{section}': profile {why}",
                         "give the surveyed station,elevation pairs across the channel")
    return pts


# ----------------------------------------------------------------------------- roughness layout
@dataclass(frozen=True)
class Roughness:
    """Manning's n across a section: ``n[i]`` applies from ``start_m[i]`` to the next start (HEC-RAS
    style n breakpoints), and the main channel lies between the bank stations (``None``: no banks,
    the whole section is the channel)."""

    start_m: tuple[float, ...]
    n: tuple[float, ...]
    left_bank_m: float | None = None
    right_bank_m: float | None = None

    @property
    def subdivided(self) -> bool:
        return self.left_bank_m is not None


def roughness(profile: np.ndarray, manning_n: float, *, left_bank_m: float | None = None,
              right_bank_m: float | None = None, channel_n: float | None = None,
              overbank_n: float | None = None, n_by_station: np.ndarray | None = None,
              source: str = "sections", section: str = "?") -> Roughness:
    """Check bank stations and n values of a section and lay them out (see :class:`Roughness`).

    ``n_by_station`` (N,) gives n from each profile point to the next (``cross_sections.csv``
    column ``manning_n``); otherwise LOB / channel / ROB take ``overbank_n`` / ``channel_n`` /
    ``overbank_n`` (each defaulting to ``manning_n``).
    """
    x = profile[:, 0]
    banks = (left_bank_m, right_bank_m)
    has = [b is not None and np.isfinite(b) for b in banks]
    if any(has) and not all(has):
        raise InputError(source, f"section '{section}': only one bank station given",
                         "give both left_bank_m and right_bank_m (stations of the main channel's banks) or neither")
    for v, what in ((manning_n, "manning_n"), (channel_n, "channel_n"), (overbank_n, "overbank_n")):
        if v is not None and not (np.isfinite(v) and v > 0):
            raise InputError(source, f"section '{section}': {what} = {v}", f"give a positive {what}")
    lb = rb = None
    if all(has):
        lb, rb = float(left_bank_m), float(right_bank_m)
        if not (x[0] <= lb < rb <= x[-1]):
            raise InputError(source, f"section '{section}': bank stations {lb:g} and {rb:g} m are outside the "
                                     f"profile ({x[0]:g} to {x[-1]:g} m) or not in order",
                             "give left_bank_m < right_bank_m, both between the first and last station")
        zb = profile[:, 1][(x > lb) & (x < rb)]
        if zb.size == 0 or zb.min() >= min(np.interp(lb, x, profile[:, 1]), np.interp(rb, x, profile[:, 1])):
            raise InputError(source, f"section '{section}': no channel bed between the bank stations "
                                     f"{lb:g} and {rb:g} m",
                             "put the bank stations on the tops of the main channel's banks")
    if n_by_station is not None:
        n = np.asarray(n_by_station, dtype=float)
        if n.shape != x.shape or not np.all(np.isfinite(n[:-1]) & (n[:-1] > 0)):
            raise InputError(source, f"section '{section}': manning_n by station is missing or not positive",
                             "give a positive manning_n on every cross_sections.csv row (n to the next station)")
        keep = np.concatenate([[True], np.diff(n[:-1]) != 0])
        return Roughness(tuple(x[:-1][keep]), tuple(n[:-1][keep]), lb, rb)
    nc = float(channel_n if channel_n is not None else manning_n)
    if lb is None:
        return Roughness((float(x[0]),), (nc,))
    no = float(overbank_n if overbank_n is not None else manning_n)
    return Roughness((float(x[0]), lb, rb), (no, nc, no), lb, rb)


# ----------------------------------------------------------------------------- geometry
def _insert_stations(profile: np.ndarray, stations) -> np.ndarray:
    """The profile with points added (elevation interpolated) at ``stations`` inside it."""
    x, z = profile[:, 0], profile[:, 1]
    add = np.array([s for s in stations if x[0] < s < x[-1] and not np.any(np.isclose(x, s))], dtype=float)
    if add.size == 0:
        return profile
    xs = np.concatenate([x, add])
    zs = np.concatenate([z, np.interp(add, x, z)])
    o = np.argsort(xs, kind="stable")
    return np.column_stack([xs[o], zs[o]])


def _segment_geometry(profile: np.ndarray, level: np.ndarray):
    """Per segment (levels, segments): flow area, wetted length and top width, cut at the waterline."""
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
    area = np.where(both, 0.5 * (d0 + d1) * dx, np.where(one, 0.5 * np.maximum(d0, d1) * f * dx, 0.0))
    return area, f * seg, f * dx


def wetted_geometry(profile: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flow area (m2), wetted perimeter (m) and top width (m) of ``profile`` at each ``level``.

    Segments are cut exactly at the waterline; above the end points the section is closed by
    vertical walls. Vectorised over levels.
    """
    a, p, w = _segment_geometry(profile, level)
    h = np.atleast_1d(np.asarray(level, dtype=float))
    walls = np.clip(h - profile[0, 1], 0.0, None) + np.clip(h - profile[-1, 1], 0.0, None)
    return a.sum(axis=1), p.sum(axis=1) + walls, w.sum(axis=1)


def subdivision_geometry(profile: np.ndarray, level: np.ndarray, starts) -> tuple[np.ndarray, ...]:
    """Area, wetted perimeter and top width (levels, subdivisions) with subdivisions starting at the
    stations ``starts`` (the first at the profile's first station); vertical walls above the end
    stations belong to the first and last subdivision, dividing lines are not wetted perimeter."""
    starts = np.asarray(starts, dtype=float)
    prof = _insert_stations(profile, starts[1:])
    a, p, w = _segment_geometry(prof, level)
    mid = 0.5 * (prof[:-1, 0] + prof[1:, 0])
    sub = np.searchsorted(starts, mid, side="right") - 1
    ns = len(starts)
    out = []
    for arr in (a, p, w):
        s = np.zeros((arr.shape[0], ns))
        for k in range(ns):
            s[:, k] = arr[:, sub == k].sum(axis=1)
        out.append(s)
    h = np.atleast_1d(np.asarray(level, dtype=float))
    out[1][:, 0] += np.clip(h - prof[0, 1], 0.0, None)
    out[1][:, -1] += np.clip(h - prof[-1, 1], 0.0, None)
    return out[0], out[1], out[2]


# ----------------------------------------------------------------------------- the rating
@dataclass
class Rating:
    """Rating table of one section by subdivided conveyance, against water level.

    Columns: total discharge, flow area, top width, main-channel area, the main channel's share of
    the conveyance K_ch / K, the energy coefficient alpha and the kinematic celerity dQ/dA.
    """

    section: str
    level_m: np.ndarray
    discharge_m3_per_s: np.ndarray
    area_m2: np.ndarray
    top_width_m: np.ndarray
    bed_m: float
    top_m: float
    channel_area_m2: np.ndarray | None = None
    channel_share: np.ndarray | None = None
    alpha: np.ndarray | None = None
    celerity_m_per_s: np.ndarray | None = None
    subdivided: bool = False

    def __post_init__(self):
        if self.channel_area_m2 is None:
            self.channel_area_m2 = self.area_m2
        if self.channel_share is None:
            self.channel_share = np.ones_like(self.level_m)
        if self.alpha is None:
            self.alpha = np.ones_like(self.level_m)
        if self.celerity_m_per_s is None:
            self.celerity_m_per_s = celerity_table(self.level_m, self.discharge_m3_per_s, self.top_width_m)

    def stage(self, q: np.ndarray) -> np.ndarray:
        """Water level (m) for discharge ``q`` (m3/s), any shape."""
        q = np.asarray(q, dtype=float)
        return np.interp(q, self.discharge_m3_per_s, self.level_m, left=self.bed_m)

    def discharge(self, level: np.ndarray) -> np.ndarray:
        return np.interp(level, self.level_m, self.discharge_m3_per_s, left=0.0)

    def hydraulics(self, q: np.ndarray) -> dict[str, np.ndarray]:
        """Stage (m), mean and main-channel velocity (m/s), hydraulic depth A/T (m), flow area (m2),
        top width (m) and energy coefficient alpha for discharge ``q`` (any shape)."""
        q = np.asarray(q, dtype=float)
        h = self.stage(q)
        a = np.interp(h, self.level_m, self.area_m2)
        t = np.interp(h, self.level_m, self.top_width_m)
        ach = np.interp(h, self.level_m, self.channel_area_m2)
        share = np.interp(h, self.level_m, self.channel_share)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(a > 0, q / a, 0.0)
            vch = np.where(ach > 0, q * share / ach, 0.0)
            d = np.where(t > 0, a / t, 0.0)
        return {"stage": h, "velocity": v, "channel_velocity": vch, "depth": d, "area": a, "top_width": t,
                "alpha": np.interp(h, self.level_m, self.alpha)}

    def celerity(self, q: float | np.ndarray) -> tuple[Any, Any]:
        """Kinematic wave celerity dQ/dA (m/s) and top width (m) at discharge ``q``."""
        c = np.interp(q, self.discharge_m3_per_s, self.celerity_m_per_s)
        w = np.interp(self.stage(q), self.level_m, self.top_width_m)
        if np.ndim(q) == 0:
            return float(c), float(w)
        return c, w


def celerity_table(level: np.ndarray, q: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Kinematic celerity c = (dQ/dh) / T on the table (one-sided at the ends)."""
    dqdh = np.gradient(q, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(width > 0, dqdh / width, 0.0)
    c[0] = c[1] if len(c) > 1 else c[0]
    return np.maximum(c, 0.0)


def build_rating(profile: np.ndarray, manning_n: float, slope: float, section: str = "?", levels: int = 2000,
                 headroom_m: float = 10.0, *, rough: Roughness | None = None, source: str = "sections") -> Rating:
    """Tabulate the subdivided-conveyance rating of ``profile`` from the thalweg to ``headroom_m``
    above its top (see module docstring). ``rough`` lays out n and the banks (default: one channel
    with ``manning_n``). Raises :class:`InputError` when Q(h) is not increasing."""
    if not (manning_n > 0 and slope > 0):
        raise InputError(source, f"section '{section}': manning_n={manning_n}, bed_slope={slope}",
                         "give positive manning_n and bed_slope (m/m)")
    rough = rough or Roughness((float(profile[0, 0]),), (float(manning_n),))
    z = profile[:, 1]
    bed, top = float(z.min()), float(min(z[0], z[-1]))
    h = np.linspace(bed, max(z.max(), top) + headroom_m, levels)
    starts = list(rough.start_m)
    nvals = list(rough.n)
    # subdivision boundaries: n changes and bank stations
    bounds = sorted(set(starts) | ({rough.left_bank_m, rough.right_bank_m} if rough.subdivided else set()))
    bounds = [b for b in bounds if profile[0, 0] <= b < profile[-1, 0]] or [float(profile[0, 0])]
    bounds[0] = float(profile[0, 0])
    n_sub = np.array([nvals[max(0, np.searchsorted(starts, b, side="right") - 1)] for b in bounds])
    a, p, w = subdivision_geometry(profile, h, bounds)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(p > 0, a * np.where(p > 0, a / p, 0.0) ** (2.0 / 3.0), 0.0) / n_sub[None, :]
    if rough.subdivided:
        b = np.asarray(bounds)
        ch = (b >= rough.left_bank_m - 1e-9) & (b < rough.right_bank_m - 1e-9)
    else:
        ch = np.ones(len(bounds), dtype=bool)
    kt = k.sum(axis=1)
    at = a.sum(axis=1)
    q = kt * math.sqrt(slope)
    drop = np.nonzero(np.diff(q) < -1e-9 * np.maximum(q[1:], 1.0))[0]
    if drop.size:
        i = int(drop[0])
        j = i + 1 + int(np.argmin(q[i + 1:]))
        raise InputError(source, f"section '{section}': the rating is not monotonic: discharge falls from "
                                 f"{q[i]:.1f} m3/s at {h[i]:.2f} m to {q[j]:.1f} m3/s at {h[j]:.2f} m as water "
                                 "spreads over the floodplain (one-channel Manning)",
                         "add bank stations (left_bank_m, right_bank_m) and overbank n so the floodplains are "
                         "their own conveyance subdivisions")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(kt > 0, k[:, ch].sum(axis=1) / kt, 1.0)
        wet = a > 0
        alpha = np.where(kt > 0, at**2 / kt**3 * np.where(wet, k**3 / np.where(wet, a, 1.0) ** 2, 0.0).sum(axis=1),
                         1.0)
    alpha[0] = alpha[1]
    # strictly increasing for a unique inverse (only the bed level repeats Q = 0)
    q = q + np.arange(levels) * 1e-9
    width = w.sum(axis=1)
    return Rating(section, h, q, at, width, bed, top, a[:, ch].sum(axis=1), share, alpha,
                  celerity_table(h, q, width), rough.subdivided)


def flat_between(rating: Rating, low_m: float, high_m: float, min_rise: float = 0.02) -> bool:
    """True when the rating gains less than ``min_rise`` (fraction) of discharge from ``low_m`` to
    ``high_m``: both levels are crossed at practically the same discharge."""
    q0, q1 = (float(v) for v in rating.discharge(np.array([low_m, high_m])))
    return q1 - q0 < min_rise * max(q0, 1e-6)


def _opt(row, key: str) -> float | None:
    v = row.get(key) if hasattr(row, "get") else None
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return None if math.isnan(v) else v


SECTION_HYDRAULIC_COLUMNS = ("left_bank_m", "right_bank_m", "channel_n", "overbank_n")


def section_rating(row, profile: np.ndarray, n_by_station: np.ndarray | None = None,
                   source: str = "sections") -> Rating:
    """The rating of one row of the sections layer: ``bed_slope``, ``manning_n`` and the optional
    ``left_bank_m``, ``right_bank_m`` (stations of the main channel's bank tops), ``channel_n`` and
    ``overbank_n``; ``n_by_station`` from ``cross_sections.csv`` when it has a ``manning_n`` column."""
    name = str(row.get("name", row.get("id", "?")))
    vals = {}
    for k in SECTION_HYDRAULIC_COLUMNS:
        v = _opt(row, k)
        if v is not None and not np.isfinite(v):
            raise InputError(source, f"section '{name}': `{k}` = {row.get(k)!r} is not a number",
                             f"give {k} as a number or leave it empty")
        vals[k] = v
    n = float(row["manning_n"])
    rough = roughness(profile, n, left_bank_m=vals["left_bank_m"], right_bank_m=vals["right_bank_m"],
                      channel_n=vals["channel_n"], overbank_n=vals["overbank_n"], n_by_station=n_by_station,
                      source=source, section=name)
    return build_rating(profile, n, float(row["bed_slope"]), name, rough=rough, source=source)
