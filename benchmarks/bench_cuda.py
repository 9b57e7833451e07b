"""2-D inundation on a GPU (CUDA backend): cell updates per second on the all-wet egg-box surface
(float32) at 5M and 25M cells, the fraction of the device's copy bandwidth this represents, and
optionally the 6-hour 50-year design storm on the full-scale 5 m sample, end to end.

    python benchmarks/bench_cuda.py                      # 5M and 25M cells egg-box, copy bandwidth
    python benchmarks/bench_cuda.py --sizes 2236         # 5M only
    python benchmarks/bench_cuda.py --profile            # also CUDA-event times per kernel, GPU-bound rate, variants
    python benchmarks/bench_cuda.py --full-scale         # also the 5 m sample (generates it unless --case/--inputs)
    python benchmarks/bench_cuda.py --compare 1000       # also the CPU backend on a 1M-cell egg-box, same run

Machines without the GIS stack (the GPU image) take the full-scale inputs from an .npz written here
with ``--export-inputs DIR --case CASE5`` (the DEM, Manning n, grid and storm; see
``benchmarks/gpu_session.sh``), and ``--fields DIR`` saves the GPU's max depth and arrival time
compactly for ``--compare-products GPU.npz CPU/inundation.nc`` on the CPU machine.

Without a usable CUDA GPU it prints a notice and exits 0 (so `make bench` passes on CPU machines).

Bytes per cell update: the kernels' compulsory traffic (float32, uniform n and rain, neighbours
from cache), counted from core_cuda.py:
  fluxes      read z, h, qx, qy; write the new qx, qy                              24 B
  limit       read z, h, qx, qy (writes only where a cell would run dry)           16 B
  continuity  read z, h, qx, qy; write h                                           20 B
  total, a step that does not sample the running outputs                           60 B
  a sampling step (``SimulationOptions.stats_interval``) also reads and writes the
  six float32 running outputs (max depth, speed, depth x speed, arrival,
  duration, time of max)                                                          +48 B
The tile flags, the stats row and the 1-tile halo are negligible. Bytes per update is 60 + 48 x the
share of sampling steps in the run; effective bandwidth = cell updates/s x that, compared with a
device-to-device copy (read + write) of 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hydro.inundation import Rain, Simulation, SimulationOptions  # noqa: E402
from hydro.inundation.backend_cuda import cuda_usable  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inundation import eggbox  # noqa: E402  (the same surface on both backends)

BYTES_STEP = {"fluxes": 24, "limit": 16, "continuity": 20}
BYTES_SAMPLING = 48
BYTES_PER_CELL_UPDATE = sum(BYTES_STEP.values())  # a step that does not sample the running outputs


def copy_bandwidth(nbytes: int = 2 << 30, repeats: int = 20) -> float:
    """Device-to-device copy bandwidth in bytes/s (read + write counted), median of ``repeats`` (CUDA events)."""
    from numba import cuda

    a = cuda.device_array(nbytes // 4, np.float32)
    b = cuda.device_array_like(a)
    b.copy_to_device(a)  # warm up
    cuda.synchronize()
    times = []
    for _ in range(repeats):
        e0, e1 = cuda.event(), cuda.event()
        e0.record()
        b.copy_to_device(a)
        e1.record()
        e1.synchronize()
        times.append(1e-3 * e0.elapsed_time(e1))
    del a, b
    return 2 * nbytes / max(float(np.median(times)), 1e-9)  # (the simulator times 0)


def _eggbox_sim(n: int, backend: str = "cuda", stats_interval: float = SimulationOptions.stats_interval) -> Simulation:
    z, h = eggbox(n)
    return Simulation(z, 5.0, 5.0, 0.03, h, backend=backend,
                      options=SimulationOptions(dtype="float32", lts_levels=1, stats_interval=stats_interval))


def _sampling_share(sim: Simulation, t0: float, steps: int) -> float:
    every = sim.options.stats_interval
    if not every > 0 or steps == 0:
        return 1.0
    return min(1.0, (np.floor(sim.t / every + 1e-9) - np.floor(t0 / every + 1e-9)) / steps)


def _set_fast(sim: Simulation, fast: bool) -> None:
    e = sim.engine
    for name in ("_fluxes", "_limit", "_continuity", "_update_active"):
        getattr(e, name).fast = fast and getattr(e, name).enabled and not e.C.SIMULATOR


def eggbox_speed(n: int, seconds: float, backend: str = "cuda", stats_interval: float = SimulationOptions.stats_interval,
                 fast: bool = True, sim: Simulation | None = None) -> dict:
    """Steps of ``Simulation.step`` for ``seconds`` (each reads its statistics back: the loop is synchronous)."""
    sim = sim or _eggbox_sim(n, backend, stats_interval)
    if backend == "cuda":
        _set_fast(sim, fast)
    for _ in range(3):
        sim.step(np.inf)  # compile / warm up
    sec = getattr(sim.engine, "seconds", {})
    for k in sec:
        sec[k] = 0.0
    steps, t_sim0 = 0, sim.t
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        sim.step(np.inf)
        steps += 1
    wall = time.perf_counter() - t0
    share = _sampling_share(sim, t_sim0, steps)
    return {"backend": sim.backend, "cells": n * n, "steps": steps, "wall_seconds": wall,
            "cell_updates_per_second": n * n * steps / wall, "us_per_step": 1e6 * wall / steps,
            "launch_us_per_step": 1e6 * sec.get("launch", float("nan")) / steps,
            "sampling_share": share, "bytes_per_update": BYTES_PER_CELL_UPDATE + BYTES_SAMPLING * share,
            "finite": bool(np.isfinite(sim.engine.max_depth())), "sim": sim}


def gpu_bound(sim: Simulation, steps: int, record: bool = False) -> dict:
    """``steps`` steps enqueued back to back at the last step's length, no read back in between: the
    device's own rate (CUDA events), and the host's enqueue time per step."""
    from numba import cuda

    e = sim.engine
    dt = sim._next_dt(np.inf)
    e._enqueue(dt, sim.t + dt, 0.0, False, record, dt)  # warm up
    cuda.synchronize()
    e0, e1 = cuda.event(), cuda.event()
    t0 = time.perf_counter()
    e0.record()
    for k in range(steps):
        e._enqueue(dt, sim.t + (k + 2) * dt, 0.0, False, record, dt)
    t1 = time.perf_counter()
    e1.record()
    e1.synchronize()
    gpu = max(1e-3 * e0.elapsed_time(e1), 1e-9)  # (the simulator times 0)
    cells = sim.n_valid
    return {"gpu_us_per_step": 1e6 * gpu / steps, "enqueue_us_per_step": 1e6 * (t1 - t0) / steps,
            "cell_updates_per_second": cells * steps / gpu}


def kernel_profile(sim: Simulation, steps: int) -> dict:
    """CUDA-event time per kernel (us per step) over ``steps`` steps of ``Simulation.step``."""
    e = sim.engine
    e.profile = {}
    for _ in range(steps):
        sim.step(np.inf)
    prof, e.profile = e.profile, None
    return {k: 1e6 * v / steps for k, v in prof.items()}


def fast_launch_is_exact(n: int = 600, steps: int = 60) -> bool:
    """The prepared launches give the same bits as numba's own launches (same start, same steps)."""
    runs = []
    for fast in (True, False):
        sim = _eggbox_sim(n)
        _set_fast(sim, fast)
        for _ in range(steps):
            sim.step(np.inf)
        sim.engine.pull()
        runs.append((sim.t, sim.state.h.copy(), sim.state.qx.copy(), sim.state.max_h.copy()))
    a, b = runs
    return a[0] == b[0] and all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a[1:], b[1:]))


