"""Transfer (evacuation) plan: every exposed person to a shelter, over the open road network.

The doctrine is "应转尽转、应转早转、应转快转": move everyone at risk, early and fast. The plan is
an optimisation, not a greedy loop. It is a capacitated transportation problem (Hitchcock 1941,
*J. Math. Phys.* 20:224-230) solved with HiGHS (Huangfu & Hall 2018, *Math. Prog. Comp.* 10:119-142)
through :func:`scipy.optimize.milp`:

    minimise   sum_gs  n_g-size * t_gs * x_gs  +  sum_g P_g * u_g
    subject to sum_s x_gs + u_g = n_g            (every person placed or declared unplaced)
               sum_g size_g * x_gs <= C_s        (shelter capacity)

with travel times ``t_gs`` from Dijkstra trees rooted at the shelters on the road graph without the
roads flooded before the departure time plus a horizon. The unplaced penalty ``P_g`` exceeds any
travel time, and is twice as high for households with vulnerable members (elderly, children,
disabled), so the plan first places as many vulnerable persons as capacity allows, then as many
persons as possible, then minimises the total travel time.

Demand is grouped so the programme stays small. For a county (up to ``max_groups`` groups)
households sharing a road node, priority, size and arrival band form one group and ``x_gs`` counts
whole households. The LP relaxation is solved first; when it is integral it is optimal. Otherwise
the integer programme is solved exactly when small (``full_milp_max_vars``), and for larger cases
only the groups with a fractional flow are re-decided as integers, the rest keeping the LP's flows
(the summary gives the gap to the LP bound; 0.2 % on the sample case). For a province, households are pooled into square
clusters (side doubled until at most ``max_groups`` groups), ``x_gs`` counts persons (a linear
programme; a transportation problem's vertices are integral), and each cluster's flows are split
back onto whole households; the few households that straddle two shelters are then placed in their
nearest shelter with room, or listed as unplaced with the reason.

The latest safe departure of a household is the flood arrival at its home or on its route (the
first time a route edge is flooded over the cut depth), minus the travel time and a safety margin.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import dijkstra

from gis.core_transfer import tree_min_cut, walk_paths
from gis.errors import InputError
from gis.roads import WALK_SPEED_M_PER_S, RoadGraph

REASON_CUT_OFF = "路断受困：开放道路上到不了任何安置点 (cut off: no shelter reachable on open roads)"
REASON_TOO_LATE = "来不及：洪水先于到达安置点 (too late: flood arrives before they can reach a shelter)"
REASON_CAPACITY = "容量不足：来得及到达的安置点已满 (no capacity in the shelters they can reach in time)"
REASON_NO_SHELTER = "无可用安置点 (no usable shelter)"


@dataclass
class TransferOptions:
    """Settings of the plan. Times are seconds after the inundation start."""

    depart_s: float = 0.0  # when the transfer starts (the plan's issue time)
    mode: str = "walk"  # "walk" or "drive": the mode that sets routes, costs and deadlines
    margin_s: float = 1800.0  # safety margin before the flood
    horizon_s: float = 1800.0  # roads flooded before depart + horizon are treated as cut (routes keep off them)
    walk_speed_m_per_s: float = WALK_SPEED_M_PER_S
    max_snap_m: float = 500.0  # a shelter farther than this from any road has no road access
    max_travel_s: float = 6 * 3600.0  # Dijkstra search limit
    k_nearest: int = 20  # candidate shelters per demand node
    all_shelters_below: int = 60  # with fewer usable shelters, every one is a candidate
    max_groups: int = 6000  # above this many exact groups, pool households into clusters
    time_limit_s: float = 60.0  # HiGHS time limit
    full_milp_max_vars: int = 6_000  # exact integer programme up to this size; above, LP + integer fix-up
    arrival_band_s: float = 600.0  # households at one node group together within this arrival band
    routes: bool = True  # build route lines
    start_time: pd.Timestamp | None = None  # to turn seconds into clock times


@dataclass
class TransferPlan:
    """The plan: one row per household/party, route lines, shelter occupancy and a summary."""

    parties: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    summary: dict
    warnings: list[str] = field(default_factory=list)
    path_nodes: np.ndarray | None = None  # concatenated route nodes of assigned parties
    path_offsets: np.ndarray | None = None
    path_party: np.ndarray | None = None  # party row of each path

    def __repr__(self) -> str:
        s = self.summary
        return (f"<TransferPlan: {s.get('assigned_persons')} of {s.get('persons')} persons placed in "
                f"{s.get('shelters_used')} shelters ({s.get('mode')}), {s.get('unplaced_persons')} unplaced "
                f"{s.get('unplaced_by_reason') or ''}>".replace(" {}", ""))


@dataclass
class _Prepared:
    people: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    graph: RoadGraph
    opt: TransferOptions
    persons: np.ndarray
    priority: np.ndarray
    arrival_s: np.ndarray
    h_node: np.ndarray
    h_access_s: np.ndarray
    h_dist_m: np.ndarray
    dn: np.ndarray  # demand-node index of each party
    demand_nodes: np.ndarray
    cap: np.ndarray
    usable: np.ndarray
    s_node: np.ndarray
    s_dist_m: np.ndarray
    best_t: np.ndarray  # (D, K) travel time incl. access at the shelter end, s
    best_s: np.ndarray  # (D, K) shelter row, -1 none
    best_cut: np.ndarray  # (D, K) earliest cut along the route, s
    preds: dict
    csr: tuple
    warnings: list
    timings: dict


# ----------------------------------------------------------------------------- preparation
def _prepare(people: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame, graph: RoadGraph,
             opt: TransferOptions, shelter_flooded: np.ndarray | None = None) -> _Prepared:
    t0 = time.perf_counter()
    timings: dict = {}
    warnings: list[str] = []
    for col in ("id", "persons"):
        if col not in people:
            raise InputError("households", f"column `{col}` is missing", "add it (see README, case format)")
    for col in ("id", "capacity"):
        if col not in shelters:
            raise InputError("shelters", f"column `{col}` is missing", "add it (see README, case format)")
    P = people.reset_index(drop=True)
    S = shelters.reset_index(drop=True)
    persons = P["persons"].fillna(0).astype(np.int64).to_numpy()
    if (persons < 0).any():
        raise InputError("households", "`persons` is negative", "give the number of persons (>= 0)")
    pri = (P["vulnerable"].fillna(0).to_numpy() > 0) if "vulnerable" in P else np.zeros(len(P), bool)
    arr = P["arrival_time_s"].astype(float).to_numpy() if "arrival_time_s" in P else np.full(len(P), np.inf)
    arr = np.where(np.isfinite(arr), arr, np.inf)
    cap = pd.to_numeric(S["capacity"], errors="coerce").fillna(0).astype(np.int64).to_numpy()
    if graph.n_nodes == 0:
        raise InputError("roads", "the road network is empty", "give road lines")
    s_node, s_dist = graph.snap(S.geometry.x.to_numpy(), S.geometry.y.to_numpy())
    usable = (s_dist <= opt.max_snap_m) & (cap > 0)
    names = S["name"].astype(str).to_numpy() if "name" in S else S["id"].astype(str).to_numpy()
    for j in np.flatnonzero(s_dist > opt.max_snap_m):
        warnings.append(f"shelters: '{S['id'].iloc[j]}' {names[j]} has no road access (nearest road "
                        f"{s_dist[j]:.0f} m > {opt.max_snap_m:.0f} m); left out of the plan")
    if shelter_flooded is not None:
        for j in np.flatnonzero(shelter_flooded & usable):
            warnings.append(f"shelters: '{S['id'].iloc[j]}' {names[j]} lies in the flood; left out of the plan")
        usable &= ~np.asarray(shelter_flooded, bool)
    h_node, h_dist = graph.snap(P.geometry.x.to_numpy(), P.geometry.y.to_numpy())
    h_access = h_dist / opt.walk_speed_m_per_s
    demand_nodes, dn = np.unique(h_node, return_inverse=True)
    dn = dn.ravel()
    mw, me = graph.csr(opt.mode, opt.depart_s + opt.horizon_s, opt.walk_speed_m_per_s)
    eid = (me.data - 1).astype(np.int64)
    assert np.array_equal(mw.indices, me.indices)
    timings["prepare_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    use = np.flatnonzero(usable)
    K = len(use) if len(use) <= opt.all_shelters_below else opt.k_nearest  # a county: every shelter
    K = max(1, min(K, len(use)))
    D = len(demand_nodes)
    best_t = np.full((D, K), np.inf)
    best_s = np.full((D, K), -1, dtype=np.int64)
    best_cut = np.full((D, K), np.inf)
    preds: dict = {}
    rows = np.arange(D)
    cache: dict = {}
    for j in use:
        node = int(s_node[j])
        if node not in cache:
            dist, pred = dijkstra(mw, directed=True, indices=node, return_predecessors=True,
                                  limit=opt.max_travel_s)
            reached = np.flatnonzero(np.isfinite(dist))
            order = reached[np.argsort(dist[reached], kind="stable")]
            mc = tree_min_cut(order, pred.astype(np.int64), mw.indptr.astype(np.int64),
                              mw.indices.astype(np.int64), eid, graph.cut_time_s)
            cache = {node: (dist[demand_nodes], mc[demand_nodes], pred.astype(np.int32))}
        dd, cc, pred32 = cache[node]
        preds[int(j)] = pred32
        t = dd + s_dist[j] / opt.walk_speed_m_per_s
        worst = np.argmax(best_t, axis=1)
        better = t < best_t[rows, worst]
        r = rows[better]
        best_t[r, worst[r]] = t[r]
        best_s[r, worst[r]] = j
        best_cut[r, worst[r]] = cc[r]
    o = np.argsort(best_t, axis=1, kind="stable")
    best_t = np.take_along_axis(best_t, o, 1)
    best_s = np.take_along_axis(best_s, o, 1)
    best_cut = np.take_along_axis(best_cut, o, 1)
    timings["shortest_paths_s"] = time.perf_counter() - t1
    return _Prepared(P, S, graph, opt, persons, pri, arr, h_node, h_access, h_dist, dn, demand_nodes, cap, usable,
                     s_node, s_dist, best_t, best_s, best_cut, preds, (mw, eid), warnings, timings)


def _feasible(prep: _Prepared, t_total: np.ndarray, arrival: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """A trip is feasible when it ends a margin before the flood reaches the home or the route."""
    o = prep.opt
    return np.isfinite(t_total) & (o.depart_s + t_total + o.margin_s <= np.minimum(arrival, cut))


# ----------------------------------------------------------------------------- optimisation
def _groups(prep: _Prepared) -> tuple[np.ndarray, np.ndarray, bool]:
    """Group index of each party, each group's representative party, and whether groups are exact."""
    o = prep.opt
    band = np.where(np.isfinite(prep.arrival_s), np.floor(prep.arrival_s / o.arrival_band_s), -1).astype(np.int64)
    key = np.column_stack([prep.dn, prep.priority.astype(np.int64), prep.persons, band])
    _, g = np.unique(key, axis=0, return_inverse=True)
    g = g.ravel()
    exact = g.max(initial=-1) + 1 <= o.max_groups
    if not exact:
        xy = np.column_stack([prep.people.geometry.x.to_numpy(), prep.people.geometry.y.to_numpy()])
        side = 500.0
        while True:
            cell = np.floor(xy / side).astype(np.int64)
            _, g = np.unique(np.column_stack([cell, prep.priority.astype(np.int64)]), axis=0, return_inverse=True)
            g = g.ravel()
            if g.max() + 1 <= o.max_groups:
                break
            side *= 2.0
    n_g = g.max(initial=-1) + 1
    # representative: the member nearest the group's person-weighted centre
    w = np.maximum(prep.persons, 1).astype(float)
    x = prep.people.geometry.x.to_numpy()
    y = prep.people.geometry.y.to_numpy()
    sw = np.bincount(g, w, n_g)
    cx = np.bincount(g, w * x, n_g) / sw
    cy = np.bincount(g, w * y, n_g) / sw
    d2 = (x - cx[g]) ** 2 + (y - cy[g]) ** 2
    order = np.lexsort((d2, g))
    first = np.ones(len(order), bool)
    first[1:] = g[order][1:] != g[order][:-1]
    rep = np.empty(n_g, np.int64)
    rep[g[order][first]] = order[first]
    return g, rep, bool(exact)


