"""Road network for transfer planning: load lines, build a graph, cut flooded roads.

Roads load from GeoPackage, Shapefile or GeoJSON lines in the case CRS, or from an OpenStreetMap
``.osm`` XML file read offline (WGS84 by definition; reprojected to the case CRS). Lines are split
into edges no longer than ``max_edge_m`` so each edge can be tested against the flood grid at its
ends and middle; lines join where they share a vertex (within ``snap_tol_m``).

The graph is held as flat arrays and turned into a ``scipy.sparse`` matrix for
:func:`scipy.sparse.csgraph.dijkstra` (Dijkstra 1959, *Numerische Mathematik* 1:269-271).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from pyproj import CRS, Transformer
from scipy import sparse

from gis.errors import CRSError, InputError

WALK_SPEED_M_PER_S = 1.0  # mixed groups with elderly on mountain roads, slower than the 1.3 m/s of free walking
SPEED_BY_KIND_KMH = {"county": 40.0, "village": 25.0, "track": 10.0, "path": 0.0}
DEFAULT_SPEED_KMH = 20.0
# OpenStreetMap highway=* values, with a vehicle speed (0: on foot only).
OSM_SPEED_KMH = {
    "motorway": 80, "trunk": 60, "primary": 50, "secondary": 40, "tertiary": 30, "unclassified": 25,
    "residential": 20, "living_street": 10, "service": 15, "road": 20, "track": 10,
    "motorway_link": 40, "trunk_link": 40, "primary_link": 30, "secondary_link": 30, "tertiary_link": 25,
    "path": 0, "footway": 0, "pedestrian": 0, "steps": 0, "bridleway": 0, "cycleway": 0,
}
CUT_DEPTH_M = 0.3  # vehicles lose grip and people are at risk from about 0.3 m of moving water


@dataclass
class RoadGraph:
    """An undirected road graph as flat arrays (nodes in the case CRS, metres).

    ``cut_time_s`` holds, per edge, the time after the inundation start when the water on it first
    exceeds the cut depth (``inf`` when never).
    """

    node_xy: np.ndarray  # (N, 2)
    edge_u: np.ndarray  # (E,) int
    edge_v: np.ndarray  # (E,) int
    length_m: np.ndarray  # (E,)
    speed_kmh: np.ndarray  # (E,) vehicle speed; 0 = on foot only
    road_id: np.ndarray  # (E,) object
    crs: CRS | None = None
    cut_time_s: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.cut_time_s is None:
            self.cut_time_s = np.full(len(self.edge_u), np.inf)

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def edge_seconds(self, mode: str = "walk", walk_speed_m_per_s: float = WALK_SPEED_M_PER_S) -> np.ndarray:
        """Travel time of each edge in seconds (``inf`` where a vehicle cannot pass)."""
        if mode == "walk":
            return self.length_m / walk_speed_m_per_s
        if mode == "drive":
            with np.errstate(divide="ignore"):
                return np.where(self.speed_kmh > 0, self.length_m / (self.speed_kmh / 3.6), np.inf)
        raise ValueError(f"mode must be 'walk' or 'drive', not {mode!r}")

    def open_edges(self, cut_before_s: float | None) -> np.ndarray:
        """Mask of edges still passable: not flooded above the cut depth before ``cut_before_s``."""
        if cut_before_s is None:
            return np.ones(self.n_edges, dtype=bool)
        return self.cut_time_s > cut_before_s

    def matrix(self, mode: str = "walk", cut_before_s: float | None = None,
               walk_speed_m_per_s: float = WALK_SPEED_M_PER_S) -> sparse.csr_matrix:
        """Symmetric CSR matrix of edge times (s) for ``scipy.sparse.csgraph``, without cut edges."""
        return self.csr(mode, cut_before_s, walk_speed_m_per_s)[0]

    def csr(self, mode: str = "walk", cut_before_s: float | None = None,
            walk_speed_m_per_s: float = WALK_SPEED_M_PER_S) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """Edge-time CSR matrix and, with the same structure, the CSR of edge indices + 1.

        Where two edges join the same nodes only the faster one is kept (a CSR built from COO
        would otherwise add their times).
        """
        w = self.edge_seconds(mode, walk_speed_m_per_s)
        keep = np.flatnonzero(self.open_edges(cut_before_s) & np.isfinite(w))
        u = np.concatenate([self.edge_u[keep], self.edge_v[keep]])
        v = np.concatenate([self.edge_v[keep], self.edge_u[keep]])
        e = np.concatenate([keep, keep])
        ww = np.maximum(w[e], 1e-6)  # csgraph drops explicit zeros
        o = np.lexsort((ww, v, u))
        u, v, e, ww = u[o], v[o], e[o], ww[o]
        first = np.ones(len(u), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v, e, ww = u[first], v[first], e[first], ww[first]
        shape = (self.n_nodes, self.n_nodes)
        mw = sparse.csr_matrix((ww, (u, v)), shape=shape)
        me = sparse.csr_matrix((e.astype(np.int64) + 1, (u, v)), shape=shape)  # +1: no stored zeros
        me.sort_indices()
        mw.sort_indices()
        return mw, me

    def edge_lookup(self) -> dict[tuple[int, int], int]:
        """(u, v) -> edge index, both directions (the shortest edge where lines duplicate)."""
        order = np.argsort(-self.length_m)  # later (shorter) wins
        d: dict[tuple[int, int], int] = {}
        for e in order:
            u, v = int(self.edge_u[e]), int(self.edge_v[e])
            d[(u, v)] = int(e)
            d[(v, u)] = int(e)
        return d

    def snap(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest graph node of each point and its straight-line distance (m)."""
        from scipy.spatial import cKDTree

        tree = cKDTree(self.node_xy)
        dist, idx = tree.query(np.column_stack([np.asarray(xs, float), np.asarray(ys, float)]))
        return idx.astype(np.int64), dist

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Edges as two-point lines with their attributes (for checks and maps)."""
        a, b = self.node_xy[self.edge_u], self.node_xy[self.edge_v]
        lines = shapely.linestrings(np.stack([a, b], axis=1))
        return gpd.GeoDataFrame({"road_id": self.road_id, "length_m": self.length_m, "speed_kmh": self.speed_kmh,
                                 "cut_time_s": self.cut_time_s}, geometry=lines, crs=self.crs)


# ----------------------------------------------------------------------------- loading
def load_roads(path: str | Path, crs: CRS | str | None = None) -> gpd.GeoDataFrame:
    """Road lines from GeoPackage / Shapefile / GeoJSON or OpenStreetMap ``.osm`` XML.

    Vector files must already be in ``crs`` (the case CRS): a different CRS is an input error, because
    a silent reprojection hides a wrong layer. ``.osm`` is WGS84 by definition and is reprojected.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found", "check the `roads` entry of case.toml")
    if path.suffix.lower() == ".osm":
        if crs is None:
            raise CRSError(path, "an .osm file needs a target CRS", "pass the case CRS")
        return read_osm(path, crs)
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any driver error is an unreadable input
        raise InputError(path, f"cannot read roads ({exc})", "give a GeoPackage, Shapefile, GeoJSON or .osm file") \
            from None
    return check_roads(gdf, crs, path.name)


