"""2-D inundation speed: cell updates per second on the all-wet sine egg-box surface (float32), side by
side with itzi-core and landlab's OverlandFlow in the same run; optionally the full-scale sample.

    python benchmarks/bench_inundation.py                 # 1M and 5M cells, with peers
    python benchmarks/bench_inundation.py --sizes 1000    # 1M only
    python benchmarks/bench_inundation.py --full-scale    # also the 5 m sample, 6-h 50-year storm (long)
    python benchmarks/bench_inundation.py --case DIR --steps-from CKPT   # 150 steps of it from a checkpoint

Peers run in their own Python 3.12 venvs (they are not floodkit dependencies):
    /root/.pyenv/versions/3.12.1/bin/python -m venv /work/peers/itzi312 && /work/peers/itzi312/bin/pip install itzi-core
    /root/.pyenv/versions/3.12.1/bin/python -m venv /work/peers/landlab312 && /work/peers/landlab312/bin/pip install landlab
A peer that is not installed is skipped with a notice. Override the paths with ITZI_PYTHON / LANDLAB_PYTHON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hydro.inundation import Simulation, SimulationOptions  # noqa: E402

PEERS = {
    "itzi-core": (os.environ.get("ITZI_PYTHON", "/work/peers/itzi312/bin/python"), "itzi_eggbox.py"),
    "landlab": (os.environ.get("LANDLAB_PYTHON", "/work/peers/landlab312/bin/python"), "landlab_eggbox.py"),
}


def eggbox(n: int, dx: float = 5.0):
    """z = 2 sin(2 pi x / 100 m) sin(2 pi y / 100 m), water level 3 m (all wet), a 1 m bump in the middle."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    z = 2.0 * np.sin(2 * np.pi * xx * dx / 100.0) * np.sin(2 * np.pi * yy * dx / 100.0)
    h = 3.0 - z
    h[n // 2 - 20:n // 2 + 20, n // 2 - 20:n // 2 + 20] += 1.0
    return z, h


def ours(n: int, seconds: float, stats_interval: float = 0.0) -> dict:
    """floodkit's steps; ``stats_interval`` 0 updates the running outputs every step, as itzi-core's
    solve_h updates its hmax / vmax (the like-for-like comparison); the default samples every 5 s."""
    z, h = eggbox(n)
    # every cell at the global step (lts_levels 1, 64-cell tiles): the per-update throughput the peers are
    # measured on (local time stepping counts fewer updates, not faster ones)
    sim = Simulation(z, 5.0, 5.0, 0.03, h, options=SimulationOptions(dtype="float32", stats_interval=stats_interval,
                                                                     lts_levels=1, tile_size=64))
    sim.step(np.inf)  # compile / warm up
    steps = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        sim.step(np.inf)
        steps += 1
    wall = time.perf_counter() - t0
    label = "floodkit" if stats_interval == 0 else f"floodkit, stats {stats_interval:g} s"
    return {"peer": label, "cells": n * n, "steps": steps, "wall_seconds": wall,
            "cell_updates_per_second": n * n * steps / wall, "bytes_per_cell": sim.state.bytes_per_cell()}


def peer(name: str, n: int, seconds: float) -> dict | None:
    py, script = PEERS[name]
    if not Path(py).exists():
        print(f"  notice: {name} is not installed ({py} missing); skipped", flush=True)
        return None
    env = dict(os.environ, OMP_NUM_THREADS=str(os.cpu_count() or 2))
    r = subprocess.run([py, str(ROOT / "benchmarks" / "peers" / script), str(n), str(seconds)], capture_output=True,
                       text=True, env=env, timeout=3600)
    if r.returncode != 0:
        print(f"  notice: {name} failed ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode});"
              " skipped", flush=True)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def speed(sizes: list[int], seconds: float, peers: list[str]) -> None:
    print(f"egg-box, all wet, float32, {os.cpu_count()} cores; {seconds:g} s of stepping per model and size; "
          "the ratios are to floodkit with its running outputs updated every step, as the peers do")
    for n in sizes:
        res = [ours(n, seconds), ours(n, seconds, SimulationOptions.stats_interval)]
        res += [r for p in peers if (r := peer(p, n, seconds)) is not None]
        base = res[0]["cell_updates_per_second"]  # outputs every step, like the peers
        for r in res:
            ours_ = r["peer"].startswith("floodkit")
            print(f"  {r['cells'] / 1e6:5.2f}M cells  {r['peer']:<22} {r['cell_updates_per_second']:10.3e} cell updates/s"
                  f"  ({r['steps']} steps in {r['wall_seconds']:.1f} s)"
                  + (f"  floodkit/peer = {base / r['cell_updates_per_second']:.2f}x" if not ours_ else
                     f"  state {r['bytes_per_cell']:.1f} B/cell"), flush=True)


def full_scale_inputs(case_dir: str | None, storm: str):
    """The 5 m sample's inputs for a full-scale run (generated when ``case_dir`` is None):
    ``(case, storm table, Rain, Manning n)``; shared by this benchmark and bench_cuda.py."""
    from gis.case import load_case
    from hydro.inundation import Rain
    from hydro.rainfall import design_storm

    if case_dir is None:
        case_dir = tempfile.mkdtemp(prefix="dgx5_")
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "sample", "dongguanxi", "--resolution", "5",
                        "--out", case_dir], check=True)
    case = load_case(case_dir, check_households_inside=False)
    df = design_storm(case.design_storms, storm)
    rain = Rain(np.arange(len(df)) * 3600.0, df.iloc[:, 0].to_numpy(float))
    n = case.manning.values if hasattr(case.manning, "values") else float(case.manning)
    if np.ndim(n):
        n = np.where(np.isfinite(n) & (n > 0), n, 0.05)
    return case, df, rain, n


