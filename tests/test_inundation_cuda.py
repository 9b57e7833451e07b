"""CUDA backend of the 2-D solver: same results as the CPU backend, and a clear backend choice.

Without a GPU the kernels run in numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, which must be
set before ``numba.cuda`` is imported, hence a subprocess) on tiny grids: the simulator runs every
CUDA thread as a Python thread. Tests marked ``gpu`` need a real device and skip without one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cli

ROOT = Path(__file__).resolve().parents[1]


def write_dem(path: Path) -> Path:
    """An 8 x 8 tilted-plane GeoTIFF (rasterio imported here: the GPU image may lack it)."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    dem = (10.0 - 0.05 * np.mgrid[0:8, 0:8][1]).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", height=8, width=8, count=1, dtype="float32", crs="EPSG:4549",
                       transform=from_origin(500000.0, 3350000.0, 10.0, 10.0), nodata=-9999.0) as ds:
        ds.write(dem, 1)
    return path

# Runs in the simulator: three small cases through Simulation on both backends; prints JSON.
SIM_SCRIPT = textwrap.dedent(r"""
    import json, sys
    import numpy as np
    from hydro.inundation import Hydrograph, Rain, Simulation, SimulationOptions

    sys.setswitchinterval(1e-3)  # the simulator busy-waits on its threads; fewer switches run faster

    # numba's simulator creates a block's shared array on the first thread that asks for it, with an
    # unlocked look-up-then-insert: two threads switched in between get separate arrays, and the
    # block reductions (outflow, clipped volume, ...) then sum garbage (7 of 28 runs at a 1e-5 s
    # switch interval; see BENCHMARKS). Make that look-up atomic.
    import threading, traceback
    from numba.core import types
    from numba.np import numpy_support
    from numba.cuda.simulator import kernelapi
    _plain_array, _lock = kernelapi.FakeCUDAShared.array, threading.Lock()

    def _shared_array(self, shape, dtype):
        if shape == 0:  # dynamic shared memory: one buffer, nothing to race on
            return _plain_array(self, shape, dtype)
        site = tuple(traceback.extract_stack(sys._getframe())[-2][0:2])  # the kernel's line
        with _lock:
            arr = self._allocations.get(site)
            if arr is None:
                dt = numpy_support.as_dtype(dtype) if isinstance(dtype, types.Type) else dtype
                arr = self._allocations[site] = np.empty(shape, dt)
        return arr

    kernelapi.FakeCUDAShared.array = _shared_array

    # which kinds of arrays the kernels update atomically: floating-point atomics sum in whatever order a GPU's
    # blocks finish (the simulator's order is fixed), so the step must use integer ones only
    atomic_kinds = set()
    for _name in ("add", "max", "min"):
        def _recording(self, array, index, val, _f=getattr(kernelapi.FakeCUDAAtomic, _name)):
            atomic_kinds.add(np.asarray(array).dtype.kind)
            return _f(self, array, index, val)
        setattr(kernelapi.FakeCUDAAtomic, _name, _recording)

    def case(name):
        yy, xx = np.mgrid[0:7, 0:7]
        if name.startswith("closed"):  # water column, inflow, stage line, rain and a nodata hole in a closed box
            dem = 1.0 + 0.03 * xx + 0.05 * np.sin(yy)
            dem[4:6, 4:6] = np.nan
            kw = dict(initial_depth=np.where((xx < 3) & (yy < 3), 1.0, 0.0), boundary="closed", manning=0.04,
                      inflows=[Hydrograph("in", np.array([2, 3]), np.array([6, 6]),
                                          np.array([0.0, 100.0]), np.array([2.0, 8.0]))],
                      stages=[Hydrograph("sea", np.arange(7), np.zeros(7, int),
                                         np.array([0.0, 100.0]), np.array([1.3, 1.6]))],
                      rain=Rain(np.array([0.0]), np.array([30.0])))
        else:  # "open": gridded rain and varying n on a tilted plane, free outflow
            dem = 2.0 - 0.02 * xx - 0.01 * yy
            rate = np.stack([200.0 + 30 * xx, 50.0 + 0 * xx]).astype(float)
            kw = dict(rain=Rain(np.array([0.0, 30.0]), rate), boundary="open",
                      manning=0.03 + 0.002 * yy, initial_depth=0.02)
        return dem, kw

    out = {}
    for name in sys.argv[1:]:
        dem, kw = case(name)
        res = {}
        for backend in ("cpu", "cuda"):
            # the GPU steps globally; "closed_t3": tiles of 3 cells, smaller than a simulator block and no power
            # of two (the kernels divide instead of shifting, and decide per thread whether a tile is computed)
            opts = SimulationOptions(tile_size=3 if name == "closed_t3" else 4, h_arrival=0.05, lts_levels=1)
            sim = Simulation(dem, 20.0, 20.0, options=opts, backend=backend, **kw)
            hot = backend == "cuda" and name == "open"  # checkpoint at 20 s, resume on the device
            sim.run(40.0, output_interval_s=20.0, checkpoint_path="ck.npz" if hot else None)
            s = sim.state
            if hot:
                again = Simulation(dem, 20.0, 20.0, options=opts, backend=backend, **kw)
                again.load_checkpoint("ck.npz").run(40.0, output_interval_s=20.0)
                res["hot_start_equal"] = all(np.array_equal(v, again.state.arrays()[k], equal_nan=True)
                                             for k, v in s.arrays().items())
                res["hot_start_balance_equal"] = again.balance_rows == sim.balance_rows
            res[backend] = dict(
                backend=sim.backend, steps=sim.steps, t=sim.t,
                max_h=np.nan_to_num(s.interior(s.max_h)).tolist(),
                arrival=np.nan_to_num(s.interior(s.arrival), nan=-1).tolist(),
                max_speed=s.interior(s.max_speed).tolist(),
                depth_end=sim.snapshots[-1][1].tolist(), n_snap=len(sim.snapshots),
                balance=[list(r) for r in sim.balance_rows],
                volume_error=sim.volume_error_relative(),
                point_sets=len(getattr(sim.engine, "_pts", ())))
        out[name] = res
    out["atomic_kinds"] = sorted(atomic_kinds)
    print("JSON" + json.dumps(out))
""")