def profile_size(n: int, seconds: float) -> None:
    """Per-kernel times, the device-bound rate and the variants (numba's own launches; continuity without
    its statistics reduction) for an n x n egg-box."""
    from hydro.inundation import core_cuda as C

    sim = _eggbox_sim(n)
    prof = kernel_profile(sim, 50)
    cells = sim.n_valid
    parts = ", ".join(f"{k} {v:.1f} us ({BYTES_STEP.get(k, 0) * cells / (v * 1e-6) / 1e9:.0f} GB/s)"
                      if k in BYTES_STEP else f"{k} {v:.1f} us" for k, v in prof.items())
    print(f"    kernels (CUDA events, {n * n / 1e6:.1f}M cells, 5 s sampling): {parts}; "
          f"sum {sum(prof.values()):.1f} us", flush=True)
    g = gpu_bound(sim, 200)
    print(f"    device-bound, no read back between steps (non-sampling steps): {g['gpu_us_per_step']:.1f} us/step "
          f"= {g['cell_updates_per_second']:.3e} cell updates/s; host enqueue {g['enqueue_us_per_step']:.1f} us/step",
          flush=True)
    g = gpu_bound(sim, 100, record=True)
    print(f"    device-bound, every step sampling: {g['gpu_us_per_step']:.1f} us/step "
          f"= {g['cell_updates_per_second']:.3e} cell updates/s", flush=True)
    r = eggbox_speed(n, min(seconds, 3.0), sim=sim, fast=False)
    print(f"    numba's own launches: {r['cell_updates_per_second']:.3e} cell updates/s, {r['us_per_step']:.0f} us/step "
          f"(launches {r['launch_us_per_step']:.0f} us)", flush=True)
    _set_fast(sim, True)
    sim.engine.use_kernels(C.kernels("float32", reduce_stats=False))
    g = gpu_bound(sim, 200)
    print(f"    variant: continuity without the statistics reduction, device-bound {g['gpu_us_per_step']:.1f} us/step",
          flush=True)


