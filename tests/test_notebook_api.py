"""Pieces of the public API the notebooks rely on, checked quickly (the notebooks themselves run in
test_notebooks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]


def test_drawing_leaves_the_callers_backend_alone():
    """Writing hydrograph PNGs, web-map popups and briefings must not switch matplotlib's backend: in
    a notebook, ``matplotlib.use("Agg")`` stops every later figure from showing inline."""
    script = """
import matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as plt
import numpy as np, pandas as pd, tempfile
from pathlib import Path
import floodkit as fk
from gis.webmap import hydrograph_png
from hydro.forecast import plot_hydrograph
assert fk.use_cjk_font() == "Noto Sans SC"
uri = hydrograph_png(None, np.array([1.0, 2.0, 1.5]), 1.8, 2.5, np.array([0.0, 5.0, 1.0]), "一都")
assert uri.startswith("data:image/png;base64,")
case = fk.load_case("data_samples/dongguanxi")
fc = fk.forecast(case, design_storm="10y")
rain = pd.Series(fc["rain_mm_per_h"].mean("subbasin").values, index=fc["time"].values)
out = Path(tempfile.mkdtemp()) / "h.png"
plot_hydrograph(fc, "S1", rain, out)
assert out.stat().st_size > 1000
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith("ok")


@pytest.fixture(scope="module")
def typhoon_and_case():
    import floodkit as fk

    case = fk.load_case(ROOT / "data_samples" / "dongguanxi")
    return fk.typhoon(case), case


def test_typhoon_result_holds_its_tables(typhoon_and_case):
    ty, case = typhoon_and_case
    assert set(ty.wind["village"]) == set(case.villages["id"].astype(str))
    assert {"arrival", "leaving", "circle_level", "kind"} <= set(ty.timing.columns)
    assert len(ty.deadlines) and "action_zh" in ty.deadlines
    assert "r7_NE_km" in ty.radii
    assert "max_wind_m_per_s" in ty.swath
    assert list(ty.rain_gauges.columns) == case.gauges["id"].astype(str).tolist()
    assert [t["rule"] for t in ty.triggers if t["fired"]] == ty.summary["triggers_fired"]


def test_forecast_takes_a_rain_grid_in_memory(typhoon_and_case):
    import floodkit as fk

    ty, case = typhoon_and_case
    a = fk.forecast(case, ty.rain)  # the Dataset
    b = fk.forecast(case, ty.rain["rain_mm_per_h"])  # the DataArray
    xr.testing.assert_allclose(a["stage"], b["stage"])
    assert a.attrs["issue_time"] == ty.rain.attrs["issue_time"]
    assert a.attrs["scenario_kind"] == "typhoon" and ty.summary["storm"] in a.attrs["scenario"]
    assert "\n" not in a.attrs["scenario"]  # named by its attributes, not by its repr
    df = fk.forecast(case, case.events["event_2022_convective_like"])
    assert df.attrs["scenario_kind"] == "rain_data" and "\n" not in df.attrs["scenario"]


def test_reprs_are_short(typhoon_and_case):
    _, case = typhoon_and_case
    text = repr(case)
    assert text.startswith("<Case ") and "SYNTHETIC" in text and len(text) < 1000
    import geopandas as gpd

    from gis.transfer import TransferPlan

    plan = TransferPlan(gpd.GeoDataFrame(), gpd.GeoDataFrame(), gpd.GeoDataFrame(),
                        {"assigned_persons": 3, "persons": 4, "shelters_used": 1, "mode": "walk",
                         "unplaced_persons": 1, "unplaced_by_reason": {"来不及": 1}})
    assert repr(plan) == "<TransferPlan: 3 of 4 persons placed in 1 shelters (walk), 1 unplaced {'来不及': 1}>"