def _in_simulator(*cases: str, cwd: Path) -> dict:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", SIM_SCRIPT, *cases], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("JSON"))
    return json.loads(line[4:])


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    return _in_simulator("closed", "open", "closed_t3", cwd=tmp_path_factory.mktemp("cudasim"))


def test_simulator_hot_start_reproduces_the_run(simulated):
    """A CUDA run resumed from a checkpoint (state pulled, saved, loaded, pushed) ends bit for bit equal,
    its water balance too."""
    assert simulated["open"]["hot_start_equal"] is True
    assert simulated["open"]["hot_start_balance_equal"] is True


def test_simulator_steps_use_no_float_atomics(simulated):
    """The step statistics, the stored volume and the point sources go through integer atomics or per-block
    and per-point results summed on the host, never floating-point atomics, whose sums follow the order in
    which a GPU's blocks finish (the simulator's order is fixed, hence this check rather than a rerun). On
    the H200 (2026-12-04) the validation suite's bit-for-bit hot-start test failed with the first build,
    whose float64 atomic sums were its only order-dependent arithmetic."""
    assert simulated["atomic_kinds"] == ["i"]


def test_simulator_point_sources_are_uploaded_once(simulated):
    """An inflow and a stage line: two cell lists on the device, however many steps (the first build cached
    them by the identity of arrays made anew each step, so it uploaded them every step and kept them all)."""
    assert simulated["closed"]["cuda"]["point_sets"] == 2
    assert simulated["closed"]["cuda"]["steps"] > 2


@pytest.mark.parametrize("name", ["closed", "open", "closed_t3"])
def test_simulator_matches_cpu(simulated, name):
    """Max depth within 1 mm or 1e-4 relative, arrival within one output interval, same balance."""
    cpu, gpu = simulated[name]["cpu"], simulated[name]["cuda"]
    assert gpu["backend"] == "cuda" and cpu["backend"] == "cpu"
    assert gpu["steps"] == cpu["steps"] and gpu["n_snap"] == cpu["n_snap"] == 3
    a, b = np.array(cpu["max_h"]), np.array(gpu["max_h"])
    assert a.max() > 0.02  # something happened
    assert np.all(np.abs(a - b) <= np.maximum(1e-3, 1e-4 * np.abs(a)))
    np.testing.assert_allclose(gpu["depth_end"], cpu["depth_end"], atol=1e-3)
    np.testing.assert_allclose(gpu["max_speed"], cpu["max_speed"], atol=1e-3, rtol=1e-3)
    ta, tb = np.array(cpu["arrival"]), np.array(gpu["arrival"])
    assert np.array_equal(ta < 0, tb < 0)
    assert np.all(np.abs(ta - tb) <= 20.0)
    # the water balance (rain, inflow, stage, outflow, storage) agrees row by row, and closes
    ba, bb = np.array(cpu["balance"]), np.array(gpu["balance"])
    np.testing.assert_allclose(bb[:, :6], ba[:, :6], rtol=1e-4, atol=1e-3)
    assert gpu["volume_error"] < 1e-5


