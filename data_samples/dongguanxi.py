"""Recipe of the synthetic 东关溪-like sample case.

**The terrain, villages, households, shelters, roads, gauges and rainfall made here are
synthetic.** No public DEM or village register of 东关溪 is reachable from our machines, so the
case is built to the published facts (BRIEF.md; seeds/002 lines 561-597):

- a steep mountain catchment of about 173 km² in the 天目山 area, draining to one outlet, placed
  near 30.3°N 119.5°E in CGCS2000 / 3-degree Gauss-Krüger CM 120°E (EPSG:4549);
- a main valley with tributaries; 3 forecast sections on the main stream named 一都, 白鹤, 绍鲁;
- 2 towns, 17 villages on the valley floors, 22,600 people in households, farm-stays (农家乐) and
  scenic spots with visitors;
- shelters on higher ground with capacities, a connected road network, 6 rain gauges, 3 hourly
  rainfall events of different severity and design storms for 5-100-year return periods.

The recipe is deterministic (seeded) and resolution-independent: terrain is an analytic function
of the distance to the stream network plus smooth noise defined on a fixed 200 m lattice, so the
30 m committed sample and the 5 m full-scale case (``python cli.py sample dongguanxi
--resolution 5 --out DIR``, about 6.9 M valid cells) describe the same landscape. Vector layers
are always derived at 30 m and shared by every resolution.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CRS = "EPSG:4549"
CENTER_LONLAT = (119.5, 30.3)
CENTER_XY = (451902.0, 3353476.0)  # CENTER_LONLAT in EPSG:4549, rounded to 1 m
TARGET_AREA_KM2 = 173.0
TOTAL_POPULATION = 22_600
ROTATION_DEG = -12.0  # the main valley runs WNW -> ESE
NODATA = -9999.0
VECTOR_RESOLUTION_M = 30.0

SECTIONS = [  # name, distance upstream of the outlet along the main stream (m)
    ("一都", 13_500.0),
    ("白鹤", 8_200.0),
    ("绍鲁", 2_600.0),
]
SECTION_IDS = {"一都": "S1", "白鹤": "S2", "绍鲁": "S3"}

# Tributaries: distance of the confluence upstream of the outlet (m), side (+1 north, -1 south),
# length (m) and angle to the main valley (deg).
TRIBUTARIES = [
    (15_800.0, +1, 5_200.0, 60.0),
    (14_600.0, -1, 4_300.0, 55.0),
    (11_300.0, +1, 4_800.0, 65.0),
    (9_600.0, -1, 4_000.0, 60.0),
    (6_200.0, +1, 4_200.0, 70.0),
    (4_200.0, -1, 3_600.0, 60.0),
]

TOWNS = ["上溪镇", "下溪镇"]
# name, stream (0 main, k tributary k), distance along it (m, from its downstream end), side, lateral
# position as a fraction of the floodplain half-width, population
VILLAGES = [
    ("源头村", 0, 17_200.0, +1, 0.55, 650),
    ("大坪村", 1, 1_800.0, -1, 0.55, 700),
    ("枫树坞村", 2, 1_500.0, +1, 0.60, 800),
    ("上坞村", 0, 15_200.0, -1, 0.50, 1_100),
    ("一都村", 0, 13_900.0, +1, 0.45, 2_400),
    ("竹林村", 0, 12_400.0, -1, 0.60, 1_200),
    ("茶园村", 3, 1_600.0, +1, 0.55, 900),
    ("石门村", 0, 10_600.0, +1, 0.55, 1_300),
    ("横坑村", 4, 1_400.0, -1, 0.60, 950),
    ("白鹤村", 0, 8_600.0, -1, 0.45, 2_300),
    ("岭脚村", 0, 7_200.0, +1, 0.60, 1_400),
    ("龙潭村", 5, 1_300.0, +1, 0.55, 1_000),
    ("桥头村", 0, 5_400.0, -1, 0.50, 1_700),
    ("双溪村", 6, 1_100.0, -1, 0.55, 1_050),
    ("绍鲁村", 0, 3_000.0, +1, 0.45, 2_250),
    ("坑口村", 0, 1_700.0, -1, 0.55, 1_500),
    ("下坞村", 0, 700.0, +1, 0.60, 1_400),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程"
GIVEN = "华明国建军平伟芳英丽强林红云海兰琴秀文春玉德福生龙金荣"


# --------------------------------------------------------------------------------------------
# geometry of the catchment and its streams (local frame: u along the valley, v across; metres)
# --------------------------------------------------------------------------------------------
def _boundary_radius(theta: np.ndarray, a: float, b: float) -> np.ndarray:
    """Radius of the lobed ellipse that bounds the catchment, in the local frame."""
    r = a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)
    return r * (1.0 + 0.07 * np.sin(3 * theta + 0.6) + 0.04 * np.cos(5 * theta - 0.3))


def _boundary_scale() -> float:
    theta = np.linspace(0, 2 * np.pi, 4001)[:-1]
    r = _boundary_radius(theta, 9_600.0, 5_800.0)
    area = 0.5 * np.sum(r**2) * (2 * np.pi / theta.size)
    return math.sqrt(TARGET_AREA_KM2 * 1e6 / area)


@dataclass
class Stream:
    """A stream polyline densified to ~5 m, with bed elevation and valley shape per vertex."""

    xy: np.ndarray  # (N, 2) local coordinates from downstream (index 0) to upstream
    s: np.ndarray  # distance from the downstream end (m)
    z_bed: np.ndarray  # bed elevation (m)
    half_channel: np.ndarray  # bank-top half-width of the channel (m)
    half_floodplain: np.ndarray  # half-width of the valley floor (m)
    bank_h: np.ndarray  # bank height (m)


def _main_stream(a: float) -> Stream:
    u_out = _boundary_radius(np.array([0.0]), 9_600.0, 5_800.0)[0] * _boundary_scale()
    u = np.linspace(u_out, -0.86 * a, 6_000)
    v = 450.0 * np.sin(2 * np.pi * (u - u_out) / 7_000.0) * np.clip((u_out - u) / 1_500.0, 0, 1)
    xy = np.column_stack([u, v])
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    frac = s / s[-1]
    z = 148.0 + 0.006 * s + 400.0 * frac**2
    half_channel = 20.0 - 12.0 * frac
    half_floodplain = 260.0 - 190.0 * frac
    bank_h = 2.4 - 0.9 * frac
    return Stream(xy, s, z, half_channel, half_floodplain, bank_h)


def _tributary(main: Stream, s_conf: float, side: int, length: float, angle: float) -> Stream:
    i = int(np.searchsorted(main.s, s_conf))
    x0, y0 = main.xy[i]
    du, dv = main.xy[min(i + 1, len(main.s) - 1)] - main.xy[max(i - 1, 0)]
    heading = math.atan2(dv, du) + side * math.radians(angle)
    t = np.linspace(0.0, length, max(int(length / 5.0), 50))
    bend = 0.12 * side * t**2 / length  # gently curving upstream
    xy = np.column_stack([x0 + t * math.cos(heading) - bend * math.sin(heading),
                          y0 + t * math.sin(heading) + bend * math.cos(heading)])
    # stop the stream 800 m inside the divide so that its head does not breach the boundary
    theta = np.arctan2(xy[:, 1], xy[:, 0])
    r_b = _boundary_radius(theta, 9_600.0, 5_800.0) * _boundary_scale()
    inside = np.hypot(xy[:, 0], xy[:, 1]) < r_b - 800.0
    keep = int(np.argmin(inside)) if not inside.all() else len(xy)
    xy = xy[:max(keep, 50)]
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    frac = s / s[-1]
    z = main.z_bed[i] + 0.018 * s + 320.0 * frac**2
    return Stream(xy, s, z, 7.0 - 3.0 * frac, 90.0 - 55.0 * frac, 1.4 - 0.5 * frac)


def _streams() -> list[Stream]:
    a = 9_600.0 * _boundary_scale()
    main = _main_stream(a)
    return [main] + [_tributary(main, *t) for t in TRIBUTARIES]


def profile_height(d: np.ndarray, half_channel, half_floodplain, bank_h, relief=650.0, decay=1_200.0):
    """Height above the stream bed at lateral distance ``d`` (m) from the channel centre line.

    A trapezoidal channel (1:1 banks) inside a valley floor rising 1 % away from the channel,
    then hillslopes rising exponentially to ``relief`` metres with e-folding ``decay``. The same
    function shapes the DEM and the surveyed cross-sections, so they agree.
    """
    d = np.abs(d)
    bottom = np.maximum(half_channel - bank_h, 1.0)
    in_channel = np.clip((d - bottom) / np.maximum(half_channel - bottom, 1e-6), 0.0, 1.0) * bank_h
    floor = bank_h + 0.01 * np.clip(d - half_channel, 0.0, None)
    floor_edge = bank_h + 0.01 * np.maximum(half_floodplain - half_channel, 0.0)
    hill = floor_edge + relief * (1.0 - np.exp(-np.clip(d - half_floodplain, 0.0, None) / decay))
    return np.where(d <= half_channel, in_channel, np.where(d <= half_floodplain, floor, hill))


def _noise_field(seed: int):
    """Smooth terrain noise on a fixed 200 m lattice, evaluated anywhere by cubic interpolation."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    rng = np.random.default_rng(seed)
    spacing, half = 200.0, 16_000.0
    n = int(2 * half / spacing) + 1
    lattice = gaussian_filter(rng.standard_normal((n, n)), 2.0)
    lattice /= lattice.std()

    def at(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        rows = (v + half) / spacing
        cols = (u + half) / spacing
        return map_coordinates(lattice, [rows.ravel(), cols.ravel()], order=3, mode="nearest").reshape(u.shape)

    return at


def _to_local(x, y):
    c, s = math.cos(math.radians(ROTATION_DEG)), math.sin(math.radians(ROTATION_DEG))
    dx, dy = np.asarray(x) - CENTER_XY[0], np.asarray(y) - CENTER_XY[1]
    return c * dx + s * dy, -s * dx + c * dy


def _to_world(u, v):
    c, s = math.cos(math.radians(ROTATION_DEG)), math.sin(math.radians(ROTATION_DEG))
    u, v = np.asarray(u), np.asarray(v)
    return CENTER_XY[0] + c * u - s * v, CENTER_XY[1] + s * u + c * v


def _boundary_polygon():
    from shapely.geometry import Polygon

    k = _boundary_scale()
    theta = np.linspace(0, 2 * np.pi, 721)[:-1]
    r = _boundary_radius(theta, 9_600.0, 5_800.0) * k
    x, y = _to_world(r * np.cos(theta), r * np.sin(theta))
    return Polygon(np.column_stack([x, y]))


def _grid(resolution: float):
    poly = _boundary_polygon()
    xmin, ymin, xmax, ymax = poly.bounds
    xmin = math.floor(xmin / resolution) * resolution - 2 * resolution
    ymax = math.ceil(ymax / resolution) * resolution + 2 * resolution
    nx = int(math.ceil((xmax - xmin) / resolution)) + 4
    ny = int(math.ceil((ymax - ymin) / resolution)) + 4
    return xmin, ymax, nx, ny


def terrain(resolution: float, seed: int):
    """DEM (float32, NaN outside), Manning's n (float32) and the rasterio transform."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin
    from scipy.ndimage import distance_transform_edt

    xmin, ymax, nx, ny = _grid(resolution)
    transform = from_origin(xmin, ymax, resolution, resolution)
    streams = _streams()
    # burn each stream's vertex attributes into rasters (upstream first so the main stream wins)
    fields = np.full((5, ny, nx), np.nan, dtype=np.float32)
    for st in reversed(streams):
        x, y = _to_world(st.xy[:, 0], st.xy[:, 1])
        col = ((x - xmin) / resolution).astype(np.int64)
        row = ((ymax - y) / resolution).astype(np.int64)
        ok = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
        for k, arr in enumerate([st.z_bed, st.half_channel, st.half_floodplain, st.bank_h, np.zeros_like(st.s)]):
            fields[k, row[ok], col[ok]] = arr[ok]
    is_stream = ~np.isnan(fields[0])
    dist, (ir, ic) = distance_transform_edt(~is_stream, sampling=resolution, return_indices=True)
    z_bed, half_c, half_f, bank_h = (fields[k][ir, ic] for k in range(4))
    del ir, ic, fields
    # The nearest stream cell's bed steps by (slope x cell) between neighbours, and the distance to a
    # rasterised (staircase) stream ripples by up to a cell: both would draw terraces on hillslopes.
    # Away from the valley floor blend in smoothed fields (the channel and floor keep the exact ones).
    from scipy.ndimage import gaussian_filter

    blend = np.clip((dist - half_f) / 200.0, 0.0, 1.0)
    sigma = 120.0 / resolution
    z_bed = (1 - blend) * z_bed + blend * gaussian_filter(z_bed, sigma=sigma, mode="nearest")
    dist = (1 - blend) * dist + blend * np.maximum(gaussian_filter(dist, sigma=sigma, mode="nearest"), half_f)
    del blend
    noise = _noise_field(seed)
    cols = xmin + (np.arange(nx) + 0.5) * resolution
    rows = ymax - (np.arange(ny) + 0.5) * resolution
    dem = np.empty((ny, nx), dtype=np.float32)
    manning = np.empty((ny, nx), dtype=np.float32)
    for r0 in range(0, ny, 512):  # row blocks keep the 5 m case well under 4 GB
        sl = slice(r0, min(r0 + 512, ny))
        xx, yy = np.meshgrid(cols, rows[sl])
        u, v = _to_local(xx, yy)
        d = dist[sl]
        h = profile_height(d, half_c[sl], half_f[sl], bank_h[sl])
        ramp = np.clip((d - half_f[sl]) / 400.0, 0.0, 1.0)
        dem[sl] = z_bed[sl] + h + 45.0 * noise(u, v) * ramp
        manning[sl] = np.where(d <= half_c[sl], 0.05, np.where(d <= half_f[sl], 0.06, 0.10))
    inside = rasterize([(_boundary_polygon(), 1)], out_shape=(ny, nx), transform=transform, fill=0,
                       dtype="uint8").astype(bool)
    # Condition the terrain as a surveyed DEM is before hydraulic modelling: the hillslope noise
    # leaves closed depressions (up to ~50 m deep at 5 m, 1.3 % of the cells) that a mountain
    # catchment does not have, and a 2-D model would pond the rain in them as deep artificial lakes
    # (their depth then sets its CFL step). Fill them, 4-connected like the 2-D model's faces, so
    # every cell drains to the single outlet (Wang & Liu 2006, as pyflwdir implements it).
    import pyflwdir

    filled, _ = pyflwdir.dem.fill_depressions(np.where(inside, dem, NODATA).astype(np.float32), outlets="min",
                                              nodata=NODATA, connectivity=4)
    dem = np.where(inside, filled, np.nan).astype(np.float32)
    manning[~inside] = np.nan
    return dem, manning, transform


# --------------------------------------------------------------------------------------------
# vector layers
# --------------------------------------------------------------------------------------------
def _point_on(st: Stream, s: float, side: int, lateral: float):
    """World point at distance ``s`` along ``st`` and ``lateral`` metres to its ``side``."""
    i = int(np.clip(np.searchsorted(st.s, s), 1, len(st.s) - 2))
    t = st.xy[i + 1] - st.xy[i - 1]
    t = t / np.hypot(*t)
    normal = np.array([-t[1], t[0]])
    u, v = st.xy[i] + side * lateral * normal
    x, y = _to_world(u, v)
    return float(x), float(y), i


def _ground(st: Stream, i: int, lateral: float) -> float:
    return float(st.z_bed[i] + profile_height(np.array(lateral), st.half_channel[i], st.half_floodplain[i],
                                              st.bank_h[i]))


def _jarrett_n(prof: np.ndarray, left_bank_m: float, right_bank_m: float, slope: float) -> float:
    """Manning's n of a steep boulder channel at bankfull: n = 0.39 S^0.38 R^-0.16 with R in feet (Jarrett,
    R. D. 1984, Hydraulics of high-gradient streams, J. Hydraul. Eng. 110(11), 1519-1539), to 0.005."""
    from hydro.stage import subdivision_geometry

    bank = float(min(np.interp([left_bank_m, right_bank_m], prof[:, 0], prof[:, 1])))
    a, p, _ = subdivision_geometry(prof, np.array([bank]), [prof[0, 0], left_bank_m, right_bank_m])
    r_ft = a[0, 1] / p[0, 1] / 0.3048
    return round(round(0.39 * slope**0.38 * r_ft**-0.16 / 0.005) * 0.005, 3)


def _section_profile(st: Stream, i: int) -> np.ndarray:
    """A surveyed-like cross-section: dense in the channel, sparser across the floor and slopes."""
    c, f = st.half_channel[i], st.half_floodplain[i]
    half = np.unique(np.round(np.concatenate([
        np.linspace(0, c, 9), np.linspace(c, f, 12), f + np.array([10, 25, 50, 80, 120, 170, 230, 300])]), 1))
    d = np.concatenate([-half[::-1], half[1:]])
    z = st.z_bed[i] + profile_height(d, c, f, st.bank_h[i])
    return np.column_stack([d - d[0], np.round(z, 2)])


def _line_world(st: Stream, s0: float = 0.0, s1: float | None = None, side: int = 0, lateral: float = 0.0,
                step: float = 100.0):
    from shapely.geometry import LineString

    s1 = st.s[-1] if s1 is None else s1
    pts = [_point_on(st, s, side, lateral)[:2] for s in np.arange(s0, s1, step)] + [
        _point_on(st, s1, side, lateral)[:2]]
    return LineString(pts)


def _vectors(seed: int, dem30: np.ndarray, transform30) -> dict:
    import geopandas as gpd
    from shapely.geometry import Point

    rng = np.random.default_rng(seed + 1)
    streams = _streams()
    main = streams[0]
    layers: dict[str, gpd.GeoDataFrame] = {}

    # rivers
    rivers = [{"id": "R0", "name": "东关溪", "order": 3, "geometry": _line_world(main, step=50.0)}]
    for k, st in enumerate(streams[1:], start=1):
        rivers.append({"id": f"R{k}", "name": f"支流{k}", "order": 2, "geometry": _line_world(st, step=50.0)})
    layers["rivers"] = gpd.GeoDataFrame(rivers, crs=CRS)

    # sections, upstream to downstream
    rows = []
    for j, (name, s) in enumerate(SECTIONS):
        x, y, i = _point_on(main, s, 0, 0.0)
        prof = _section_profile(main, i)
        bed = float(main.z_bed[i])
        bank = bed + float(main.bank_h[i])
        slope = float((main.z_bed[i + 40] - main.z_bed[i - 40]) / (main.s[i + 40] - main.s[i - 40]))
        down = SECTIONS[j + 1] if j + 1 < len(SECTIONS) else None
        # bank tops of the main channel (the recipe's channel half-width either side of the centre line)
        mid = float(prof[-1, 0]) / 2.0
        half_c = round(float(main.half_channel[i]), 1)
        lb, rb = round(mid - half_c, 1), round(mid + half_c, 1)
        rows.append({
            "id": SECTION_IDS[name], "name": name,
            "profile": ";".join(f"{a:g},{b:g}" for a, b in prof),
            "bed_slope": round(slope, 5), "manning_n": 0.05,  # cobble-and-boulder mountain stream (Chow 1959)
            # conveyance subdivision (HEC-RAS): main channel between the bank tops; its n from Jarrett's
            # high-gradient-stream relation at bankfull; valley-floor fields, hedges and houses n = 0.07
            "left_bank_m": lb, "right_bank_m": rb,
            "channel_n": _jarrett_n(prof, lb, rb, slope), "overbank_n": 0.07,
            "bed_elev_m": round(bed, 2),
            "warning_level_m": round(bank - 0.5, 2), "danger_level_m": round(bank + 0.5, 2),
            "downstream": SECTION_IDS[down[0]] if down else "",
            "reach_length_m": round(s - down[1], 1) if down else 0.0,
            "geometry": Point(x, y),
        })
    sections = gpd.GeoDataFrame(rows, crs=CRS)
    layers["sections"] = sections

    layers["subbasins"] = _subbasins(dem30, transform30, streams)

    # villages
    vrows, village_pts = [], []
    for k, (name, si, s, side, frac, pop) in enumerate(VILLAGES):
        st = streams[si]
        lateral = frac * float(np.interp(s, st.s, st.half_floodplain))
        x, y, i = _point_on(st, s, side, lateral)
        ground = _ground(st, i, lateral)
        s_main = s if si == 0 else TRIBUTARIES[si - 1][0]
        control = _control_section(s_main)
        ci = int(np.searchsorted(main.s, dict(SECTIONS)[next(n for n, v in SECTION_IDS.items() if v == control)]))
        # flood level: the section stage that puts water at the door of the lowest houses (set below)
        flood_level = float(main.z_bed[ci])
        vrows.append({
            "id": f"V{k + 1:02d}", "name": name, "town": TOWNS[0] if k < 9 else TOWNS[1],
            "population": pop, "households": 0,
            "responsible": f"{SURNAMES[k % len(SURNAMES)]}某{GIVEN[k % len(GIVEN)]}",
            "phone": f"1380571{k + 1:04d}",
            "control_section": control, "flood_level_m": round(flood_level, 2),
            "ground_elev_m": round(ground, 2), "geometry": Point(x, y),
        })
        village_pts.append((st, s, side, i))
    villages = gpd.GeoDataFrame(vrows, crs=CRS)

    # households: about 3 persons each, on the valley floor and lower slopes around each village
    hrows = []
    hid = 0
    for k, (st, s, side, _i) in enumerate(village_pts):
        pop = VILLAGES[k][5]
        sizes = _household_sizes(pop, rng)
        villages.loc[k, "households"] = len(sizes)
        lowest_lateral = float(np.interp(s, st.s, st.half_channel)) + rng.uniform(10.0, 60.0)
        lowest = float(profile_height(np.array(lowest_lateral), float(np.interp(s, st.s, st.half_channel)),
                                      float(np.interp(s, st.s, st.half_floodplain)),
                                      float(np.interp(s, st.s, st.bank_h))))
        # map the lowest houses' height above the local bed to the control section, plus a 0.2 m plinth
        # (never below the section's warning level + 0.15 m: 警戒水位 is set to precede damage)
        warn = float(sections.set_index("id").loc[villages.loc[k, "control_section"], "warning_level_m"])
        villages.loc[k, "flood_level_m"] = round(max(villages.loc[k, "flood_level_m"] + lowest + 0.2,
                                                     warn + 0.15), 2)
        for persons in sizes:
            ds = rng.uniform(-380, 380)
            sk = float(np.clip(s + ds, 50.0, st.s[-1] - 50.0))
            f = float(np.interp(sk, st.s, st.half_floodplain))
            c = float(np.interp(sk, st.s, st.half_channel))
            hside = side if rng.random() < 0.8 else -side
            lateral = rng.uniform(min(c + lowest_lateral - float(np.interp(s, st.s, st.half_channel)), f),
                                  f + 140.0)
            x, y, _ = _point_on(st, sk, hside, lateral)
            elderly = int(rng.binomial(persons, 0.21))
            children = int(rng.binomial(persons - elderly, 0.14))
            disabled = int(rng.binomial(persons, 0.025))
            hid += 1
            hrows.append({
                "id": f"H{hid:05d}", "village": f"V{k + 1:02d}", "persons": int(persons),
                "elderly": elderly, "children": children, "disabled": disabled,
                "head": f"{SURNAMES[rng.integers(len(SURNAMES))]}某{GIVEN[rng.integers(len(GIVEN))]}",
                "phone": f"139{rng.integers(0, 10**8):08d}", "geometry": Point(round(x, 1), round(y, 1)),
            })
    layers["households"] = gpd.GeoDataFrame(hrows, crs=CRS)
    layers["villages"] = villages

    # farm-stays and scenic spots (upstream villages draw the visitors)
    sites = []
    for j, (vk, kind, visitors) in enumerate([(0, "景区", 800), (3, "农家乐", 120), (4, "农家乐", 260),
                                              (2, "农家乐", 90), (5, "景区", 450), (6, "农家乐", 70),
                                              (7, "农家乐", 150)]):
        st, s, side, _ = village_pts[vk]
        x, y, _ = _point_on(st, min(s + 250.0, st.s[-1] - 60.0), side,
                            0.7 * float(np.interp(s, st.s, st.half_floodplain)))
        sites.append({"id": f"P{j + 1:02d}", "name": f"{VILLAGES[vk][0][:-1]}{kind}{j + 1}", "kind": kind,
                      "village": f"V{vk + 1:02d}", "visitors": visitors, "geometry": Point(x, y)})
    layers["visitor_sites"] = gpd.GeoDataFrame(sites, crs=CRS)

    # shelters on higher ground beside each village; capacity does not always match population
    srows = []
    kinds = ["学校", "文化礼堂", "村委会", "体育馆"]
    for k, (st, s, side, _i) in enumerate(village_pts):
        pop = VILLAGES[k][5]
        n_sh = 2 if pop >= 1_500 else 1
        for m in range(n_sh):
            f = float(np.interp(s, st.s, st.half_floodplain))
            x, y, _ = _point_on(st, float(np.clip(s + (m - 0.5) * 300.0 * (n_sh - 1), 60, st.s[-1] - 60)),
                                -side if m else side, f + 150.0 + 40.0 * m)
            cap = int(round(pop * rng.uniform(0.7, 1.1) / n_sh, -1))
            srows.append({"id": f"SH{len(srows) + 1:02d}", "name": f"{VILLAGES[k][0]}{kinds[(k + m) % 4]}",
                          "town": villages.loc[k, "town"], "capacity": cap, "kind": kinds[(k + m) % 4],
                          "geometry": Point(x, y)})
    layers["shelters"] = gpd.GeoDataFrame(srows, crs=CRS)

    layers["roads"] = _roads(streams, villages, layers["shelters"], village_pts)
    layers["gauges"] = _gauges(streams)
    return layers


def _control_section(s_main: float) -> str:
    """The section controlling a point of the main valley: the nearest one downstream, else the last."""
    for name, s in SECTIONS:
        if s <= s_main + 300.0:
            return SECTION_IDS[name]
    return SECTION_IDS[SECTIONS[-1][0]]


def _household_sizes(pop: int, rng: np.random.Generator) -> list[int]:
    sizes: list[int] = []
    total = 0
    while total < pop:
        n = int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.12, 0.27, 0.26, 0.2, 0.1, 0.05]))
        n = min(n, pop - total)
        sizes.append(n)
        total += n
    return sizes


def _subbasins(dem30: np.ndarray, transform30, streams: list[Stream]):
    """Sub-basins from D8 flow directions on the 30 m DEM (pyflwdir), cut at the sections,
    the tributary mouths and the outlet."""
    import geopandas as gpd
    import pyflwdir
    from rasterio.features import shapes
    from shapely.geometry import shape
    from shapely.ops import unary_union

    main = streams[0]
    dem = np.where(np.isnan(dem30), NODATA, dem30).astype(np.float32)
    flw = pyflwdir.from_dem(dem, nodata=NODATA, transform=tuple(transform30)[:6], latlon=False, outlets="min")
    upa = flw.upstream_area(unit="km2")
    pts = []  # (id, name, x, y, outlet_section)
    x, y, _ = _point_on(main, 60.0, 0, 0.0)
    pts.append(("B0", "出口区间", x, y, ""))
    for name, s in SECTIONS:
        x, y, _ = _point_on(main, s, 0, 0.0)
        pts.append((f"B{SECTION_IDS[name]}", f"{name}区间", x, y, SECTION_IDS[name]))
    for k, st in enumerate(streams[1:], start=1):
        x, y, _ = _point_on(st, 150.0, 0, 0.0)
        pts.append((f"BT{k}", f"支流{k}", x, y, _control_section(TRIBUTARIES[k - 1][0])))
    xs = np.array([p[2] for p in pts])
    ys = np.array([p[3] for p in pts])
    # snap each point to the cell of largest upstream area within 2 cells (it lies on the stream)
    ny, nx = dem.shape
    col = ((xs - transform30.c) / transform30.a).astype(int)
    row = ((ys - transform30.f) / transform30.e).astype(int)
    idxs = np.empty(len(pts), dtype=np.intp)
    for j, (r, c) in enumerate(zip(row, col, strict=True)):
        win = np.where(np.isfinite(upa[r - 2:r + 3, c - 2:c + 3]), upa[r - 2:r + 3, c - 2:c + 3], -1)
        dr, dc = np.unravel_index(np.argmax(win), win.shape)
        idxs[j] = (r - 2 + dr) * nx + (c - 2 + dc)
    basins = flw.basins(idxs=idxs, ids=np.arange(1, len(pts) + 1, dtype=np.int32))
    rows = []
    for j, (bid, name, _x, _y, outlet) in enumerate(pts):
        geoms = [shape(g) for g, v in shapes(basins.astype(np.int32), mask=basins == j + 1, transform=transform30)]
        geom = unary_union(geoms)
        if geom.geom_type == "MultiPolygon":  # keep the main body; specks come from pits on the DEM
            geom = max(geom.geoms, key=lambda g: g.area)
        if bid.startswith("BT"):
            st = streams[int(bid[2:])]
            length_km, slope = st.s[-1] / 1000.0 + 0.6, (st.z_bed[-1] - st.z_bed[0]) / st.s[-1]
        else:
            s_dn = 0.0 if bid == "B0" else dict(SECTIONS)[name[:-2]]
            ups = [s for _n, s in SECTIONS if s > s_dn]
            s_up = min(ups) if ups else main.s[-1]
            i0, i1 = np.searchsorted(main.s, [s_dn, s_up])
            i1 = min(i1, len(main.s) - 1)
            length_km = (s_up - s_dn) / 1000.0 + 0.8
            slope = (main.z_bed[i1] - main.z_bed[i0]) / max(main.s[i1] - main.s[i0], 1.0)
        rows.append({"id": bid, "name": name, "outlet_section": outlet, "length_km": round(float(length_km), 2),
                     "slope": round(float(slope), 4), "area_km2": round(geom.area / 1e6, 2), "geometry": geom})
    return gpd.GeoDataFrame(rows, crs=CRS)


def _roads(streams, villages, shelters, village_pts):
    """Main road along the main valley, a road up each tributary, spurs to villages and shelters.

    Roads are cut at every junction and junction coordinates are shared exactly, so the layer is a
    noded network: a graph can be built from the lines' end points alone."""
    import geopandas as gpd
    from shapely.geometry import LineString, Point
    from shapely.ops import substring

    main = streams[0]
    trunks = [("县道", "county", 50.0,
               _line_world(main, 0.0, main.s[-1] - 400.0, -1, 0.85 * 60.0 + 40.0, step=120.0))]
    for k, st in enumerate(streams[1:], start=1):
        road = _line_world(st, 0.0, st.s[-1] - 500.0, 1, 0.8 * float(st.half_floodplain[0]), step=120.0)
        trunks.append((f"支流{k}村道", "village", 30.0, road))
    junctions: list[list[float]] = [[] for _ in trunks]  # distances along each trunk
    spurs = []  # (name, kind, speed, trunk index, distance along it, far end)
    for k in range(1, len(trunks)):  # each tributary road starts from the county road (a bridge)
        start = Point(trunks[k][3].coords[0])
        d = trunks[0][3].project(start)
        junctions[0].append(d)
        junctions[k].append(0.0)
        spurs.append((f"支流{k}桥", "village", 30.0, 0, d, ("trunk", k)))
    targets = [(r["name"], r.geometry) for _, r in villages.iterrows()] + [
        (r["name"], r.geometry) for _, r in shelters.iterrows()]
    for name, pt in targets:
        j = int(np.argmin([t[3].distance(pt) for t in trunks]))
        d = trunks[j][3].project(pt)
        junctions[j].append(d)
        spurs.append((f"{name}连接路", "track", 20.0, j, d, (pt.x, pt.y)))
    rows = []

    def add(name, kind, speed, geom):
        rows.append({"id": f"RD{len(rows) + 1:04d}", "name": name, "kind": kind, "speed_kmh": speed,
                     "geometry": geom})

    node = {}  # (trunk, distance) -> exact coordinate shared by every line meeting there
    for j, (name, kind, speed, line) in enumerate(trunks):
        cuts = sorted({0.0, round(line.length, 3), *[round(d, 3) for d in junctions[j]]})
        for d in cuts:
            node[(j, d)] = tuple(round(c, 1) for c in line.interpolate(d).coords[0])
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if b - a < 0.5:
                node[(j, b)] = node[(j, a)]
                continue
            coords = list(substring(line, a, b).coords)
            coords[0], coords[-1] = node[(j, a)], node[(j, b)]
            add(name, kind, speed, LineString(coords))
    for name, kind, speed, j, d, far in spurs:
        a = node[(j, round(d, 3))]
        b = node[(far[1], 0.0)] if far[0] == "trunk" else (round(far[0], 1), round(far[1], 1))
        if math.dist(a, b) > 0.5:
            add(name, kind, speed, LineString([a, b]))
    return gpd.GeoDataFrame(rows, crs=CRS)