def full_scale_inputs_any(case_dir: str | None, inputs: str | None, storm: str):
    """(dem, dx, dy, n, Rain, transform, crs, start time) from an exported .npz or a case folder."""
    from affine import Affine

    if inputs:
        d = np.load(inputs, allow_pickle=False)
        tr = Affine(*d["transform"][:6])
        n = d["manning"] if d["manning"].ndim else float(d["manning"])
        rain = Rain(d["rain_t"], d["rain_mm_h"])
        return d["dem"], abs(tr.a), abs(tr.e), n, rain, tr, str(d["crs"]), str(d["start"])
    from bench_inundation import full_scale_inputs

    case, df, rain, n = full_scale_inputs(case_dir, storm)
    tr = case.dem.rio.transform()
    return case.dem.values, abs(tr.a), abs(tr.e), n, rain, tr, case.dem.rio.crs.to_wkt(), str(df.index[0])


def export_inputs(case_dir: str, out: str, storm: str) -> None:
    """Write the full-scale inputs (``--case``, the 5 m sample) and the 30 m sample's as .npz files into ``out``."""
    from bench_inundation import full_scale_inputs

    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    for name, folder in (("case5", case_dir), ("sample30", str(ROOT / "data_samples" / "dongguanxi"))):
        case, df, rain, n = full_scale_inputs(folder, storm)
        tr = case.dem.rio.transform()
        np.savez_compressed(o / f"{name}.npz", dem=case.dem.values, manning=np.asarray(n), transform=np.array(tuple(tr)[:6]),
                            crs=np.array(case.dem.rio.crs.to_wkt()), start=np.array(str(df.index[0])),
                            rain_t=np.asarray(rain.times_s, float), rain_mm_h=np.asarray(df.iloc[:, 0].to_numpy(float)))
        print(f"  {o / f'{name}.npz'}: {case.dem.shape}, {(o / f'{name}.npz').stat().st_size / 1e6:.1f} MB")


