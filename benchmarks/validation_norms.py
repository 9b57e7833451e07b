"""Error norms of the 2-D solver's validation cases, for the table in BENCHMARKS.md.

The cases and their analytic solutions are those of ``tests/test_inundation_validation.py`` (the
tests assert bounds; this prints the figures, on more grids than the tests run)::

    python benchmarks/validation_norms.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_inundation_validation import (  # noqa: E402
    run_macdonald,
    run_moving_front,
    run_radial,
    run_steep_channel,
    run_stoker,
)

from hydro.inundation import SimulationOptions  # noqa: E402
from hydro.inundation.physics import G  # noqa: E402


def moving_front(dx: float) -> str:
    x, h, ha, _ = run_moving_front(dx)
    e = (h - ha)[(x > 0) & (x < 3000)]
    return (f"RMSE {np.sqrt(np.mean(e ** 2)):.3f} m, max {np.abs(e).max():.3f} m behind the front; "
            f"front at {x[h > 0.01].max():.0f} m vs 3600 m")


def stoker(dx: float) -> str:
    x, h, ha, sim = run_stoker(dx)
    e = h - ha
    return (f"L1 relative {np.mean(np.abs(e)) / np.mean(ha):.3f}, RMSE {np.sqrt(np.mean(e ** 2)) * 1e3:.2f} mm, "
            f"Linf {np.abs(e).max() * 1e3:.2f} mm; volume error {sim.volume_error_relative():.1e}")


def channel(slope: float, **kw) -> str:
    h, q, amp = run_steep_channel(slope, duration=3000.0 if slope < 0.005 else 2400.0, **kw)
    fr_cap = kw.get("froude_max", SimulationOptions().froude_max)
    h_manning = 2.0
    h_cap = (q / (fr_cap * np.sqrt(G))) ** (2 / 3)
    ref = max(h_manning, h_cap)
    reach = h[150:1000]
    return (f"reference depth {ref:.3f} m ({'capped' if h_cap > h_manning else 'Manning'}), "
            f"max |error| {np.abs(reach / ref - 1).max() * 100:.1f} %, deepest cell {h.max():.2f} m; "
            f"ripple max-min at 1 / 5 / 9 km {amp[0]:.3f} / {amp[1]:.3f} / {amp[2]:.3f} m")


def radial() -> str:
    out = []
    for theta in (0.9, 1.0):
        h, _ = run_radial(theta, lts_levels=1)  # the scheme's symmetry (the test suite checks the local steps')
        d = max(np.abs(h - o).max() for o in (h.T, h[::-1, :], h[:, ::-1], h[::-1, ::-1].T))
        out.append(f"theta {theta}: {d:.1e} m")
    return "largest asymmetry at t = 5 s: " + ", ".join(out)


def main() -> None:
    for dx in (50.0, 25.0):
        print(f"moving front, dx {dx:g} m: {moving_front(dx)}", flush=True)
    for dx in (0.1, 0.05, 0.025):
        print(f"Stoker dam break, dx {dx:g} m: {stoker(dx)}", flush=True)
    for adv in (True, False):
        errs = [run_macdonald(dx, advection=adv) for dx in (40.0, 20.0, 10.0, 5.0)]
        label = "MacDonald" if adv else "MacDonald, no-advection bed"
        print(f"{label}, dx 40 / 20 / 10 / 5 m: RMSE " + " / ".join(f"{e[0] * 1e3:.2f}" for e in errs)
              + " mm, max " + " / ".join(f"{e[1] * 1e3:.1f}" for e in errs) + " mm", flush=True)
    print(f"channel 0.3 % (Fr 0.49): {channel(0.003)}", flush=True)
    print(f"channel 2 % (Fr 1.27), Froude cap 0.8: {channel(0.02)}", flush=True)
    print(f"channel 2 % (Fr 1.27), Froude cap 1.5: {channel(0.02, froude_max=1.5)}", flush=True)
    print(f"radial dam break: {radial()}", flush=True)


if __name__ == "__main__":
    main()