def _solve(prep: _Prepared) -> tuple[np.ndarray, dict]:
    """Shelter row of each party (-1 unplaced) from the HiGHS programme, before repair."""
    t0 = time.perf_counter()
    g, rep, exact = _groups(prep)
    n_g = len(rep)
    npart = len(prep.persons)
    assign = np.full(npart, -1, np.int64)
    info = {"method": "MILP (whole households)" if exact else "LP (persons, pooled clusters)", "groups": n_g}
    if n_g == 0 or not prep.usable.any():
        info.update(variables=0, status="nothing to solve", seconds=0.0)
        return assign, info
    if exact:
        size = np.zeros(n_g, np.int64)
        size[g] = prep.persons
        units = np.bincount(g, minlength=n_g).astype(float)
    else:
        size = np.ones(n_g, np.int64)
        units = np.bincount(g, prep.persons, n_g)
    arrival_g = np.full(n_g, np.inf)
    np.minimum.at(arrival_g, g, prep.arrival_s)
    access_g = np.zeros(n_g)
    np.maximum.at(access_g, g, prep.h_access_s)
    if not exact:  # pooled clusters: the representative stands for the members; each is re-checked later
        access_g = prep.h_access_s[rep]
        arrival_g = prep.arrival_s[rep]
    rdn = prep.dn[rep]
    # the walk from home to the road is the same whatever the shelter: it enters the deadline
    # (the group's slowest member and earliest flood) but not the cost
    t = prep.best_t[rdn]
    ok = (prep.best_s[rdn] >= 0) & _feasible(prep, t + access_g[:, None], arrival_g[:, None], prep.best_cut[rdn])
    pg, pk = np.nonzero(ok)
    ps = prep.best_s[rdn][pg, pk]
    pt = t[pg, pk]
    pri_g = np.zeros(n_g, bool)
    pri_g[g] = prep.priority
    nv = len(pg)
    tmin = pt / 60.0
    big = 10.0 * (tmin.max(initial=0.0) + 1.0) + 1000.0
    c = np.concatenate([size[pg] * tmin, size * big * np.where(pri_g, 2.0, 1.0)])
    a_eq = sparse.csr_matrix((np.ones(nv + n_g), (np.concatenate([pg, np.arange(n_g)]),
                                                   np.arange(nv + n_g))), shape=(n_g, nv + n_g))
    srows, sidx = np.unique(ps, return_inverse=True)
    a_cap = sparse.csr_matrix((size[pg].astype(float), (sidx.ravel(), np.arange(nv))), shape=(len(srows), nv + n_g))
    cons = [LinearConstraint(a_eq, units, units),
            LinearConstraint(a_cap, -np.inf, prep.cap[srows].astype(float))]
    opts = {"time_limit": prep.opt.time_limit_s, "disp": False}
    nvar = nv + n_g
    # the LP relaxation first: a transportation problem's vertices are integral, and with whole
    # households only the few that straddle full shelters come out fractional
    res = milp(c, constraints=cons, integrality=np.zeros(nvar), bounds=Bounds(0, np.inf), options=opts)
    if res.x is not None:
        info["lp_bound"] = float(res.fun)
    if exact and res.x is not None:
        frac = np.abs(res.x - np.rint(res.x)) > 1e-6
        if frac.any():
            if nvar <= prep.opt.full_milp_max_vars:  # small: the exact integer programme
                lo, hi = np.zeros(nvar), np.full(nvar, np.inf)
                info["method"] = "MILP (whole households)"
            else:  # large: keep the integral part, let only the fractional variables move
                # groups with a fractional flow are re-decided over all their candidate shelters;
                # the others keep the LP's (integral) flows
                free_g = np.zeros(n_g, bool)
                free_g[pg[frac[:nv]]] = True
                free_g[frac[nv:]] = True
                free = np.concatenate([free_g[pg], free_g])
                lo = np.where(free, 0.0, np.rint(res.x))
                hi = np.where(free, np.inf, np.rint(res.x))
                hi[nv:] = np.inf  # anyone may still be declared unplaced, so it is always feasible
                info["method"] = "LP + MILP on the fractional households"
            r2 = milp(c, constraints=cons, integrality=np.ones(nvar), bounds=Bounds(lo, hi), options=opts)
            if r2.x is not None:
                res = r2
            else:
                info["method"] += " -> LP rounded down"
        else:
            info["method"] = "LP (integral: optimal for whole households)"
    info.update(variables=int(nvar), status=res.message, objective=float(res.fun) if res.x is not None else None)
    if res.x is not None and info.get("lp_bound"):
        info["gap_to_lp_bound"] = round((float(res.fun) - info["lp_bound"]) / abs(info["lp_bound"]), 5)
    if res.x is None:
        info["seconds"] = time.perf_counter() - t0
        return assign, info
    x = np.floor(res.x[:nv] + 1e-6).astype(np.int64)
    # hand flows back to whole households
    members = np.argsort(g, kind="stable")
    bounds_g = np.searchsorted(g[members], np.arange(n_g + 1))
    flow_order = np.lexsort((pt, pg))
    pos = x > 0
    fo = flow_order[pos[flow_order]]
    fstart = np.searchsorted(pg[fo], np.arange(n_g + 1))
    for gi in np.unique(pg[pos]):
        mem = members[bounds_g[gi]:bounds_g[gi + 1]]
        flows = fo[fstart[gi]:fstart[gi + 1]]
        if exact:
            k = 0
            for f in flows:
                assign[mem[k:k + x[f]]] = ps[f]
                k += x[f]
            continue
        # persons: largest households first; one that straddles two shelters is left for repair
        mem = mem[np.argsort(-prep.persons[mem], kind="stable")]
        cum_f = np.cumsum(x[flows])
        end = np.cumsum(prep.persons[mem])
        start = end - prep.persons[mem]
        k = np.searchsorted(cum_f, start, side="right")
        inside = k < len(flows)
        kk = np.minimum(k, len(flows) - 1)
        fits = inside & (end <= cum_f[kk])
        assign[mem[fits]] = ps[flows[kk[fits]]]
    if not exact:  # each pooled member must itself reach its shelter in time, else it goes to repair
        i = np.flatnonzero(assign >= 0)
        d = prep.dn[i]
        match = prep.best_s[d] == assign[i][:, None]
        k = np.argmax(match, axis=1)
        tt = prep.best_t[d, k] + prep.h_access_s[i]
        ok = match.any(axis=1) & _feasible(prep, tt, prep.arrival_s[i], prep.best_cut[d, k])
        assign[i[~ok]] = -1
    info["seconds"] = time.perf_counter() - t0
    return assign, info