def _gauges(streams):
    import geopandas as gpd
    from shapely.geometry import Point

    main = streams[0]
    rows = []
    for name, s in SECTIONS:
        x, y, _ = _point_on(main, s + 120.0, 1, 80.0)
        rows.append((f"G{len(rows) + 1:02d}", f"{name}雨量站", x, y))
    for k, frac, label in [(1, 0.8, "西岭"), (3, 0.7, "北坞"), (5, 0.75, "南山")]:
        st = streams[k]
        x, y, _ = _point_on(st, frac * st.s[-1], 1, 60.0)
        rows.append((f"G{len(rows) + 1:02d}", f"{label}雨量站", x, y))
    return gpd.GeoDataFrame([{"id": i, "name": n, "geometry": Point(x, y)} for i, n, x, y in rows], crs=CRS)


# --------------------------------------------------------------------------------------------
# rainfall and design storms
# --------------------------------------------------------------------------------------------
EVENTS = {
    # file stem: (start, hours, total depth at the outlet gauge (mm), peak hour, shape, orographic gain)
    "event_2021_plum_rain_like": ("2021-06-18 00:00", 48, 95.0, 30, 4.0, 0.15),
    "event_2022_convective_like": ("2022-07-04 12:00", 24, 165.0, 9, 9.0, 0.10),
    "event_2019_lekima_like": ("2019-08-09 08:00", 60, 330.0, 40, 6.0, 0.35),
}