def field_stats(max_h: np.ndarray, arrival: np.ndarray, area: float, thr: float = 0.1) -> dict:
    v = np.isfinite(max_h)
    fl = v & (max_h >= thr)
    q = np.percentile(max_h[fl], [50, 90, 99, 99.9]) if fl.any() else [np.nan] * 4
    arr = arrival[np.isfinite(arrival)]
    return {"flooded_km2": fl.sum() * area / 1e6, "deepest_m": float(np.nanmax(max_h)),
            "max_depth_p50_p90_p99_p999": [round(float(x), 4) for x in q],
            "arrival_cells": int(arr.size), "arrival_median_s": float(np.median(arr)) if arr.size else None}


def save_fields(path: Path, max_h: np.ndarray, arrival: np.ndarray, valid: np.ndarray) -> None:
    """Max depth in mm (uint16; 65535 outside) and arrival in s (uint16; 65535 never/outside), compressed."""
    mh = np.where(valid, np.clip(np.rint(np.nan_to_num(max_h) * 1000.0), 0, 65534), 65535).astype(np.uint16)
    ar = np.where(valid & np.isfinite(arrival), np.clip(np.rint(np.nan_to_num(arrival)), 0, 65534), 65535)
    np.savez_compressed(path, max_depth_mm=mh, arrival_s=ar.astype(np.uint16))


def load_fields(path: str) -> tuple[np.ndarray, np.ndarray]:
    d = np.load(path)
    mh = np.where(d["max_depth_mm"] == 65535, np.nan, d["max_depth_mm"] / 1000.0)
    ar = np.where(d["arrival_s"] == 65535, np.nan, d["arrival_s"].astype(float))
    return mh, ar


def full_scale(duration_h: float, storm: str, case_dir: str | None, inputs: str | None = None,
               out: str | None = None, fields: str | None = None) -> None:
    """The 5 m sample (~6.9M cells), 50-year design-storm rain on the grid, free outflow, on the GPU,
    every cell at the global step (the CUDA backend has no local time stepping).

    Wall time end to end: inputs read, setup (upload), simulation (hourly snapshots back to the
    host), and the products written: NetCDF, water balance, summary, and the extent polygons where
    the GIS stack is installed (the GPU image has none: then they are left out and said so).
    """
    from hydro.inundation.outputs import to_dataset, water_balance, write_extent, write_netcdf

    if case_dir is None and inputs is None:
        case_dir = tempfile.mkdtemp(prefix="dgx5_")
        t = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "sample", "dongguanxi", "--resolution", "5",
                        "--out", case_dir], check=True)
        print(f"  sample generated in {time.perf_counter() - t:.0f} s (not counted below)")
    t0 = time.perf_counter()
    dem, dx, dy, n, rain, tr, crs, start = full_scale_inputs_any(case_dir, inputs, storm)
    t1 = time.perf_counter()
    sim = Simulation(dem, dx, dy, n, 0.0, rain=rain, boundary="open", transform=tr, backend="cuda",
                     options=SimulationOptions(lts_levels=1))
    t2 = time.perf_counter()
    sim.run(duration_h * 3600.0, output_interval_s=3600.0)
    t3 = time.perf_counter()
    o = Path(out or tempfile.mkdtemp(prefix="inund5_cuda_"))
    o.mkdir(parents=True, exist_ok=True)
    try:
        import rioxarray  # noqa: F401

        ds = to_dataset(sim, tr, crs, start)
    except ImportError:  # the GPU image: no CRS in the NetCDF
        ds = to_dataset(sim, tr, None, start)
    write_netcdf(ds, o / "inundation.nc")
    (o / "water_balance.csv").write_text(water_balance(sim).to_csv(index=False, float_format="%.6g"))
    s = sim.summary()
    mx, ar = ds["max_depth_m"].values, ds["arrival_time_s"].values
    s.update(field_stats(mx, ar, sim.area, sim.options.h_arrival))
    s["max_speed_m_per_s"] = float(np.nanmax(ds["max_speed_m_per_s"].values))
    (o / "summary.json").write_text(json.dumps(s, indent=2))
    t4 = time.perf_counter()
    extent = "extent polygons left out (no GIS stack)"
    try:
        write_extent(ds, o / "extent.gpkg", sim.options.h_arrival)
        extent = f"extent polygons {time.perf_counter() - t4:.1f} s"
    except ImportError:
        pass
    t5 = time.perf_counter()
    print(f"full scale on the GPU: {s['cells']:,} cells at {dx:g} m, {storm} storm, {duration_h:g} h simulated, "
          f"global step")
    print(f"  end to end {t5 - t0:.1f} s: inputs {t1 - t0:.1f} s, setup {t2 - t1:.1f} s, simulation "
          f"{s['wall_seconds']:.1f} s ({s['steps']} steps, {1e3 * s['wall_seconds'] / s['steps']:.3f} ms/step, "
          f"{s['cell_updates_per_second']:.3e} cell updates/s; the steps alone {sim.engine.seconds['step']:.1f} s), "
          f"NetCDF + balance + summary {t4 - t3:.1f} s, {extent}")
    print(f"  volume error {s['volume_error_relative']:.2e}; flooded (max depth >= 0.1 m) {s['flooded_km2']:.2f} km2; "
          f"deepest {s['deepest_m']:.3f} m; max speed {s['max_speed_m_per_s']:.2f} m/s; max depth p50/p90/p99/p99.9 "
          f"{s['max_depth_p50_p90_p99_p999']}; arrival median {s['arrival_median_s']} s over {s['arrival_cells']:,} cells")
    print(f"  products in {o}")
    if fields:
        Path(fields).mkdir(parents=True, exist_ok=True)
        save_fields(Path(fields) / "gpu_fields.npz", mx, ar, sim.valid)
        print(f"  fields saved to {Path(fields) / 'gpu_fields.npz'}")