def check_roads(gdf: gpd.GeoDataFrame, crs: CRS | str | None, source: str = "roads") -> gpd.GeoDataFrame:
    """Check road lines: CRS equal to the case CRS, line geometries; returns them."""
    if crs is not None:
        want = CRS.from_user_input(crs)
        if gdf.crs is None:
            raise CRSError(source, "the road layer has no CRS", f"save it in {want.to_string()}")
        if not CRS.from_user_input(gdf.crs).equals(want):
            raise CRSError(source, f"the road network is in {CRS.from_user_input(gdf.crs).to_string()}, "
                           f"not the case CRS {want.to_string()}", f"reproject it to {want.to_string()}")
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    kinds = set(gdf.geometry.geom_type)
    if not kinds <= {"LineString", "MultiLineString"}:
        raise InputError(source, f"geometries must be lines, found {sorted(kinds)}", "give road centre lines")
    if len(gdf) == 0:
        raise InputError(source, "no road lines", "give at least one road")
    return gdf


def read_osm(path: str | Path, crs: CRS | str) -> gpd.GeoDataFrame:
    """Ways tagged ``highway`` from an OpenStreetMap XML file, reprojected to ``crs``.

    Parsed with :mod:`xml.etree.ElementTree` (no network, no extra dependency). ``kind`` is the
    highway tag and ``speed_kmh`` its ``maxspeed`` or a typical speed for the class (0 = on foot only).
    """
    path = Path(path)
    nodes: dict[str, tuple[float, float]] = {}
    ways: list[tuple[str, list[str], dict[str, str]]] = []
    try:
        for _, el in ET.iterparse(path, events=("end",)):
            if el.tag == "node":
                nodes[el.get("id")] = (float(el.get("lon")), float(el.get("lat")))
                el.clear()
            elif el.tag == "way":
                tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
                if "highway" in tags:
                    ways.append((el.get("id"), [n.get("ref") for n in el.findall("nd")], tags))
                el.clear()
    except (ET.ParseError, TypeError, ValueError) as exc:
        raise InputError(path, f"not a readable OpenStreetMap XML file ({exc})", "export it again as .osm XML") \
            from None
    tr = Transformer.from_crs("EPSG:4326", CRS.from_user_input(crs), always_xy=True)
    rows, geoms = [], []
    for wid, refs, tags in ways:
        pts = [nodes[r] for r in refs if r in nodes]
        if len(pts) < 2:
            continue
        lon, lat = np.array(pts).T
        x, y = tr.transform(lon, lat)
        hw = tags["highway"]
        speed = OSM_SPEED_KMH.get(hw, DEFAULT_SPEED_KMH)
        ms = tags.get("maxspeed", "")
        if ms.split(" ")[0].isdigit() and speed > 0:
            speed = float(ms.split(" ")[0])
        rows.append({"id": f"osm{wid}", "name": tags.get("name", ""), "kind": hw, "speed_kmh": float(speed)})
        geoms.append(shapely.linestrings(np.column_stack([x, y])))
    if not rows:
        raise InputError(path, "no ways tagged highway=*", "export an area that holds roads")
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS.from_user_input(crs))