def full_scale_simulation(case, rain, n, backend: str = "cpu", lts_levels: int = SimulationOptions.lts_levels,
                          tile_size: int = SimulationOptions.tile_size) -> Simulation:
    """The full-scale model on ``full_scale_inputs``: rain on the grid, free outflow, the DEM's grid;
    shared by the full run, ``--steps-from`` and bench_cuda.py."""
    from hydro.inundation import SimulationOptions

    t = case.dem.rio.transform()
    return Simulation(case.dem.values, abs(t.a), abs(t.e), n, 0.0, rain=rain, boundary="open", transform=t,
                      backend=backend, options=SimulationOptions(lts_levels=lts_levels, tile_size=tile_size))


def full_scale(duration_h: float, storm: str, case_dir: str | None, checkpoint: str | None = None,
               hot_start: str | None = None, lts_levels: int = SimulationOptions.lts_levels,
               tile_size: int = SimulationOptions.tile_size) -> None:
    """The 5 m sample (~6.9M cells), rain on the grid from the design storm, free outflow."""
    from hydro.inundation.outputs import write_products

    t0 = time.perf_counter()
    if case_dir is None:
        case_dir = tempfile.mkdtemp(prefix="dgx5_")
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "sample", "dongguanxi", "--resolution", "5",
                        "--out", case_dir], check=True)
    t_gen = time.perf_counter() - t0
    case, df, rain, n = full_scale_inputs(case_dir, storm)
    t = case.dem.rio.transform()
    t1 = time.perf_counter()
    sim = full_scale_simulation(case, rain, n, lts_levels=lts_levels, tile_size=tile_size)
    t_setup = time.perf_counter() - t1
    if hot_start:
        sim.load_checkpoint(hot_start)
        print(f"  hot start at t = {sim.t / 3600:g} h", flush=True)
    # half-hour chunks, one line each (simulated time, steps, wall, mean step, deepest cell, wet share,
    # kernel seconds so far, peak memory), so that a long run leaves its figures as it goes
    chunk = 1800.0
    print(f"  {'sim h':>5} {'steps':>6} {'wall s':>7} {'mean dt':>7} {'hmax m':>6} {'wet %':>5} "
          f"{'flux s':>7} {'depth s':>7} {'peak GB':>7}", flush=True)
    done_steps, done_wall = sim.substeps, sim.wall_seconds
    while sim.t < duration_h * 3600.0 - 1e-6:
        sim.run(min(sim.t + chunk, duration_h * 3600.0), output_interval_s=3600.0)
        ks = sim.engine.seconds
        steps, wall = sim.substeps - done_steps, sim.wall_seconds - done_wall
        done_steps, done_wall = sim.substeps, sim.wall_seconds
        print(f"  {sim.t / 3600:5.1f} {steps:6d} {wall:7.0f} {chunk / max(steps, 1):7.3f} {sim.engine.max_depth():6.2f} "
              f"{100 * sim.wet_fraction:5.1f} {ks.get('flux', 0) + ks.get('limit', 0):7.0f} {ks.get('depth', 0):7.0f} "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2:7.2f}", flush=True)
        if checkpoint:  # outside sim.run, so not in its wall time
            sim.save_checkpoint(checkpoint)
    t2 = time.perf_counter()
    out = Path(tempfile.mkdtemp(prefix="inund5_"))
    write_products(sim, out, t, case.dem.rio.crs, df.index[0])
    t_write = time.perf_counter() - t2
    s = sim.summary()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"full scale: {s['cells']:,} cells at {abs(t.a):g} m, {storm} storm, {duration_h:g} h simulated")
    print(f"  wall: sample generation {t_gen:.0f} s, setup {t_setup:.1f} s, simulation {s['wall_seconds']:.0f} s "
          f"({s['steps']} steps, {s['cell_updates_per_second']:.3e} cell updates/s), outputs {t_write:.0f} s")
    if s["lts_levels"] > 1:
        print(f"  local time stepping, {s['lts_levels']} levels: {s['lts_cycles']} cycles, cell updates "
              f"{s['lts_work_fraction']:.3f} of stepping every cell at the finest step")
    print(f"  kernels: {s['kernel_seconds']}")
    print(f"  peak memory {peak_gb:.2f} GB; volume error {s['volume_error_relative']:.2e}; products in {out}")