def compare_products(gpu_npz: str, cpu_nc: str, interval_s: float = 3600.0) -> None:
    """GPU fields (``--fields``) against a CPU run's inundation.nc on the same grid."""
    import xarray as xr

    g_mh, g_ar = load_fields(gpu_npz)
    with xr.open_dataset(cpu_nc, engine="h5netcdf") as ds:
        c_mh, c_ar = ds["max_depth_m"].values.astype(float), ds["arrival_time_s"].values.astype(float)
        dx = abs(float(ds["x"][1] - ds["x"][0]))
    c_mh = np.round(c_mh * 1000.0) / 1000.0  # the GPU fields are stored in whole mm and s
    c_ar = np.round(c_ar)
    v = np.isfinite(c_mh)
    area = dx * dx
    for name, mh, ar in (("CPU", c_mh, c_ar), ("GPU", g_mh, g_ar)):
        print(f"  {name}: {json.dumps(field_stats(mh, ar, area))}")
    d = (g_mh - c_mh)[v]
    a = np.abs(d)
    thr = 0.1
    only_g = int(((g_mh >= thr) & ~(c_mh >= thr))[v].sum())
    only_c = int(((c_mh >= thr) & ~(g_mh >= thr))[v].sum())
    within = np.abs(d) <= np.maximum(1e-3, 1e-4 * np.abs(c_mh[v])) + 1e-3  # + the 1 mm of the stored fields
    both = np.isfinite(g_ar) & np.isfinite(c_ar)
    dt = np.abs(g_ar - c_ar)[both]
    print(f"  max depth GPU - CPU: mean {d.mean() * 1e3:+.2f} mm, mean abs {a.mean() * 1e3:.2f} mm, "
          f"p99 {np.percentile(a, 99) * 1e3:.1f} mm, max {a.max():.3f} m; within 1 mm or 1e-4 (+1 mm storage) "
          f"{100 * within.mean():.2f} % of cells; flooded in one only: GPU {only_g}, CPU {only_c}")
    if dt.size == 0:
        dt = np.zeros(1)
    print(f"  arrival: both {both.sum():,} cells, one only {int((np.isfinite(g_ar) != np.isfinite(c_ar)).sum()):,}; "
          f"|GPU - CPU| median {np.median(dt):.0f} s, p99 {np.percentile(dt, 99):.0f} s, max {dt.max():.0f} s; "
          f"within {interval_s:g} s: {100 * (dt <= interval_s).mean():.2f} %")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2236,5000", help="grid edge lengths (default 2236,5000: 5M and 25M cells)")
    ap.add_argument("--seconds", type=float, default=10.0, help="stepping time per size")
    ap.add_argument("--profile", action="store_true", help="also per-kernel times, device-bound rate, variants")
    ap.add_argument("--every-step", action="store_true", help="also with the running outputs sampled every step")
    ap.add_argument("--compare", type=int, default=0, help="also time the CPU backend on an N x N egg-box")
    ap.add_argument("--full-scale", action="store_true", help="also the 5 m sample, 6-h design storm")
    ap.add_argument("--case", default=None, help="an existing 5 m sample folder for --full-scale / --export-inputs")
    ap.add_argument("--inputs", default=None, help="--full-scale inputs from an .npz written by --export-inputs")
    ap.add_argument("--out", default=None, help="--full-scale: write the products here")
    ap.add_argument("--fields", default=None, help="--full-scale: save max depth and arrival compactly here")
    ap.add_argument("--duration-h", type=float, default=6.0)
    ap.add_argument("--storm", default="50y")
    ap.add_argument("--export-inputs", default=None, metavar="DIR", help="write the full-scale inputs as .npz and exit")
    ap.add_argument("--compare-products", nargs=2, default=None, metavar=("GPU_NPZ", "CPU_NC"),
                    help="compare saved GPU fields with a CPU run's inundation.nc and exit")
    a = ap.parse_args()
    if a.export_inputs:
        export_inputs(a.case, a.export_inputs, a.storm)
        return 0
    if a.compare_products:
        compare_products(*a.compare_products)
        return 0
    ok, why = cuda_usable()
    if not ok:
        print(f"notice: no usable CUDA GPU ({why}); CUDA benchmarks skipped")
        return 0
    from numba import cuda

    dev = cuda.current_context().device
    name = getattr(dev, "name", "CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else name
    bw = copy_bandwidth()
    print(f"device: {name}; device-to-device copy {bw / 1e9:.0f} GB/s (read + write, 2 GiB, median of 20)", flush=True)
    sizes = [int(s) for s in a.sizes.split(",")] if a.sizes else []
    if sizes:
        print(f"prepared launches bit-identical to numba's: {fast_launch_is_exact()}", flush=True)
        print(f"egg-box, all wet, float32, CUDA backend, global step; {a.seconds:g} s of stepping per size; "
              f"{BYTES_PER_CELL_UPDATE} B per cell update + {BYTES_SAMPLING} B on sampling steps", flush=True)
    for n in sizes:
        for every in ((SimulationOptions.stats_interval, 0.0) if a.every_step else (SimulationOptions.stats_interval,)):
            r = eggbox_speed(n, a.seconds, stats_interval=every)
            cups = r["cell_updates_per_second"]
            eff = cups * r["bytes_per_update"]
            print(f"  {r['cells'] / 1e6:6.2f}M cells, sampling {'every step' if every == 0 else f'{every:g} s'}: "
                  f"{cups:10.3e} cell updates/s ({r['steps']} steps in {r['wall_seconds']:.1f} s, "
                  f"{r['us_per_step']:.0f} us/step, launches {r['launch_us_per_step']:.0f} us); "
                  f"{r['bytes_per_update']:.1f} B/update: {eff / 1e9:.0f} GB/s = {100 * eff / bw:.0f}% of copy bandwidth"
                  f"{'' if r['finite'] else '  NOT FINITE'}", flush=True)
            del r["sim"]
        if a.profile:
            profile_size(n, a.seconds)
    if a.compare:
        r = eggbox_speed(a.compare, a.seconds, "cpu")
        print(f"  CPU backend {r['cells'] / 1e6:.2f}M cells  {r['cell_updates_per_second']:.3e} cell updates/s")
    if a.full_scale:
        full_scale(a.duration_h, a.storm, a.case, a.inputs, a.out, a.fields)
    return 0


if __name__ == "__main__":
    sys.exit(main())