def _repair(prep: _Prepared, assign: np.ndarray, place: bool = True) -> np.ndarray:
    """Place the households the programme left (straddlers, pooled members) in their nearest
    candidate shelter with room; return the reason code of those still unplaced (0 = placed).
    With ``place=False`` only the reasons are given."""
    used = np.bincount(assign[assign >= 0], prep.persons[assign >= 0], len(prep.cap)).astype(np.int64)
    rem = prep.cap - used
    left = np.flatnonzero(assign < 0)
    reason = np.zeros(len(assign), np.int64)
    order = left[np.lexsort((-prep.persons[left], ~prep.priority[left]))]
    for i in order:
        d = prep.dn[i]
        s = prep.best_s[d]
        t = prep.best_t[d] + prep.h_access_s[i]
        reach = (s >= 0) & np.isfinite(t)
        feas = reach & _feasible(prep, t, np.full(len(t), prep.arrival_s[i]), prep.best_cut[d])
        room = feas & (rem[np.maximum(s, 0)] >= prep.persons[i]) & place
        if room.any():
            k = int(np.flatnonzero(room)[0])
            assign[i] = s[k]
            rem[s[k]] -= prep.persons[i]
        elif not prep.usable.any():
            reason[i] = 4
        elif not reach.any():
            reason[i] = 1
        elif not feas.any():
            reason[i] = 2
        else:
            reason[i] = 3
    return reason