def build_graph(roads: gpd.GeoDataFrame, max_edge_m: float = 50.0, snap_tol_m: float = 0.5) -> RoadGraph:
    """Graph of road lines split into edges of at most ``max_edge_m``; vertices within ``snap_tol_m`` merge."""
    lines = roads.explode(index_parts=False).reset_index(drop=True)
    geoms = shapely.segmentize(lines.geometry.values, max_edge_m)
    coords, which = shapely.get_coordinates(geoms, return_index=True)
    if "speed_kmh" in lines and lines["speed_kmh"].notna().any():
        speed = pd.to_numeric(lines["speed_kmh"], errors="coerce").to_numpy(dtype=float)
    else:
        speed = np.full(len(lines), np.nan)
    kind = lines["kind"].astype(str).to_numpy() if "kind" in lines else np.full(len(lines), "")
    by_kind = np.array([SPEED_BY_KIND_KMH.get(k, OSM_SPEED_KMH.get(k, DEFAULT_SPEED_KMH)) for k in kind], float)
    speed = np.where(np.isfinite(speed), speed, by_kind)
    rid = lines["id"].astype(str).to_numpy() if "id" in lines else np.arange(len(lines)).astype(str)
    key = np.rint(coords / snap_tol_m).astype(np.int64)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    # node coordinate = first vertex that mapped onto it
    first = np.full(len(uniq), -1)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    node_xy = coords[first]
    same = which[1:] == which[:-1]
    u, v = inv[:-1][same], inv[1:][same]
    seg_line = which[:-1][same]
    length = np.hypot(*(coords[1:][same] - coords[:-1][same]).T)
    ok = u != v
    u, v, seg_line, length = u[ok], v[ok], seg_line[ok], length[ok]
    return RoadGraph(node_xy=node_xy, edge_u=u.astype(np.int64), edge_v=v.astype(np.int64), length_m=length,
                     speed_kmh=speed[seg_line], road_id=rid[seg_line], crs=roads.crs)


