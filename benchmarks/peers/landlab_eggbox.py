"""Peer benchmark, run with landlab's own Python (3.12 venv): cell updates per second of landlab's
OverlandFlow (de Almeida et al. 2012 scheme) on the all-wet sine egg-box surface. Prints one JSON
line. Not part of floodkit's dependencies."""

import json
import sys
import time

import numpy as np
from landlab import RasterModelGrid
from landlab.components import OverlandFlow

n = int(sys.argv[1])
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
dx = 5.0
grid = RasterModelGrid((n, n), xy_spacing=dx)
z = grid.add_zeros("topographic__elevation", at="node")
x, y = grid.x_of_node, grid.y_of_node
z[:] = 2.0 * np.sin(2 * np.pi * x / 100.0) * np.sin(2 * np.pi * y / 100.0)
h = grid.add_zeros("surface_water__depth", at="node")
h[:] = 3.0 - z
grid.set_closed_boundaries_at_grid_edges(True, True, True, True)
of = OverlandFlow(grid, mannings_n=0.03, steep_slopes=False, alpha=0.7, theta=0.9)
dt = 0.5 * dx / np.sqrt(9.81 * float(h.max()))
of.overland_flow(dt=dt)
steps = 0
t0 = time.perf_counter()
while time.perf_counter() - t0 < seconds:
    of.overland_flow(dt=dt)
    steps += 1
wall = time.perf_counter() - t0
print(json.dumps({"peer": "landlab OverlandFlow", "cells": n * n, "steps": steps, "wall_seconds": wall,
                  "cell_updates_per_second": n * n * steps / wall}))