def greedy_assign(prep: _Prepared) -> np.ndarray:
    """Baseline only (for tests and benchmarks): each household, vulnerable first and earliest
    flood first, to its nearest feasible shelter with room. Not the planner."""
    rem = prep.cap.copy()
    assign = np.full(len(prep.persons), -1, np.int64)
    order = np.lexsort((prep.arrival_s, ~prep.priority))
    for i in order:
        d = prep.dn[i]
        s = prep.best_s[d]
        t = prep.best_t[d] + prep.h_access_s[i]
        feas = (s >= 0) & _feasible(prep, t, np.full(len(t), prep.arrival_s[i]), prep.best_cut[d])
        room = feas & (rem[np.maximum(s, 0)] >= prep.persons[i])
        if room.any():
            k = int(np.flatnonzero(room)[0])
            assign[i] = s[k]
            rem[s[k]] -= prep.persons[i]
    return assign


# ----------------------------------------------------------------------------- the plan
def _finish(prep: _Prepared, assign: np.ndarray, reason: np.ndarray, info: dict) -> TransferPlan:
    t0 = time.perf_counter()
    o = prep.opt
    P = prep.people
    n = len(P)
    walk_s = np.full(n, np.nan)
    drive_s = np.full(n, np.nan)
    length_m = np.full(n, np.nan)
    route_cut = np.full(n, np.inf)
    drive_edge = prep.graph.edge_seconds("drive")
    mw, eid = prep.csr
    indptr, indices = mw.indptr.astype(np.int64), mw.indices.astype(np.int64)
    all_nodes, all_off, all_party = [], [], []
    base = 0
    for j in np.unique(assign[assign >= 0]):
        idx = np.flatnonzero(assign == j)
        nodes, off, ln, dr, ct = walk_paths(prep.h_node[idx], prep.preds[int(j)].astype(np.int64), indptr, indices,
                                            eid, prep.graph.length_m, drive_edge, prep.graph.cut_time_s)
        access_m = prep.h_dist_m[idx] + prep.s_dist_m[j]
        length_m[idx] = ln
        walk_s[idx] = (ln + access_m) / o.walk_speed_m_per_s
        drive_s[idx] = dr + access_m / o.walk_speed_m_per_s
        route_cut[idx] = ct
        all_nodes.append(nodes)
        all_off.append(off[1:] + base)
        base += int(off[-1])
        all_party.append(idx)
    travel = walk_s if o.mode == "walk" else drive_s
    latest = np.minimum(prep.arrival_s, route_cut) - travel - o.margin_s
    late = (assign >= 0) & ~(latest >= o.depart_s)
    reason[late] = 2
    assign = np.where(late, -1, assign)
    S = prep.shelters
    sid = S["id"].astype(str).to_numpy()
    sname = S["name"].astype(str).to_numpy() if "name" in S else sid
    placed = assign >= 0
    out = P.copy()
    out["shelter_id"] = np.where(placed, sid[np.maximum(assign, 0)], "")
    out["shelter_name"] = np.where(placed, sname[np.maximum(assign, 0)], "")
    fin = lambda a: np.where(placed & np.isfinite(a), a, np.nan)  # noqa: E731
    out["walk_min"] = np.round(fin(walk_s) / 60.0, 1)
    out["drive_min"] = np.round(fin(drive_s) / 60.0, 1)
    out["route_length_m"] = np.round(fin(length_m + prep.h_dist_m + prep.s_dist_m[np.maximum(assign, 0)]), 0)
    out["latest_departure_s"] = fin(latest)
    if o.start_time is not None:
        out["latest_departure"] = pd.Timestamp(o.start_time) + pd.to_timedelta(out["latest_departure_s"], unit="s")
    out["priority"] = prep.priority
    labels = {0: "", 1: REASON_CUT_OFF, 2: REASON_TOO_LATE, 3: REASON_CAPACITY, 4: REASON_NO_SHELTER}
    out["status"] = np.where(placed, "assigned", "unplaced")
    out["reason"] = [labels[int(r)] if not p else "" for r, p in zip(reason, placed)]
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=P.crs)

    # routes of the assigned (a late household's path is dropped with it)
    path_nodes = np.concatenate(all_nodes) if all_nodes else np.zeros(0, np.int64)
    path_off = np.concatenate([np.zeros(1, np.int64)] + all_off)
    path_party = np.concatenate(all_party) if all_party else np.zeros(0, np.int64)
    keep = placed[path_party]
    routes = _route_lines(prep, out, path_nodes, path_off, path_party, keep) if o.routes else None

    occ = np.bincount(assign[placed], prep.persons[placed], len(S)).astype(np.int64)
    sh = S.copy()
    sh["capacity"] = prep.cap
    sh["occupied"] = occ
    sh["free"] = prep.cap - occ
    sh["usable"] = prep.usable
    sh["households"] = np.bincount(assign[placed], minlength=len(S))
    summary = _summary(prep, out, sh, info)
    summary["timings_s"]["finish_s"] = round(time.perf_counter() - t0, 3)
    return TransferPlan(out, routes, sh, summary, list(prep.warnings), path_nodes, path_off, path_party)