def _events(gauges, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed + 2)
    xs = np.array([g.x for g in gauges.geometry])
    u, _v = _to_local(xs, np.array([g.y for g in gauges.geometry]))
    upland = (u.max() - u) / max(u.max() - u.min(), 1.0)  # 0 at the outlet, 1 up the valley
    out = {}
    for stem, (start, hours, total, peak, shape_k, gain) in EVENTS.items():
        t = np.arange(hours) + 0.5
        # gamma-shaped storm profile peaking at `peak`
        theta = peak / max(shape_k - 1.0, 1e-6)
        base = t ** (shape_k - 1.0) * np.exp(-t / theta)
        base /= base.sum()
        data = {}
        for gid, up in zip(gauges["id"], upland, strict=True):
            lag = int(round(2 * up))
            series = np.roll(base, lag) * total * (1.0 + gain * up)
            series *= rng.lognormal(0.0, 0.25, size=hours)
            data[gid] = np.round(np.clip(series, 0.0, None), 1)
        idx = pd.date_range(start, periods=hours, freq="h")
        df = pd.DataFrame(data, index=idx)
        df.index.name = "time"
        out[stem] = df
    return out


def _design_storms() -> pd.DataFrame:
    """Storm-intensity formula i = a/(t+b)^n (mm/min, t min) scaled as (1 + C lg P), C = 0.62.

    Constants chosen so that the 50-year storm gives about 80 mm in 1 h, 165 mm in 6 h and 270 mm
    in 24 h, in the range of Zhejiang's mountain-area storm atlases (synthetic, not an atlas value).
    """
    b, n, c, a50 = 10.0, 0.65, 0.62, 21.1
    rows = []
    for p in (5, 10, 20, 50, 100):
        a = a50 * (1 + c * math.log10(p)) / (1 + c * math.log10(50))
        rows.append({"name": f"{p}y", "return_period_years": p, "a": round(a, 3), "b": b, "n": n,
                     "peak_ratio": 0.4, "duration_h": 6})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _write_raster(path: Path, arr: np.ndarray, transform, nodata=NODATA) -> None:
    import rasterio

    data = np.where(np.isnan(arr), nodata, arr).astype(np.float32)
    profile = {"driver": "GTiff", "height": arr.shape[0], "width": arr.shape[1], "count": 1,
               "dtype": "float32", "crs": CRS, "transform": transform, "nodata": nodata,
               "compress": "deflate", "predictor": 3, "tiled": True, "blockxsize": 256, "blockysize": 256,
               "zlevel": 6}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


