"""Index-insurance triggers: a small rule engine over a track and rain series.

Two kinds of rule:

* :class:`CircleRule` - the storm centre enters a circle (centre, radius) while its wind-force
  level (GB/T 28591-2012, from the track's maximum wind) is within ``min_level..max_level``; the
  payout tier is the highest level reached inside the circle (levels above ``max_level`` count
  as ``max_level``).
* :class:`RainRule` - the rain accumulated over any ``window_h`` hours at any named station
  reaches a tier threshold; the tier is the highest threshold reached.

Each rule reports whether it fires, when (first moment the condition holds) and at which tier.
:func:`taizhou_rules` builds the 台州 catastrophe-insurance example (BRIEF, seed 002 lines
882-898): an 85 km circle around 121°07'E 28°39'N with grades 12-17 (lowest payout 10 million
CNY at level 12, up to 175 million CNY at level 17; the levels between are interpolated here
for illustration, set them from the contract), and any 72 h rain >= 140 mm at designated stations.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import InputError

from .core_wind import KM_PER_DEG
from .tracks import interpolate_track, level_of


def distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km, haversine on a 6371 km sphere)."""
    p1, p2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dlat = p2 - p1
    dlon = np.deg2rad(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2.0 * (KM_PER_DEG * 180.0 / np.pi) * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _iso(t) -> str | None:
    return None if t is None or pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class CircleRule:
    """Storm centre inside a circle at a wind-force level within a range; payout by level."""

    name: str
    lon: float
    lat: float
    radius_km: float
    min_level: int = 12
    max_level: int = 17
    payout_by_level: dict[int, float] = field(default_factory=dict)
    currency: str = "CNY"

    def evaluate(self, track: pd.DataFrame, step_min: float = 10.0) -> dict:
        fine = interpolate_track(track, step_min=step_min)
        d = distance_km(fine["lat"].to_numpy(), fine["lon"].to_numpy(), self.lat, self.lon)
        lvl = level_of(fine["vmax_m_per_s"].to_numpy())
        inside = d <= self.radius_km
        hit = inside & (lvl >= self.min_level)
        out = {"rule": self.name, "kind": "circle", "centre_lon": self.lon, "centre_lat": self.lat,
               "radius_km": self.radius_km, "levels": [self.min_level, self.max_level],
               "min_distance_km": round(float(d.min()), 1),
               "time_of_min_distance": _iso(fine["time"].iloc[int(d.argmin())]),
               "entered_circle": bool(inside.any()),
               "entry_time": _iso(fine["time"][inside].iloc[0]) if inside.any() else None,
               "max_level_inside": int(lvl[inside].max()) if inside.any() else None,
               "fired": bool(hit.any()), "time": None, "tier": None, "payout": 0.0, "currency": self.currency}
        if hit.any():
            tier = int(min(lvl[inside].max(), self.max_level))
            out.update(time=_iso(fine["time"][hit].iloc[0]), tier=f"level {tier}",
                       payout=float(self.payout_by_level.get(tier, 0.0)))
        return out


@dataclass(frozen=True)
class RainRule:
    """Rain over any ``window_h`` hours at any station reaching a threshold; payout by threshold."""

    name: str
    stations: dict[str, tuple[float, float]]  # name -> (lon, lat)
    window_h: int = 72
    tiers_mm: tuple[tuple[float, float], ...] = ((140.0, 0.0),)  # (threshold mm, payout)
    currency: str = "CNY"

    def evaluate(self, rain: pd.DataFrame) -> dict:
        """``rain``: hourly mm per station (DatetimeIndex of hour starts, one column per station)."""
        tiers = sorted(self.tiers_mm)
        out = {"rule": self.name, "kind": "rain", "window_h": self.window_h,
               "thresholds_mm": [t for t, _ in tiers], "stations": {}, "fired": False, "time": None,
               "tier": None, "payout": 0.0, "currency": self.currency}
        first_time = None
        best = -1
        for st in self.stations:
            if st not in rain.columns:
                raise InputError("rain", f"no rain series for station '{st}' of rule '{self.name}'",
                                 "give a series for every designated station")
            acc = rain[st].rolling(self.window_h, min_periods=1).sum()
            peak = float(acc.max()) if len(acc) else 0.0
            end = acc.idxmax() + pd.Timedelta(hours=1) if len(acc) else None
            out["stations"][st] = {"max_accumulation_mm": round(peak, 1), "window_end": _iso(end)}
            if tiers and peak >= tiers[0][0]:
                t = acc.index[int(np.argmax(acc.to_numpy() >= tiers[0][0]))] + pd.Timedelta(hours=1)
                first_time = t if first_time is None else min(first_time, t)
                best = max(best, max(k for k, (thr, _) in enumerate(tiers) if peak >= thr))
        if best >= 0:
            out.update(fired=True, time=_iso(first_time), tier=f">= {tiers[best][0]:g} mm",
                       payout=float(tiers[best][1]))
        return out


TAIZHOU_CENTRE = (121.0 + 7.0 / 60.0, 28.0 + 39.0 / 60.0)  # 东经121°07', 北纬28°39'
# Level 12 pays 10 million and level 17 175 million CNY (seed 002); the levels between are linear
# interpolation for illustration only.
TAIZHOU_PAYOUT_CNY = {lvl: 1.0e7 + (1.75e8 - 1.0e7) * (lvl - 12) / 5.0 for lvl in range(12, 18)}
# Each county designates 3 stations; their list is not public. One illustrative point near
# 温岭大溪 (approximate position) stands in for them.
TAIZHOU_RAIN_STATIONS = {"温岭大溪(示意)": (121.29, 28.46)}


def taizhou_rules(stations: dict[str, tuple[float, float]] | None = None) -> list:
    """The 台州 typhoon and heavy-rain index rules (circle 85 km, levels 12-17; 72 h >= 140 mm)."""
    lon, lat = TAIZHOU_CENTRE
    return [
        CircleRule("台州台风指数保险 (85 km circle, level 12-17)", lon, lat, 85.0, 12, 17, dict(TAIZHOU_PAYOUT_CNY)),
        RainRule("台州强降雨指数保险 (72 h >= 140 mm)", dict(stations or TAIZHOU_RAIN_STATIONS), 72, ((140.0, 0.0),)),
    ]


def evaluate_rules(rules: list, track: pd.DataFrame, rain_for_stations) -> list[dict]:
    """Evaluate rules; ``rain_for_stations(stations) -> DataFrame`` supplies rain for rain rules."""
    out = []
    for r in rules:
        if isinstance(r, CircleRule):
            out.append(r.evaluate(track))
        else:
            out.append(r.evaluate(rain_for_stations(r.stations)))
    return out


def rules_from_toml(path: str | Path) -> list:
    """Read rules from a TOML file with ``[[circle]]`` and ``[[rain]]`` tables.

    Example::

        [[circle]]
        name = "my circle"
        lon = 121.117
        lat = 28.65
        radius_km = 85
        min_level = 12
        max_level = 17
        payout = { "12" = 1e7, "17" = 1.75e8 }

        [[rain]]
        name = "72 h rain"
        window_h = 72
        stations = [{ name = "大溪", lon = 121.29, lat = 28.46 }]
        tiers = [[140, 0], [200, 1e6]]   # [threshold_mm, payout]
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(path, f"cannot read rules ({exc})", "write a TOML file with [[circle]] / [[rain]] tables") from None
    rules: list = []
    try:
        for c in doc.get("circle", []):
            rules.append(CircleRule(str(c["name"]), float(c["lon"]), float(c["lat"]), float(c["radius_km"]),
                                    int(c.get("min_level", 12)), int(c.get("max_level", 17)),
                                    {int(k): float(v) for k, v in c.get("payout", {}).items()}))
        for r in doc.get("rain", []):
            st = {str(s["name"]): (float(s["lon"]), float(s["lat"])) for s in r["stations"]}
            tiers = tuple((float(t), float(p)) for t, p in r.get("tiers", [[140, 0]]))
            rules.append(RainRule(str(r["name"]), st, int(r.get("window_h", 72)), tiers))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"rule field missing or not a number: {exc}",
                         "circle rules need name, lon, lat, radius_km; rain rules need name and stations") from None
    if not rules:
        raise InputError(path, "no [[circle]] or [[rain]] rule", "add at least one rule")
    return rules