def steps_from_checkpoint(checkpoint: str, case_dir: str, storm: str, steps: int,
                          lts_levels: int = SimulationOptions.lts_levels,
                          sim_seconds: float | None = None, tile_size: int = SimulationOptions.tile_size) -> None:
    """Time ``steps`` steps (or ``sim_seconds`` of simulated time) of the full-scale sample resumed from
    ``checkpoint`` (per step, per kernel): a quick A/B of a kernel change on the real case, without
    re-running the whole storm. With local time stepping a step is a cycle of finest steps."""
    case, _, rain, n = full_scale_inputs(case_dir, storm)
    sim = full_scale_simulation(case, rain, n, lts_levels=lts_levels, tile_size=tile_size)
    d = np.load(checkpoint)
    if d["s_active"].shape == sim.state.active.shape:
        sim.load_checkpoint(checkpoint)
    else:  # written with another tile size: the cell arrays and the time are enough to time steps
        for k in ("h", "qx", "qy"):
            getattr(sim.state, k)[...] = d[f"s_{k}"]
        sim.t = float(d["scalars"][0])
        sim.engine.refresh()
    for _ in range(5):  # compile / warm up
        sim.step(np.inf)
    sec = sim.engine.seconds
    for k in sec:
        sec[k] = 0.0
    t_sim, t0, sub0, cu0 = sim.t, time.perf_counter(), sim.substeps, sim.cell_updates
    done = 0
    while (sim.t < t_sim + sim_seconds) if sim_seconds else (done < steps):
        sim.step(np.inf)
        done += 1
    wall = time.perf_counter() - t0
    sub = sim.substeps - sub0
    per = ", ".join(f"{k} {1e3 * v / done:.1f}" for k, v in sec.items())
    work = (sim.cell_updates - cu0) / (sim.n_valid * sub)
    print(f"full scale from {Path(checkpoint).name} (t = {t_sim / 3600:g} h, {lts_levels} level(s), {tile_size}-cell tiles): {done} steps "
          f"({sub} finest) in {wall:.1f} s, {1e3 * wall / done:.1f} ms per step ({per} ms), "
          f"{sim.t - t_sim:.1f} s simulated, {wall / (sim.t - t_sim):.3f} s per simulated s, work {work:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,2236", help="grid edge lengths (default 1000,2236: 1M and 5M cells)")
    ap.add_argument("--seconds", type=float, default=20.0, help="stepping time per model and size")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--full-scale", action="store_true", help="also run the 5 m sample (long)")
    ap.add_argument("--case", default=None, help="an existing 5 m sample folder for --full-scale")
    ap.add_argument("--duration-h", type=float, default=6.0)
    ap.add_argument("--storm", default="50y")
    ap.add_argument("--checkpoint", default=None, help="--full-scale: save the state here every half hour")
    ap.add_argument("--hot-start", default=None, help="--full-scale: resume from a --checkpoint file")
    ap.add_argument("--steps-from", default=None, metavar="CHECKPOINT",
                    help="only time --steps steps of the sample (--case) resumed from a --full-scale checkpoint")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--sim-seconds", type=float, default=None, help="--steps-from: time this much simulated time instead")
    ap.add_argument("--lts-levels", type=int, default=SimulationOptions.lts_levels,
                    help="--full-scale / --steps-from: local time stepping levels (default: the solver's)")
    ap.add_argument("--tile-size", type=int, default=SimulationOptions.tile_size,
                    help="--full-scale / --steps-from: tile edge in cells (default: the solver's)")
    a = ap.parse_args()
    if a.steps_from:
        steps_from_checkpoint(a.steps_from, a.case, a.storm, a.steps, a.lts_levels, a.sim_seconds, a.tile_size)
        return 0
    peers = [] if a.no_peers else list(PEERS)
    speed([int(s) for s in a.sizes.split(",")], a.seconds, peers)
    if a.full_scale:
        full_scale(a.duration_h, a.storm, a.case, a.checkpoint, a.hot_start, a.lts_levels, a.tile_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