CASE_TOML = """\
[case]
name = "dongguanxi"
title = "东关溪小流域（合成示例）"
crs = "EPSG:4549"
synthetic = true
timezone = "Asia/Shanghai"
resolution_m = {resolution}
notes = "SYNTHETIC terrain, villages, people, shelters, roads and rainfall, built to the published facts of the 东关溪 small watershed (临安区): 173 km2, 3 sections 一都/白鹤/绍鲁, 2 towns, 17 villages, 22,600 people. Not real observations. Generated by data_samples/dongguanxi.py (seed {seed})."

[layers]
dem = "dem.tif"
manning = "manning.tif"
sections = "sections.geojson"
subbasins = "subbasins.geojson"
rivers = "rivers.geojson"
gauges = "gauges.geojson"
villages = "villages.geojson"
households = "households.gpkg"
visitor_sites = "visitor_sites.geojson"
shelters = "shelters.geojson"
roads = "roads.geojson"
design_storms = "design_storms.csv"

[rainfall]
events = [{events}]

[typhoon]
# SYNTHETIC track built to Lekima's published landfall (温岭, 2019-08-10 01:45, ~52 m/s, ~930 hPa)
track = "typhoon/lekima_like_track.csv"

[run]
# what `python cli.py run` forecasts when no --rain/--design-storm is given:
# an event name from [rainfall], "design:<name>" from design_storms.csv, or "typhoon"
scenario = "design:50y"
"""