def _route_lines(prep, out, nodes, off, party, keep) -> gpd.GeoDataFrame:
    cols = ["id", "shelter_id", "walk_min", "drive_min", "route_length_m", "latest_departure_s"]
    if len(party) == 0 or not keep.any():
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=out.crs)
    lens = np.diff(off)
    npts = lens + 2
    starts = np.concatenate([[0], np.cumsum(npts)[:-1]])
    total = int(npts.sum())
    xy = np.empty((total, 2))
    hx = np.column_stack([out.geometry.x.to_numpy(), out.geometry.y.to_numpy()])
    S = prep.shelters
    sx = np.column_stack([S.geometry.x.to_numpy(), S.geometry.y.to_numpy()])
    sidx = pd.Index(S["id"].astype(str)).get_indexer(out["shelter_id"].to_numpy()[party])
    xy[starts] = hx[party]
    xy[starts + npts - 1] = sx[sidx]
    inner = np.repeat(starts + 1 - off[:-1], lens) + np.arange(len(nodes))
    xy[inner] = prep.graph.node_xy[nodes]
    lines = shapely.linestrings(xy, indices=np.repeat(np.arange(len(party)), npts))
    r = out.iloc[party][cols].reset_index(drop=True)
    g = gpd.GeoDataFrame(r, geometry=np.asarray(lines), crs=out.crs)
    return g[keep].reset_index(drop=True)


