"""A synthetic Lekima-like track for the sample case. SYNTHETIC: not the CMA best track.

It is built to three published facts of 利奇马 (Lekima, 1909): landfall at 温岭 (Wenling,
Zhejiang) at 2019-08-10 01:45 Beijing time with about 52 m/s and 930 hPa. The path before and
after is a smooth hand-drawn NW-then-N curve in the spirit of the real storm (north of Taiwan,
across eastern Zhejiang, over Jiangsu into the Yellow Sea), and the decay over land is a
plausible one. Do not use it as the observed track; read the CMA best track for that.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gis.atomic import write_text

LANDFALL_TIME = pd.Timestamp("2019-08-10 01:45")
LANDFALL_LON, LANDFALL_LAT = 121.45, 28.30  # 温岭城南 (approximate)

# time (Beijing), lat, lon, pressure hPa, vmax m/s: anchors of the synthetic track
_ANCHORS = [
    ("2019-08-07 08:00", 20.6, 127.6, 950, 45),
    ("2019-08-07 14:00", 21.3, 127.0, 940, 50),
    ("2019-08-07 20:00", 22.0, 126.3, 930, 55),
    ("2019-08-08 02:00", 22.7, 125.6, 925, 58),
    ("2019-08-08 08:00", 23.4, 124.9, 920, 60),
    ("2019-08-08 14:00", 24.1, 124.2, 920, 60),
    ("2019-08-08 20:00", 24.9, 123.6, 925, 58),
    ("2019-08-09 02:00", 25.6, 123.1, 925, 58),
    ("2019-08-09 08:00", 26.3, 122.6, 928, 55),
    ("2019-08-09 14:00", 27.0, 122.2, 930, 52),
    ("2019-08-09 20:00", 27.7, 121.8, 930, 52),
    (LANDFALL_TIME.strftime("%Y-%m-%d %H:%M"), LANDFALL_LAT, LANDFALL_LON, 930, 52),
    ("2019-08-10 08:00", 28.9, 121.0, 950, 40),
    ("2019-08-10 14:00", 29.6, 120.7, 965, 30),
    ("2019-08-10 20:00", 30.4, 120.5, 975, 25),
    ("2019-08-11 02:00", 31.2, 120.3, 980, 23),
    ("2019-08-11 08:00", 32.2, 120.2, 982, 23),
    ("2019-08-11 14:00", 33.4, 120.6, 982, 23),
    ("2019-08-11 20:00", 35.0, 120.7, 982, 23),
    ("2019-08-12 02:00", 36.2, 120.2, 985, 20),
    ("2019-08-12 08:00", 37.0, 119.6, 990, 18),
]

HEADER = ("# SYNTHETIC typhoon track for the floodkit sample case - NOT observed data.\n"
          "# Built to Lekima (1909)'s published landfall: 温岭 2019-08-10 01:45 Beijing time, ~52 m/s, ~930 hPa;\n"
          "# the rest of the path and the intensities are hand-made. Times: Beijing local time.\n")


def synthetic_lekima_like_track() -> pd.DataFrame:
    """The synthetic Lekima-like track as a forecast-CSV table (time, lat, lon, pressure_hpa, vmax_m_per_s)."""
    df = pd.DataFrame(_ANCHORS, columns=["time", "lat", "lon", "pressure_hpa", "vmax_m_per_s"])
    df["time"] = pd.to_datetime(df["time"])
    df.insert(0, "name", "Lekima-like (synthetic)")
    return df


def write_sample_track(path: str | Path) -> Path:
    """Write the synthetic track as a forecast CSV with a comment header saying it is synthetic."""
    df = synthetic_lekima_like_track()
    body = df.to_csv(index=False, date_format="%Y-%m-%d %H:%M", float_format="%.2f")
    return write_text(path, HEADER + body)
