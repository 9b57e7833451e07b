"""Forecast benchmarks: ensemble speed, critical-rainfall table speed, and real-data validation.

    python benchmarks/bench_forecast.py

1. 1000 rainfall members x 72 hourly steps x all sample sub-basins through the whole chain
   (Xinanjiang, Nash UH, Muskingum-Cunge, Manning stage, crossing probabilities); target < 1 s
   after JIT warm-up on 2 cores.
2. Critical rainfall for all 17 villages x 4 durations x 3 soil states x 2 stages; target < 10 s.
3. Calibration 1980-1983 / validation 1984-1988 on the real Fulda (Grebenau) record shipped in the
   SPOTPY wheel (hydro/validation_fulda.py); prints NSE, KGE and peak error.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gis.case import load_case  # noqa: E402
from hydro.ensemble import run_ensemble  # noqa: E402
from hydro.forecast import ForecastModel, case_subbasin_rain  # noqa: E402
from hydro.thresholds import critical_rainfall  # noqa: E402

CASE = Path(__file__).resolve().parents[1] / "data_samples" / "dongguanxi"


def best_of(fn, n=3):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    case = load_case(CASE)
    model = ForecastModel.from_case(case)
    nb = len(model.subbasin_ids)
    r = case_subbasin_rain(case, "event_2022_convective_like")[model.subbasin_ids].to_numpy()
    base = np.zeros((72, nb))
    base[: len(r)] = r[:72]
    rng = np.random.default_rng(0)
    members = base[None] * rng.lognormal(0.0, 0.5, size=(1000, 1, nb))
    run_ensemble(model, members[:2])  # JIT warm-up
    t = best_of(lambda: run_ensemble(model, members))
    res = run_ensemble(model, members)
    print(f"ensemble 1000 members x 72 h x {nb} sub-basins x {len(model.section_ids)} sections: {t:.3f} s "
          f"(target < 1 s); P(warning) {np.round(res['p_warning'], 2)}, P(danger) {np.round(res['p_danger'], 2)}")
    t0 = time.perf_counter()
    th = critical_rainfall(model, case.villages, case.design_storms)
    t = time.perf_counter() - t0
    print(f"critical rainfall, {case.villages.shape[0]} villages x 4 durations x 3 states x 2 stages "
          f"({len(th)} values): {t:.2f} s (target < 10 s)")
    try:
        from hydro.validation_fulda import run
    except ImportError:
        print("real-data validation skipped: pip install spotpy (dev extra)")
        return
    t0 = time.perf_counter()
    out = run()
    c, v = out["calibration"], out["validation"]
    print(f"Fulda at Grebenau (2976 km2, daily, SPOTPY wheel): calibration 1980-83 NSE {c['nse']:.3f} "
          f"KGE {c['kge']:.3f} peak error {100 * c['peak_error']:+.1f}%; validation 1984-88 NSE {v['nse']:.3f} "
          f"KGE {v['kge']:.3f} peak error {100 * v['peak_error']:+.1f}% ({out['evaluations']} runs, "
          f"{time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
