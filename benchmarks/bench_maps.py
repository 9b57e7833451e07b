"""Maps and briefings: time of `map` and `brief` on the 30 m sample, HTML size for the 5 m case.

The inundation product is synthetic here (a depth field from the DEM along the valley floor, 24
snapshots), so the figures do not wait for the 2-D solver; the map's size depends only on the
grid size and the number of snapshots, which this reproduces at full scale.

    python benchmarks/bench_maps.py            # 30 m sample + full-scale 5 m case
    python benchmarks/bench_maps.py --quick    # 30 m sample only
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_results(case, out: Path, n_frames: int = 24) -> None:
    """Write inundation/inundation.nc on the case grid: water 0-3 m deep over the lowest cells."""
    dem = case.dem
    z = dem.values.astype("float32")
    floor = np.nanpercentile(z, 8)
    depth = np.clip(floor + 3.0 - z, 0, 3.0)
    depth[~np.isfinite(z)] = np.nan
    frames = np.stack([depth * min(1.0, k / (n_frames * 0.6)) for k in range(n_frames)]).astype("float32")
    arrival = np.where(depth > 0.05, (3.0 - depth) * 3600.0, np.nan).astype("float32")
    ds = xr.Dataset({"depth_m": (("time", "y", "x"), frames), "max_depth_m": (("y", "x"), depth),
                     "max_speed_m_per_s": (("y", "x"), np.full_like(depth, 1.0)),
                     "arrival_time_s": (("y", "x"), arrival)},
                    coords={"time": np.arange(n_frames) * 1800.0, "y": dem["y"], "x": dem["x"]},
                    attrs={"start_time": "2019-08-10T08:00:00"}).rio.write_crs(case.crs)
    (out / "inundation").mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(out / "inundation" / "inundation.nc")


def run(case_dir: Path, label: str, brief: bool) -> None:
    import rioxarray  # noqa: F401

    from gis.briefing import write_briefings
    from gis.case import load_case
    from gis.mapdata import load_results
    from gis.webmap import build_webmap

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        case = load_case(case_dir)
        synthetic_results(case, d)
        t0, c0 = time.perf_counter(), time.process_time()
        rep = build_webmap(case, load_results(d), d / "map.html")
        t1, c1 = time.perf_counter(), time.process_time()
        print(f"{label}: map {rep.size_bytes / 1e6:.2f} MB, {len(rep.layers)} layers, "
              f"wall {t1 - t0:.1f} s, cpu {c1 - c0:.1f} s (grid {case.dem.shape[0]} x {case.dem.shape[1]})")
        if brief:
            t0, c0 = time.perf_counter(), time.process_time()
            b = write_briefings(case, load_results(d), d / "brief")
            print(f"{label}: brief {len(b.files)} files, wall {time.perf_counter() - t0:.1f} s, "
                  f"cpu {time.process_time() - c0:.1f} s")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="30 m sample only")
    a = p.parse_args()
    run(ROOT / "data_samples" / "dongguanxi", "30 m sample", brief=True)
    if not a.quick:
        from data_samples.dongguanxi import generate

        with tempfile.TemporaryDirectory() as d:
            case5 = generate(Path(d) / "dgx5", resolution_m=5.0)
            run(Path(case5), "5 m full scale", brief=False)
    pd.set_option("display.width", 120)


if __name__ == "__main__":
    main()