def generate(out: str | Path, resolution_m: float = 30.0, seed: int = 20190810) -> Path:
    """Write the synthetic 东关溪-like case into ``out`` at ``resolution_m`` metres.

    Parameters
    ----------
    out : path
        Folder to create (existing files of the case are overwritten).
    resolution_m : float
        Grid spacing. 30 m gives the committed sample (~190 k cells); 5 m gives ~6.9 M valid cells.
    seed : int
        Seed of every random choice; the same seed gives the same case.
    """
    from gis.errors import InputError

    if not (1.0 <= resolution_m <= 200.0):
        raise InputError("--resolution", f"resolution {resolution_m:g} m is out of range", "use 1 to 200 m")
    out = Path(out)
    (out / "rainfall").mkdir(parents=True, exist_ok=True)
    dem30, man30, tr30 = terrain(VECTOR_RESOLUTION_M, seed)
    layers = _vectors(seed, dem30, tr30)
    if resolution_m == VECTOR_RESOLUTION_M:
        dem, man, tr = dem30, man30, tr30
    else:
        del dem30, man30
        dem, man, tr = terrain(resolution_m, seed)
    _write_raster(out / "dem.tif", np.round(dem, 2), tr)
    _write_raster(out / "manning.tif", man, tr)
    del dem, man
    for name, gdf in layers.items():
        if name == "households":
            path = out / "households.gpkg"
            if path.exists():
                path.unlink()
            gdf.to_file(path, driver="GPKG", layer="households")
        else:
            path = out / f"{name}.geojson"
            gdf.to_file(path, driver="GeoJSON", COORDINATE_PRECISION=1, WRITE_NAME="NO")
    _design_storms().to_csv(out / "design_storms.csv", index=False)
    events = _events(layers["gauges"], seed)
    for stem, df in events.items():
        df.to_csv(out / "rainfall" / f"{stem}.csv", date_format="%Y-%m-%d %H:%M")
    ev = ", ".join(f'"rainfall/{s}.csv"' for s in events)
    (out / "case.toml").write_text(CASE_TOML.format(resolution=resolution_m, seed=seed, events=ev),
                                   encoding="utf-8")
    meta = {"generator": "data_samples/dongguanxi.py", "seed": seed, "resolution_m": resolution_m,
            "synthetic": True}
    from hydro.typhoon.sample import write_sample_track

    write_sample_track(out / "typhoon" / "lekima_like_track.csv")
    readme = Path(__file__).with_name("dongguanxi") / "README.md"  # says plainly that the data are synthetic
    if readme.exists() and readme.resolve() != (out / "README.md").resolve():
        (out / "README.md").write_text(readme.read_text(encoding="utf-8"), encoding="utf-8")
    (out / "GENERATED.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


if __name__ == "__main__":  # python -m data_samples.dongguanxi [OUT] [RESOLUTION]
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("dongguanxi"))
    res = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    print(generate(target, res))
