"""2-D inundation on a GPU (CUDA backend): cell updates per second on the all-wet egg-box surface
(float32) at 5M and 25M cells, the fraction of the device's copy bandwidth this represents, and
optionally the 6-hour 50-year design storm on the full-scale 5 m sample, end to end.

    python benchmarks/bench_cuda.py                      # 5M and 25M cells egg-box, copy bandwidth
    python benchmarks/bench_cuda.py --sizes 2236         # 5M only
    python benchmarks/bench_cuda.py --full-scale         # also the 5 m sample (generates it unless --case)
    python benchmarks/bench_cuda.py --compare 1000       # also the CPU backend on a 1M-cell egg-box, same run

Without a usable CUDA GPU it prints a notice and exits 0 (so `make bench` passes on CPU machines).

Bytes per cell update: the kernels' compulsory traffic (float32, uniform n and rain, neighbours
from cache), counted from core_cuda.py:
  fluxes      read z, h, qx, qy; write the new qx, qy                              24 B
  limit       read z, h, qx, qy (writes only where a cell would run dry)           16 B
  continuity  read z, h, qx, qy; write h; read max_h, max_speed, max_hv,
              duration, arrival; write duration (wet cells)                         44 B
  total                                                                             84 B
The tile flags, the stats row and the 1-tile halo are negligible. Effective bandwidth =
cell updates/s x 84 B, compared with a device-to-device copy (read + write) of 1 GiB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hydro.inundation import Simulation, SimulationOptions  # noqa: E402
from hydro.inundation.backend_cuda import cuda_usable  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inundation import eggbox, full_scale_inputs, full_scale_simulation  # noqa: E402  (the same surface on both backends)

BYTES_PER_CELL_UPDATE = 84


def copy_bandwidth(nbytes: int = 1 << 30, repeats: int = 20) -> float:
    """Device-to-device copy bandwidth in bytes/s (read + write counted), best of ``repeats``."""
    from numba import cuda

    a = cuda.device_array(nbytes // 4, np.float32)
    b = cuda.device_array_like(a)
    b.copy_to_device(a)  # warm up
    cuda.synchronize()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        b.copy_to_device(a)
        cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def eggbox_speed(n: int, seconds: float, backend: str) -> dict:
    z, h = eggbox(n)
    sim = Simulation(z, 5.0, 5.0, 0.03, h, options=SimulationOptions(dtype="float32", lts_levels=1), backend=backend)
    sim.step(np.inf)  # compile / warm up
    steps = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        sim.step(np.inf)  # each step reads its statistics back: the loop is synchronous
        steps += 1
    wall = time.perf_counter() - t0
    return {"backend": sim.backend, "cells": n * n, "steps": steps, "wall_seconds": wall,
            "cell_updates_per_second": n * n * steps / wall}


def full_scale(duration_h: float, storm: str, case_dir: str | None) -> None:
    """The 5 m sample (~6.9M cells), 50-year design-storm rain on the grid, free outflow, on the GPU.

    Wall time end to end: case loading, setup (upload), simulation (hourly snapshots back to the
    host), and the products (NetCDF, extent polygons, water balance) written to disk.
    """
    from hydro.inundation.outputs import write_products

    if case_dir is None:
        case_dir = tempfile.mkdtemp(prefix="dgx5_")
        t = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "sample", "dongguanxi", "--resolution", "5",
                        "--out", case_dir], check=True)
        print(f"  sample generated in {time.perf_counter() - t:.0f} s (not counted below)")
    t0 = time.perf_counter()
    case, df, rain, n = full_scale_inputs(case_dir, storm)
    tr = case.dem.rio.transform()
    t1 = time.perf_counter()
    sim = full_scale_simulation(case, rain, n, backend="cuda")
    t2 = time.perf_counter()
    sim.run(duration_h * 3600.0, output_interval_s=3600.0, progress=True)
    t3 = time.perf_counter()
    out = Path(tempfile.mkdtemp(prefix="inund5_cuda_"))
    write_products(sim, out, tr, case.dem.rio.crs, df.index[0])
    t4 = time.perf_counter()
    s = sim.summary()
    print(f"full scale on the GPU: {s['cells']:,} cells at {abs(tr.a):g} m, {storm} storm, {duration_h:g} h simulated")
    print(f"  end to end {t4 - t0:.1f} s: load {t1 - t0:.1f} s, setup {t2 - t1:.1f} s, simulation {t3 - t2:.1f} s "
          f"({s['steps']} steps, {s['cell_updates_per_second']:.3e} cell updates/s), outputs {t4 - t3:.1f} s")
    print(f"  volume error {s['volume_error_relative']:.2e}; products in {out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2236,5000", help="grid edge lengths (default 2236,5000: 5M and 25M cells)")
    ap.add_argument("--seconds", type=float, default=10.0, help="stepping time per size")
    ap.add_argument("--compare", type=int, default=0, help="also time the CPU backend on an N x N egg-box")
    ap.add_argument("--full-scale", action="store_true", help="also the 5 m sample, 6-h design storm")
    ap.add_argument("--case", default=None, help="an existing 5 m sample folder for --full-scale")
    ap.add_argument("--duration-h", type=float, default=6.0)
    ap.add_argument("--storm", default="50y")
    a = ap.parse_args()
    ok, why = cuda_usable()
    if not ok:
        print(f"notice: no usable CUDA GPU ({why}); CUDA benchmarks skipped")
        return 0
    from numba import cuda

    dev = cuda.current_context().device
    name = getattr(dev, "name", "CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else name
    bw = copy_bandwidth()
    print(f"device: {name}; device-to-device copy {bw / 1e9:.0f} GB/s (read + write)")
    print(f"egg-box, all wet, float32, CUDA backend; {a.seconds:g} s of stepping per size; "
          f"{BYTES_PER_CELL_UPDATE} B moved per cell update")
    for n in (int(s) for s in a.sizes.split(",")):
        r = eggbox_speed(n, a.seconds, "cuda")
        cups = r["cell_updates_per_second"]
        eff = cups * BYTES_PER_CELL_UPDATE
        print(f"  {r['cells'] / 1e6:6.2f}M cells  {cups:10.3e} cell updates/s  ({r['steps']} steps in "
              f"{r['wall_seconds']:.1f} s, {1e6 * r['wall_seconds'] / r['steps']:.0f} us/step)  "
              f"{eff / 1e9:.0f} GB/s = {100 * eff / bw:.0f}% of copy bandwidth", flush=True)
    if a.compare:
        r = eggbox_speed(a.compare, a.seconds, "cpu")
        print(f"  CPU backend {r['cells'] / 1e6:.2f}M cells  {r['cell_updates_per_second']:.3e} cell updates/s")
    if a.full_scale:
        full_scale(a.duration_h, a.storm, a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
