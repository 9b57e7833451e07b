"""Numba kernels of the transfer planner: walks on shortest-path trees.

Pure functions over flat arrays (a CSR graph whose ``data`` is the edge index, and a predecessor
array from :func:`scipy.sparse.csgraph.dijkstra`). No I/O, no classes.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _edge_of(indptr, indices, edge_id, p, n):
    for k in range(indptr[p], indptr[p + 1]):
        if indices[k] == n:
            return edge_id[k]
    return -1


@njit(cache=True)
def tree_min_cut(order, pred, indptr, indices, edge_id, cut_time_s):
    """Earliest cut time along the tree path from the root to every node (the path's bottleneck).

    ``order`` lists the reached nodes by increasing distance (root first), so each predecessor is
    done before its children. Unreached nodes get ``inf``.
    """
    n = pred.shape[0]
    out = np.full(n, np.inf)
    for i in range(order.shape[0]):
        v = order[i]
        p = pred[v]
        if p < 0:
            continue
        e = _edge_of(indptr, indices, edge_id, p, v)
        c = cut_time_s[e] if e >= 0 else np.inf
        out[v] = min(out[p], c)
    return out


@njit(cache=True)
def walk_paths(starts, pred, indptr, indices, edge_id, length_m, drive_s, cut_time_s):
    """Follow predecessors from each start node to the tree root (the shelter).

    Returns the concatenated node lists with their offsets, and per path its length (m), vehicle
    time (s, inf over a footpath) and earliest cut time (s).
    """
    m = starts.shape[0]
    offsets = np.zeros(m + 1, np.int64)
    total = 0
    for i in range(m):
        v = starts[i]
        k = 1
        while pred[v] >= 0:
            v = pred[v]
            k += 1
        total += k
        offsets[i + 1] = total
    nodes = np.empty(total, np.int64)
    length = np.zeros(m)
    drive = np.zeros(m)
    cut = np.full(m, np.inf)
    for i in range(m):
        v = starts[i]
        j = offsets[i]
        nodes[j] = v
        while pred[v] >= 0:
            p = pred[v]
            e = _edge_of(indptr, indices, edge_id, v, p)
            if e >= 0:
                length[i] += length_m[e]
                drive[i] += drive_s[e]
                cut[i] = min(cut[i], cut_time_s[e])
            j += 1
            nodes[j] = p
            v = p
    return nodes, offsets, length, drive, cut