# ----------------------------------------------------------------------------- flooding
def _time_seconds(ds: xr.Dataset) -> np.ndarray:
    t = ds["time"].values
    if np.issubdtype(t.dtype, np.datetime64):
        start = pd.Timestamp(ds.attrs["start_time"]).to_datetime64()
        return (t - start) / np.timedelta64(1, "s")
    return t.astype(float)


def first_exceedance_s(ds: xr.Dataset, xs: np.ndarray, ys: np.ndarray, depth_m: float) -> np.ndarray:
    """Time (s after ``start_time``) when the water at each point first exceeds ``depth_m``; inf if never.

    From the ``depth_m`` (time, y, x) snapshots, linearly interpolated between them; without snapshots,
    the arrival time of water where the maximum depth exceeds ``depth_m`` (earlier, so conservative).
    Points off the grid are never flooded.
    """
    from gis.exposure import grid_index

    gi = grid_index(ds["x"].values, ds["y"].values, xs, ys)
    out = np.full(len(gi.ix), np.inf)
    ins = gi.inside
    if "depth_m" in ds and "time" in ds["depth_m"].dims and ds.sizes.get("time", 0) > 0:
        # point-wise selection reads only the cells under the points, not every snapshot whole
        pts = {"y": xr.DataArray(gi.iy[ins], dims="p"), "x": xr.DataArray(gi.ix[ins], dims="p")}
        d = ds["depth_m"].isel(pts).transpose("time", "p").values.astype(float)
        d = np.nan_to_num(d, nan=0.0)
        t = _time_seconds(ds)
        over = d > depth_m
        hit = over.any(axis=0)
        k = np.argmax(over, axis=0)
        tk = t[k]
        prev = np.maximum(k - 1, 0)
        cols = np.arange(d.shape[1])
        d0, d1 = d[prev, cols], d[k, cols]
        frac = np.where((k > 0) & (d1 > d0), (depth_m - d0) / np.where(d1 > d0, d1 - d0, 1.0), 1.0)
        tcross = np.where(k > 0, t[prev] + np.clip(frac, 0, 1) * (tk - t[prev]), tk)
        out[ins] = np.where(hit, tcross, np.inf)
    else:
        md = np.nan_to_num(ds["max_depth_m"].transpose("y", "x").values[gi.iy[ins], gi.ix[ins]], nan=0.0)
        at = ds["arrival_time_s"].transpose("y", "x").values[gi.iy[ins], gi.ix[ins]].astype(float)
        out[ins] = np.where((md > depth_m) & np.isfinite(at), at, np.inf)
    return out


def flood_cut_times(graph: RoadGraph, ds: xr.Dataset, depth_m: float = CUT_DEPTH_M) -> np.ndarray:
    """Set and return ``graph.cut_time_s``: first time each edge (ends and middle) is flooded over ``depth_m``."""
    a, b = graph.node_xy[graph.edge_u], graph.node_xy[graph.edge_v]
    m = 0.5 * (a + b)
    pts = np.concatenate([a, m, b])
    t = first_exceedance_s(ds, pts[:, 0], pts[:, 1], depth_m).reshape(3, -1)
    graph.cut_time_s = t.min(axis=0)
    return graph.cut_time_s