def _summary(prep: _Prepared, out: pd.DataFrame, sh: pd.DataFrame, info: dict) -> dict:
    placed = (out["status"] == "assigned").to_numpy()
    p = prep.persons
    vul = out["vulnerable"].fillna(0).astype(np.int64).to_numpy() if "vulnerable" in out else np.zeros(len(p), int)
    reasons = out.loc[~placed, "reason"].value_counts()
    usable_cap = int(prep.cap[prep.usable].sum())
    tt = out["walk_min"] if prep.opt.mode == "walk" else out["drive_min"]
    return {
        "parties": int(len(out)), "persons": int(p.sum()),
        "assigned_parties": int(placed.sum()), "assigned_persons": int(p[placed].sum()),
        "unplaced_parties": int((~placed).sum()), "unplaced_persons": int(p[~placed].sum()),
        "vulnerable_persons": int(vul.sum()), "vulnerable_unplaced": int(vul[~placed].sum()),
        "unplaced_by_reason": {k: int(out.loc[(~placed) & (out["reason"] == k).to_numpy(), "persons"].sum())
                               for k in reasons.index},
        "shelters": int(len(sh)), "shelters_usable": int(prep.usable.sum()),
        "shelters_used": int((sh["occupied"] > 0).sum()),
        "capacity_usable": usable_cap, "capacity_shortfall": int(max(0, int(p.sum()) - usable_cap)),
        "mode": prep.opt.mode,
        "total_travel_person_min": float(round(np.nansum(tt.to_numpy() * p * placed), 1)),
        "mean_travel_min": float(round(np.nansum(tt.to_numpy() * p * placed) / max(p[placed].sum(), 1), 2)),
        "max_travel_min": float(np.nanmax(tt.to_numpy()[placed])) if placed.any() else None,
        "solver": {k: (v if not isinstance(v, float) else round(v, 3)) for k, v in info.items()},
        "timings_s": {k: round(v, 3) for k, v in prep.timings.items()},
        "warnings": list(prep.warnings),
    }