def test_simulator_names_the_cell_that_went_negative(tmp_path):
    """The instability message shows the negative depth itself, as on the CPU (the CUDA depth pass
    clipped it to 0 before the message read it)."""
    script = textwrap.dedent("""
        import numpy as np
        from gis.errors import SimulationError
        from hydro.inundation import Simulation, SimulationOptions
        sim = Simulation(np.zeros((6, 7)), 1.0, 1.0, 0.03, 0.1, options=SimulationOptions(tile_size=4),
                         backend="cuda")
        sim.state.interior(sim.state.h)[3, 5] = -0.5
        sim.engine.push(("h",))
        try:
            sim.run(2.0)
        except SimulationError as exc:
            print("MSG", exc)
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert re.search(r"MSG .*cell row 3, col 5: depth -0\.\d+ m", p.stdout), p.stdout


def test_cuda_without_gpu_is_exit_2(tmp_path, capsys):
    from hydro.inundation.backend_cuda import cuda_usable

    if cuda_usable()[0]:
        pytest.skip("a CUDA device is present")
    write_dem(tmp_path / "dem.tif")
    rc = cli.main(["simulate", "--dem", str(tmp_path / "dem.tif"), "--duration", "60", "--out", str(tmp_path / "o"),
                   "--backend", "cuda", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "cuda" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "o").exists()  # no partial outputs


def test_auto_falls_back_to_cpu_with_a_notice(tmp_path, capsys):
    from hydro.inundation.backend_cuda import cuda_usable

    if cuda_usable()[0]:
        pytest.skip("a CUDA device is present")
    write_dem(tmp_path / "dem.tif")
    rc = cli.main(["simulate", "--dem", str(tmp_path / "dem.tif"), "--duration", "60", "--initial-depth", "0.2",
                   "--out", str(tmp_path / "o"), "--backend", "auto", "--quiet",
                   "--summary-json", str(tmp_path / "s.json")])
    out = capsys.readouterr()
    assert rc == 0
    notes = [ln for ln in (out.out + out.err).splitlines() if "no usable CUDA GPU" in ln]
    assert len(notes) == 1 and "running on the CPU" in notes[0]
    assert json.loads((tmp_path / "s.json").read_text())["backend"] == "cpu"


def test_unknown_backend_is_an_input_error():
    from gis.errors import InputError
    from hydro.inundation import Simulation

    with pytest.raises(InputError, match="cpu, cuda or auto"):
        Simulation(np.zeros((4, 4)), 1.0, 1.0, backend="opencl")


# ----------------------------------------------------------------------------- the backends' capabilities
def test_cuda_refuses_local_time_stepping_asked_for():
    """The CUDA backend steps globally: an explicit lts_levels above 1 (other than the default) is an input
    error on --backend cuda, decided before any GPU is looked for (no silent global step)."""
    from gis.errors import InputError
    from hydro.inundation import Simulation, SimulationOptions

    with pytest.raises(InputError, match="lts-levels.*CUDA backend steps every cell at the global step"):
        Simulation(np.zeros((8, 8)), 1.0, 1.0, backend="cuda", options=SimulationOptions(lts_levels=3))


def test_cuda_takes_the_default_lts_levels_as_one_with_a_notice(tmp_path):
    """With the default lts_levels the CUDA backend runs (global step) and says so in one line; --backend
    auto with an explicit lts_levels runs on the CPU, which has local time stepping, with a notice."""
    script = textwrap.dedent("""
        import json
        import numpy as np
        from hydro.inundation import Simulation, SimulationOptions
        out = {}
        sim = Simulation(np.zeros((6, 7)), 1.0, 1.0, 0.03, 0.1, backend="cuda", options=SimulationOptions(tile_size=4))
        sim.run(1.0)
        out["default"] = [sim.backend, sim.backend_notice, sim.summary()["lts_levels"]]
        sim = Simulation(np.zeros((6, 7)), 1.0, 1.0, 0.03, 0.1, backend="auto",
                         options=SimulationOptions(tile_size=4, lts_levels=2))
        out["auto"] = [sim.backend, sim.backend_notice]
        sim = Simulation(np.zeros((6, 7)), 1.0, 1.0, 0.03, 0.1, backend="cuda",
                         options=SimulationOptions(tile_size=4, lts_levels=1))
        out["one"] = [sim.backend, sim.backend_notice]
        print("JSON" + json.dumps(out))
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("JSON"))[4:])
    backend, notice, levels = out["default"]
    assert backend == "cuda" and levels == 1
    assert "\n" not in notice and "global step" in notice and "lts_levels 1" in notice
    assert out["auto"][0] == "cpu" and "only the CPU" in out["auto"][1]
    assert out["one"] == ["cuda", ""]


