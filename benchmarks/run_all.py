"""Run every benchmark script in this folder (bench_*.py), one after the other, and print figures.

    python benchmarks/run_all.py            # all of them (what `make bench` runs)
    python benchmarks/run_all.py forecast   # only bench_forecast.py

Each script prints its own figures; record them in BENCHMARKS.md with the date and machine.
Scripts run one at a time so they do not compete for the 2 cores.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    only = set(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not only or p.stem.removeprefix("bench_") in only)
    print(f"# floodkit benchmarks  {time.strftime('%Y-%m-%d %H:%M')}  {platform.node()}  "
          f"{os.cpu_count()} cores  Python {platform.python_version()}", flush=True)
    failed = []
    for script in scripts:
        print(f"\n## {script.name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"## {script.name}: exit {rc} in {time.perf_counter() - t0:.1f} s", flush=True)
        if rc:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
