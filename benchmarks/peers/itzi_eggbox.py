"""Peer benchmark, run with itzi-core's own Python (3.12 venv): cell updates per second of itzi's
surface-flow step (solve_q + boundary fluxes + solve_h + NaN check, as ``SurfaceFlow.step`` does)
on the all-wet sine egg-box surface. Prints one JSON line. Not part of floodkit's dependencies."""

import json
import sys
import time

import numpy as np
from itzi_core.compute.partial_inertia_h import solve_h
from itzi_core.compute.partial_inertia_q import accumulate_boundary_fluxes, solve_q

n = int(sys.argv[1])
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
dx = 5.0
f32 = np.float32
yy, xx = np.mgrid[0:n, 0:n].astype(f32)
z = (2.0 * np.sin(2 * np.pi * xx * dx / 100.0) * np.sin(2 * np.pi * yy * dx / 100.0)).astype(f32)


def pad(a, v=0.0):
    p = np.full((n + 2, n + 2), v, dtype=a.dtype)
    p[1:-1, 1:-1] = a
    return p


z_p = pad(z)
h = pad((3.0 - z).astype(f32))
h[1 + n // 2 - 20:1 + n // 2 + 20, 1 + n // 2 - 20:1 + n // 2 + 20] += 1.0
A = {k: np.zeros((n + 2, n + 2), f32) for k in ("qe", "qs", "hfe", "hfs", "qe_new", "qs_new", "ext", "bcv", "hmax",
                                                  "hfix", "herr", "v", "vdir", "vmax", "fr", "bacc")}
nn = np.full((n + 2, n + 2), 0.03, f32)
bct = np.zeros((n + 2, n + 2), np.uint8)
bct[1:-1, 1:-1] = 0
dt = f32(0.5 * dx / np.sqrt(9.81 * float(h.max())))


def step():
    solve_q(arr_z=z_p, arr_n=nn, arr_h=h, arr_qe=A["qe"], arr_qs=A["qs"], arr_hfe=A["hfe"], arr_hfs=A["hfs"],
            arr_bctype=bct, arr_qe_new=A["qe_new"], arr_qs_new=A["qs_new"], dt=dt, dx=dx, dy=dx, g=9.80665,
            theta=0.9, hf_min=0.005, slope_threshold=0.5, max_slope=0.5)
    accumulate_boundary_fluxes(arr_qe_new=A["qe_new"], arr_qs_new=A["qs_new"], arr_bcaccum=A["bacc"], dt=dt,
                               dx=dx, dy=dx)
    solve_h(arr_ext=A["ext"], arr_qe=A["qe_new"], arr_qs=A["qs_new"], arr_bct=bct, arr_bcv=A["bcv"], arr_h=h,
            arr_hmax=A["hmax"], arr_hfix=A["hfix"], arr_herr=A["herr"], arr_hfe=A["hfe"], arr_hfs=A["hfs"],
            arr_v=A["v"], arr_vdir=A["vdir"], arr_vmax=A["vmax"], arr_fr=A["fr"], dx=dx, dy=dx, dt=dt, g=9.80665)
    if np.any(np.isnan(h[1:-1, 1:-1])):
        raise RuntimeError("NaN")
    A["qe"], A["qe_new"] = A["qe_new"], A["qe"]
    A["qs"], A["qs_new"] = A["qs_new"], A["qs"]


step()
steps = 0
t0 = time.perf_counter()
while time.perf_counter() - t0 < seconds:
    step()
    steps += 1
wall = time.perf_counter() - t0
print(json.dumps({"peer": "itzi-core", "cells": n * n, "steps": steps, "wall_seconds": wall,
                  "cell_updates_per_second": n * n * steps / wall}))