def test_tile_shift():
    from hydro.inundation.core_cuda import tile_shift

    assert [tile_shift(t) for t in (1, 2, 4, 32, 64)] == [0, 1, 2, 5, 6]
    assert [tile_shift(t) for t in (3, 6, 48, 100)] == [-1] * 4


# ----------------------------------------------------------------------------- real GPU
def _gpu() -> bool:
    from hydro.inundation.backend_cuda import cuda_usable

    return cuda_usable()[0] and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1"


gpu = pytest.mark.skipif("not _gpu()", reason="needs a CUDA GPU")

# The GPU image has no GIS stack and compiling the CPU kernels there takes minutes of a lent device:
# benchmarks/gpu_session.sh carries the sample's inputs (FLOODKIT_GPU_INPUTS, written by
# `bench_cuda.py --export-inputs`) and the CPU backend's results for the same code
# (FLOODKIT_CPU_REFERENCE, written by running these tests with it set on the CPU machine; keyed by
# a hash of the CPU solver's sources, so a stale file is never used: then the CPU runs here).
_SOLVER_SOURCES = ("physics.py", "core_inertial.py", "backend_cpu.py", "simulation.py", "state.py", "forcing.py")


def _cpu_reference(name: str, make_sim, duration_s: float, interval_s: float) -> dict:
    """The CPU backend's run of ``make_sim("cpu")``: max depth, arrival and volume error (see above)."""
    import hashlib

    h = hashlib.sha1()
    for f in _SOLVER_SOURCES:
        h.update((ROOT / "hydro" / "inundation" / f).read_bytes())
    folder = os.environ.get("FLOODKIT_CPU_REFERENCE")
    path = Path(folder) / f"{name}-{h.hexdigest()[:12]}.npz" if folder else None
    if path is not None and path.exists():
        d = np.load(path)
        return {k: d[k] for k in d.files} | {"source": f"stored CPU result {path.name}"}
    sim = make_sim("cpu")
    sim.run(duration_s, output_interval_s=interval_s)
    s = sim.state
    res = {"max_h": s.interior(s.max_h).copy(), "arrival": s.interior(s.arrival).copy(),
           "volume_error": np.float64(sim.volume_error_relative()), "steps": np.int64(sim.steps)}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **res)
    return res | {"source": "CPU run here"}


def _sample_inputs():
    """The 30 m sample's DEM, cell size, Manning n and 50-year design storm on the grid (GIS stack, or the
    exported .npz in FLOODKIT_GPU_INPUTS)."""
    from hydro.inundation import Rain

    folder = os.environ.get("FLOODKIT_GPU_INPUTS")
    if folder and (Path(folder) / "sample30.npz").exists():
        d = np.load(Path(folder) / "sample30.npz")
        tr = d["transform"]
        return d["dem"], abs(tr[0]), abs(tr[4]), d["manning"], Rain(d["rain_t"], d["rain_mm_h"])
    for module in ("rasterio", "geopandas", "pyogrio", "pyproj"):
        pytest.importorskip(module)  # the GPU image lacks the GIS stack unless it is carried
    from gis.case import load_case
    from hydro.rainfall import design_storm

    case = load_case(ROOT / "data_samples" / "dongguanxi")
    df = design_storm(case.design_storms, "50y")
    rain = Rain(np.arange(len(df)) * 3600.0, df.iloc[:, 0].to_numpy(float))
    n = np.where(np.isfinite(case.manning.values) & (case.manning.values > 0), case.manning.values, 0.05)
    t = case.dem.rio.transform()
    return case.dem.values, abs(t.a), abs(t.e), n, rain


