"""Transfer-plan speed: the sample case, and a synthetic province (1,000,000 people, 500 shelters,
200,000 road edges).

    python benchmarks/bench_transfer.py            # both
    python benchmarks/bench_transfer.py sample     # the sample case only
    python benchmarks/bench_transfer.py province   # the province only
    python benchmarks/bench_transfer.py sample --inundation out/demo/inundation/inundation.nc

The sample runs on out/demo/inundation/inundation.nc when the demo has been run, else on a synthetic
flood along the rivers (2.5 m on the channel, 150 m wide, arriving from 4 h). The province case
pools households into square clusters (at most 6,000 groups) so the HiGHS programme stays small
(~120,000 variables); each cluster's flows are then split back onto whole households.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gis.roads import build_graph  # noqa: E402
from gis.transfer import TransferOptions, plan_transfer  # noqa: E402


def _clock():
    return time.perf_counter(), time.process_time()


def _since(t):
    return time.perf_counter() - t[0], time.process_time() - t[1]


def synthetic_flood(case, out: Path) -> Path:
    import xarray as xr

    dem = case.dem
    X, Y = np.meshgrid(dem.x.values, dem.y.values)
    d = shapely.distance(shapely.union_all(case.rivers.geometry.values), shapely.points(X.ravel(), Y.ravel()))
    depth = np.clip(2.5 * (1 - d.reshape(X.shape) / 150.0), 0, None)
    depth = np.where(np.isfinite(dem.values), depth, np.nan)
    arrival = np.where(depth > 0, 4 * 3600.0 + (X - X.min()) / 4.0, np.nan)
    t = np.arange(0, 10 * 3600 + 1, 1800.0)
    snaps = np.stack([np.where(depth > 0, depth * np.clip((k - arrival) / 3600.0, 0, 1), 0) for k in t])
    ds = xr.Dataset({
        "max_depth_m": (("y", "x"), depth), "max_speed_m_per_s": (("y", "x"), 0.6 * depth),
        "arrival_time_s": (("y", "x"), arrival), "duration_s": (("y", "x"), np.where(depth > 0, 4 * 3600.0, 0)),
        "depth_m": (("time", "y", "x"), snaps.astype("f4")),
    }, coords={"x": dem.x.values, "y": dem.y.values, "time": t}, attrs={"start_time": "2019-08-10T02:00:00"})
    ds = ds.rio.write_crs(case.crs)
    out.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(out / "inundation.nc")
    return out / "inundation.nc"


def bench_sample(inund: Path | None = None) -> None:
    from gis.case import load_case
    from gis.roads import flood_cut_times
    from gis.transfer_io import exposure_tables, open_inundation, plan_people, plan_products

    case_dir = ROOT / "data_samples" / "dongguanxi"
    case = load_case(case_dir)
    tmp = Path(tempfile.mkdtemp(prefix="bench_transfer_"))
    inund = Path(inund) if inund else ROOT / "out" / "demo" / "inundation" / "inundation.nc"
    source = f"2-D solver product {inund}"
    if not inund.exists():
        inund = synthetic_flood(case, tmp / "inundation")
        source = "synthetic flood along the rivers"
    print(f"sample case {case.name}: {len(case.households)} households, {int(case.households['persons'].sum())} "
          f"persons, {len(case.shelters)} shelters ({int(case.shelters['capacity'].sum())} places); {source}")
    plan_products(case, inund, tmp / "warm")  # numba kernels compile once (cached afterwards)
    ds = open_inundation(inund, case.crs)
    hh, vs, _, _ = exposure_tables(case, ds)
    people = plan_people(hh, vs)
    graph = build_graph(case.roads)
    flood_cut_times(graph, ds)
    t = _clock()
    plan = plan_transfer(people, case.shelters, graph, TransferOptions())
    w, c = _since(t)
    s = plan.summary
    print(f"  plan_transfer: {w:.2f} s wall, {c:.2f} s CPU; {s['persons']} persons in {s['parties']} parties, "
          f"{s['assigned_persons']} placed, {s['unplaced_persons']} unplaced; {s['solver']['method']}, "
          f"{s['solver']['groups']} groups, {s['solver']['variables']} variables; phases {s['timings_s']}")
    g = plan_transfer(people, case.shelters, graph, TransferOptions(), method="greedy").summary
    print(f"  greedy nearest shelter places {g['assigned_persons']} persons ({g['unplaced_persons']} unplaced)")
    print(f"  total travel: optimiser {s['total_travel_person_min']:.0f} person-min for {s['assigned_persons']} "
          f"placed; greedy nearest {g['total_travel_person_min']:.0f} person-min for {g['assigned_persons']} placed")
    # the whole register (a drill moving all 22,600 residents and the visitors): everyone counts as exposed
    everyone = hh.assign(exposed=True, arrival_time_s=np.where(hh["exposed"], hh["arrival_time_s"], np.inf))
    all_people = plan_people(everyone, vs.assign(exposed=True) if vs is not None else None)
    t = _clock()
    plan = plan_transfer(all_people, case.shelters, graph, TransferOptions())
    w, c = _since(t)
    s = plan.summary
    print(f"  plan_transfer, whole register: {w:.2f} s wall, {c:.2f} s CPU; {s['persons']} persons in {s['parties']} "
          f"parties, {s['assigned_persons']} placed, {s['unplaced_persons']} unplaced {s['unplaced_by_reason']} "
          f"(usable capacity {s['capacity_usable']}); {s['solver']['method']}, {s['solver']['variables']} variables")
    t = _clock()
    plan_products(case, inund, tmp / "plan")
    w, c = _since(t)
    print(f"  full `plan` products (exposure sampling, graph, plan, CSV/XLSX/GPKG/JSON): {w:.2f} s wall, "
          f"{c:.2f} s CPU")


def province(seed: int = 1, n_side: int = 317, step_m: float = 300.0, persons_total: int = 1_000_000,
             n_shelters: int = 500):
    """Grid roads (n_side^2 nodes, ~2 n_side^2 edges), households of 1-5 persons, shelters with
    110 % of the demand, a few flooded 'rivers' that cut roads at 1 h and random later cuts."""
    rng = np.random.default_rng(seed)
    L = (n_side - 1) * step_m
    lines = [shapely.LineString([(0, i * step_m), (L, i * step_m)]) for i in range(n_side)]
    lines += [shapely.LineString([(i * step_m, 0), (i * step_m, L)]) for i in range(n_side)]
    kinds = rng.choice(["county", "village", "track"], len(lines), p=[0.2, 0.5, 0.3])
    roads = gpd.GeoDataFrame({"id": np.arange(len(lines)).astype(str), "kind": kinds}, geometry=lines,
                             crs="EPSG:4549")
    t = _clock()
    graph = build_graph(roads, max_edge_m=step_m)
    w, _ = _since(t)
    mid = 0.5 * (graph.node_xy[graph.edge_u] + graph.node_xy[graph.edge_v])
    river = np.zeros(graph.n_edges, bool)
    for yr in rng.uniform(0, L, 6):  # six east-west rivers, meandering
        river |= np.abs(mid[:, 1] - (yr + 2000 * np.sin(mid[:, 0] / 7000))) < 0.6 * step_m
    graph.cut_time_s = np.where(river, 3600.0, np.where(rng.random(graph.n_edges) < 0.05,
                                                          rng.uniform(3 * 3600, 12 * 3600, graph.n_edges), np.inf))
    sizes = rng.integers(1, 6, int(persons_total / 3 * 1.05))
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), persons_total) + 1]
    sizes[-1] -= sizes.sum() - persons_total
    n = len(sizes)
    # people live in towns: a mixture of 300 centres
    centres = rng.uniform(0, L, (300, 2))
    which = rng.integers(0, 300, n)
    xy = np.clip(centres[which] + rng.normal(0, 1500, (n, 2)), 0, L)
    people = gpd.GeoDataFrame({"id": np.char.add("H", np.arange(n).astype(str)), "persons": sizes,
                               "vulnerable": (rng.random(n) < 0.25).astype(int),
                               "arrival_time_s": rng.uniform(4 * 3600, 14 * 3600, n)},
                              geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:4549")
    sxy = np.clip(centres[rng.integers(0, 300, n_shelters)] + rng.normal(0, 2000, (n_shelters, 2)), 0, L)
    caps = rng.dirichlet(np.full(n_shelters, 3.0)) * persons_total * 1.1
    shelters = gpd.GeoDataFrame({"id": [f"S{j}" for j in range(n_shelters)], "name": [f"S{j}" for j in range(n_shelters)],
                                 "capacity": np.maximum(caps.astype(int), 50)},
                                geometry=gpd.points_from_xy(sxy[:, 0], sxy[:, 1]), crs="EPSG:4549")
    return people, shelters, graph, w


def bench_province() -> None:
    people, shelters, graph, build_s = province()
    print(f"province: {int(people['persons'].sum())} persons in {len(people)} households, {len(shelters)} shelters "
          f"({int(shelters['capacity'].sum())} places), {graph.n_edges} road edges / {graph.n_nodes} nodes "
          f"(graph built in {build_s:.1f} s)")
    plan_transfer(people.iloc[:2000], shelters.iloc[:5], graph, TransferOptions(mode="drive", routes=False))  # jit
    for routes in (False, True):
        t = _clock()
        plan = plan_transfer(people, shelters, graph, TransferOptions(mode="drive", routes=routes))
        w, c = _since(t)
        s = plan.summary
        print(f"  plan_transfer (drive, routes={'yes' if routes else 'no'}): {w:.1f} s wall, {c:.1f} s CPU; "
              f"{s['assigned_persons']} placed, {s['unplaced_persons']} unplaced {s['unplaced_by_reason']}; "
              f"{s['solver']['method']}, {s['solver']['groups']} groups, {s['solver']['variables']} variables, "
              f"HiGHS {s['solver']['seconds']} s; phases {s['timings_s']}; mean trip {s['mean_travel_min']} min")


if __name__ == "__main__":
    args = sys.argv[1:]
    inund = None
    if "--inundation" in args:  # e.g. out/demo/inundation/inundation.nc from `make demo`
        k = args.index("--inundation")
        inund = Path(args[k + 1])
        del args[k:k + 2]
    which = set(args) or {"sample", "province"}
    if "sample" in which:
        bench_sample(inund)
    if "province" in which:
        bench_province()
