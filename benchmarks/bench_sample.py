"""Full-scale sample generation: wall time and peak memory at 5 m (about 6.9 M valid cells).

Goal (issue "Foundation"): well under 5 minutes and under 4 GB of memory.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dongguanxi_5m"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "sample", "dongguanxi", "--resolution", "5",
                        "--out", str(out)], check=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        import numpy as np
        import rasterio

        with rasterio.open(out / "dem.tif") as src:
            valid = int(np.isfinite(src.read(1, masked=True).filled(np.nan)).sum())
            shape = src.shape
        size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(f"sample 5 m: grid {shape[0]} x {shape[1]}, {valid:,} valid cells, wall {wall:.1f} s, "
          f"peak memory {peak_mb:.0f} MB, {size_mb:.0f} MB on disk")


if __name__ == "__main__":
    main()