def _agree(cpu: dict, gpu, valid: np.ndarray, interval_s: float, what: str) -> None:
    """CPU and CUDA runs agree to float32 rounding: max depth within 1 mm or 1e-4 relative on 99.99 % of the
    valid cells and within 5 mm on all; the flooded cells the same but for threshold crossings (a cell flooded
    in one run only has a max depth within 5 mm of the flood threshold, and there are at most 1e-4 of the
    cells, or one); arrival within one output interval; the water balance closed.

    Why not 1 mm on every cell: on the 30 m sample over 3 h (2,279 steps) the H200 run was within 1 mm on
    all but 14 of 192,190 cells (at most 1.21 mm, 2026-12-04), flooding 20,210 cells against the CPU's 20,211;
    the CPU run against itself with one change of rounding (no FMA contraction in the face-flux kernel) gave
    at most 1.10 mm, 1 cell over 1 mm and 3 cells flooded in one run only (within 0.07 mm of the threshold),
    the same steps: float32 arithmetic over thousands of steps of capped flow puts the noise floor right at
    the issue's 1 mm.
    """
    s = gpu.state
    a, b = cpu["max_h"][valid], s.interior(s.max_h)[valid]
    assert a.max() > 0.5
    err = np.abs(a - b)
    tol = np.maximum(1e-3, 1e-4 * np.abs(a))
    ta, tb = cpu["arrival"][valid], s.interior(s.arrival)[valid]
    one_only = np.isnan(ta) != np.isnan(tb)
    both = ~np.isnan(ta) & ~np.isnan(tb)
    thr = gpu.options.h_arrival
    print(f"\n{what} ({cpu['source']}; CPU {int(cpu['steps'])} steps, CUDA {gpu.steps}): max depth max |cpu - cuda| "
          f"= {err.max():.2e} m, cells beyond tolerance {(err > tol).sum()} of {valid.sum()}; arrival: flooded cells "
          f"cpu {np.isfinite(ta).sum()}, cuda {np.isfinite(tb).sum()} (in one only {one_only.sum()}, max depth "
          f"there within {np.abs(a[one_only] - thr).max(initial=0.0) * 1e3:.2f} mm of the threshold), max |dt| = "
          f"{np.abs(ta - tb)[both].max(initial=0.0):.0f} s; volume error cpu {float(cpu['volume_error']):.1e}, "
          f"cuda {gpu.volume_error_relative():.1e}")
    assert (err <= tol).mean() >= 0.9999 and err.max() <= 5e-3
    assert one_only.sum() <= max(1, 1e-4 * valid.sum()) and np.all(np.abs(a[one_only] - thr) <= 5e-3)
    assert np.abs(ta - tb)[both].max(initial=0.0) <= interval_s
    assert abs(gpu.volume_error_relative()) < 1e-5


def _dam_break(backend: str):
    """A 300 x 200 dam break with rain and a hole, open edges (run 10 min, outputs every 60 s)."""
    from hydro.inundation import Rain, Simulation, SimulationOptions

    yy, xx = np.mgrid[0:300, 0:200]
    dem = 0.002 * xx + 0.3 * np.sin(yy / 17.0) * np.cos(xx / 23.0)
    dem[140:160, 90:110] = np.nan
    h0 = np.where(xx < 40, 1.5, 0.0)
    rain = Rain(np.array([0.0, 300.0]), np.array([50.0, 0.0]))
    return Simulation(dem, 5.0, 5.0, manning=0.035, initial_depth=h0, rain=rain, boundary="open",
                      backend=backend, options=SimulationOptions(lts_levels=1))  # the GPU steps globally


def _sample30(backend: str):
    """The sample case (30 m), 50-year design storm on the grid, free outflow (run 3 h, outputs every 600 s)."""
    from hydro.inundation import Simulation, SimulationOptions

    dem, dx, dy, n, rain = _sample_inputs()
    return Simulation(dem, dx, dy, n, 0.0, rain=rain, boundary="open", backend=backend,
                      options=SimulationOptions(lts_levels=1))  # the GPU steps globally