def plan_transfer(people: gpd.GeoDataFrame, shelters: gpd.GeoDataFrame, graph: RoadGraph,
                  options: TransferOptions | None = None, shelter_flooded: np.ndarray | None = None,
                  method: str = "optimal") -> TransferPlan:
    """Assign every exposed person to a shelter; nobody is dropped.

    Parameters
    ----------
    people : GeoDataFrame
        Points with ``id``, ``persons``, optionally ``vulnerable`` (count of elderly, children and
        disabled), ``arrival_time_s`` (flood arrival at the home, s after the inundation start; NaN
        = never) and any other columns, which are carried through.
    shelters : GeoDataFrame
        Points with ``id``, ``name``, ``capacity``.
    graph : RoadGraph
        With ``cut_time_s`` set (see :func:`gis.roads.flood_cut_times`).
    options : TransferOptions
    shelter_flooded : bool array, optional
        Shelters in the flood; they are left out with a warning.
    method : {"optimal", "greedy"}
        ``"greedy"`` is the nearest-shelter baseline kept for comparison.

    Returns
    -------
    TransferPlan
        Every input row appears once in ``parties``, with status ``assigned`` or ``unplaced`` and a reason.
    """
    opt = options or TransferOptions()
    prep = _prepare(people, shelters, graph, opt, shelter_flooded)
    t0 = time.perf_counter()
    if method == "greedy":
        assign, info = greedy_assign(prep), {"method": "greedy nearest shelter (baseline)"}
    elif method == "optimal":
        assign, info = _solve(prep)
    else:
        raise ValueError(f"method must be 'optimal' or 'greedy', not {method!r}")
    reason = _repair(prep, assign, place=method == "optimal")
    prep.timings["assign_s"] = time.perf_counter() - t0
    return _finish(prep, assign, reason, info)