GPU_CASES = {"dam_break": (_dam_break, 600.0, 60.0), "sample30": (_sample30, 3 * 3600.0, 600.0)}


def prepare_cpu_references() -> None:
    """Write the CPU results of GPU_CASES into FLOODKIT_CPU_REFERENCE (on the CPU machine, before a GPU call)."""
    assert os.environ.get("FLOODKIT_CPU_REFERENCE"), "set FLOODKIT_CPU_REFERENCE to a folder"
    for name, (make, duration, interval) in GPU_CASES.items():
        r = _cpu_reference(name, make, duration, interval)
        print(name, r["source"], int(r["steps"]), "steps")


def _gpu_agrees(name: str, what: str) -> None:
    make, duration, interval = GPU_CASES[name]
    cpu = _cpu_reference(name, make, duration, interval)
    sim = make("cuda")
    sim.run(duration, output_interval_s=interval)
    assert sim.backend == "cuda"
    _agree(cpu, sim, np.isfinite(np.asarray(sim.dem, float)), interval, what)


@pytest.mark.gpu
@gpu
def test_gpu_matches_cpu_on_a_dam_break():
    """On the device: a 300 x 200 dam break with rain, open edges, 10 min; both backends agree."""
    _gpu_agrees("dam_break", "dam break, 10 min")


@pytest.mark.gpu
@gpu
def test_gpu_matches_cpu_on_the_sample():
    """On the device: the sample case (30 m), 50-year design storm on the grid, 3 h, free outflow.

    Maximum depth within 1 mm or 1e-4 relative, arrival times within one output interval (600 s).
    """
    _gpu_agrees("sample30", "sample, 30 m, 3 h")


# The CPU validation suite with every Simulation on CUDA. Its tests read and write the host state
# between steps (the CPU works on it; the CUDA backend only mirrors it at output times), so the runner
# keeps the host depth current: pulled after every step, pushed at the start of a run (a test may have
# edited it). The inner-tile test reads the CPU backend's tile codes and is left out.
VALIDATION_ON_CUDA = textwrap.dedent("""
    import sys, pytest
    from hydro.inundation.simulation import Simulation
    post_init, step, run = Simulation.__post_init__, Simulation.step, Simulation.run
    def on_cuda(self):
        self.backend = "cuda" if self.backend == "cpu" else self.backend
        post_init(self)
    def step_mirrored(self, t_stop):
        dt = step(self, t_stop)
        if self.backend == "cuda":
            self.engine.pull(("h",))
        return dt
    def run_mirrored(self, *a, **k):
        if self.backend == "cuda":
            self.engine.push(("h",))
        return run(self, *a, **k)
    Simulation.__post_init__, Simulation.step, Simulation.run = on_cuda, step_mirrored, run_mirrored
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:warnings", "-rfE", "--tb=short",
                          "-k", "not inner_tiles", *sys.argv[1:]]))
""")


def _validation_on_cuda(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", VALIDATION_ON_CUDA, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=1800, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_simulator_validation_runner_mirrors_the_host_state():
    """The runner of the validation suite on CUDA (below) in the simulator, on the test that edits the host
    depth before a run: the first device run failed it because the GPU never saw the edit."""
    env_sim = os.environ.get("NUMBA_ENABLE_CUDASIM")
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    try:
        p = _validation_on_cuda("tests/test_inundation_validation.py::test_depth_pass_names_the_cell_that_went_negative")
    finally:
        if env_sim is None:
            os.environ.pop("NUMBA_ENABLE_CUDASIM")
        else:
            os.environ["NUMBA_ENABLE_CUDASIM"] = env_sim
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "1 passed" in p.stdout


@pytest.mark.gpu
@gpu
def test_gpu_validation_cases():
    """On the device: the CPU solver's validation suite, with every Simulation on the CUDA backend."""
    p = _validation_on_cuda("tests/test_inundation_validation.py")
    out = p.stdout
    cut = out.find("= short test summary")
    print(out[-6000:] if cut < 0 else out[max(0, cut - 6000):])  # the failures' tracebacks, then the summary
    assert p.returncode == 0, out[-6000:]
