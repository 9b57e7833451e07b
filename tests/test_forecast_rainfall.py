"""Rainfall inputs: validation, Thiessen/IDW areal rain, grid overlap means, appending, Chicago storms."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from shapely.geometry import Point, box

from gis.errors import InputError
from hydro.rainfall import (
    append_forecast,
    areal_rain,
    chicago_depth,
    chicago_hyetograph,
    design_storm,
    grid_to_subbasins,
    idw_weights,
    read_gauge_csv,
    thiessen_weights,
)

CRS = "EPSG:4549"


@pytest.fixture
def basins():
    return gpd.GeoDataFrame({"id": ["W", "E"]}, geometry=[box(0, 0, 1000, 1000), box(1000, 0, 3000, 1000)], crs=CRS)


@pytest.fixture
def gauges():
    return gpd.GeoDataFrame({"id": ["g1", "g2"]}, geometry=[Point(500, 500), Point(2500, 500)], crs=CRS)


def test_thiessen_weights_split_at_the_bisector(basins, gauges):
    w = thiessen_weights(gauges, basins)
    # the bisector is x = 1500: W lies wholly in g1's cell, E half in each
    np.testing.assert_allclose(w.loc["W"], [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(w.loc["E"], [0.25, 0.75], atol=1e-9)


def test_idw_weights_sum_to_one_and_favour_the_near_gauge(basins, gauges):
    w = idw_weights(gauges, basins)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert w.loc["W", "g1"] > 0.8 and w.loc["E", "g2"] > 0.6


def test_areal_rain_and_uncovered_subbasin(basins, gauges):
    idx = pd.date_range("2024-07-01", periods=3, freq="h")
    rain = pd.DataFrame({"g1": [0.0, 10.0, 2.0], "g2": [4.0, 0.0, 2.0]}, index=idx)
    w = thiessen_weights(gauges, basins)
    out = areal_rain(rain, w)
    np.testing.assert_allclose(out["E"], [3.0, 2.5, 2.0])
    with pytest.raises(InputError, match="no rain for gauge"):
        areal_rain(rain[["g1"]], w)


def _write(tmp_path, text):
    p = tmp_path / "ev.csv"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,match", [
    ("time,g1\n2024-07-01 00:00,1\n2024-07-01 01:00,-2\n", "negative rain"),
    ("time,g1\n2024-07-01 00:00,1\n2024-07-01 01:00,\n", "NaN rain"),
    ("time,g1\n2024-07-01 00:00,1\n2024-07-01 03:00,2\n", "gap in the time series"),
    ("time,g1\n2024-07-01 01:00,1\n2024-07-01 00:00,2\n", "does not increase"),
    ("time,gX\n2024-07-01 00:00,1\n", "not gauge ids"),
])
def test_bad_gauge_csv_is_one_readable_line(tmp_path, text, match):
    with pytest.raises(InputError, match=match) as err:
        read_gauge_csv(_write(tmp_path, text), ["g1", "g2"])
    assert str(err.value).startswith("ev.csv: ") and "\n" not in str(err.value)


def _grid(x, y, values, crs=CRS):
    t = pd.date_range("2024-07-01", periods=values.shape[0], freq="h")
    da = xr.DataArray(values, dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x}, name="rain_mm_per_h")
    return da.rio.write_crs(crs)


def test_grid_means_weight_cells_by_overlap(basins):
    # 500 m cells: W = 2x2 cells, E = 4x2 cells; the value rises by column
    x = np.arange(250.0, 3000, 500)
    y = np.array([750.0, 250.0])
    vals = np.tile(np.arange(6.0), (2, 2, 1))
    out = grid_to_subbasins(_grid(x, y, vals), basins)
    np.testing.assert_allclose(out["W"], 0.5)
    np.testing.assert_allclose(out["E"], 3.5)
    # half-cell offset grid: overlaps are fractional, the mean is still area-exact
    x2 = np.arange(0.0, 3500, 500)
    vals2 = np.tile(np.arange(7.0), (1, 2, 1))
    out2 = grid_to_subbasins(_grid(x2, y, vals2), basins)
    assert out2["W"].iloc[0] == pytest.approx(0 * 0.25 + 1 * 0.5 + 2 * 0.25)  # cells [-250,250], [250,750], [750,1250]
    with pytest.raises(InputError, match="does not cover sub-basin 'E'"):
        grid_to_subbasins(_grid(x[:4], y, vals[:, :, :4]), basins)


def test_append_forecast_keeps_issue_time_and_replaces_overlap():
    idx = pd.date_range("2024-07-01 00:00", periods=6, freq="h")
    obs = pd.DataFrame({"W": np.ones(6)}, index=idx)
    fc = pd.DataFrame({"W": np.full(4, 5.0)}, index=pd.date_range("2024-07-01 04:00", periods=4, freq="h"))
    fc.attrs["issue_time"] = "2024-07-01T04:00:00"
    out = append_forecast(obs, fc)
    assert len(out) == 8 and out["W"].iloc[3] == 1 and out["W"].iloc[4] == 5
    assert out.attrs["issue_time"] == "2024-07-01T04:00:00"
    late = pd.DataFrame({"W": [1.0]}, index=pd.DatetimeIndex(["2024-07-01 09:00"]))
    with pytest.raises(InputError, match="gap"):
        append_forecast(obs, late)


def test_chicago_hyetograph_mass_and_window_property():
    a, b, n, r = 21.1, 10.0, 0.65, 0.4
    mm = chicago_hyetograph(a, b, n, r, 6.0, dt_min=5.0)
    assert mm.sum() == pytest.approx(chicago_depth(a, b, n, 360.0))
    assert np.all(mm >= 0)
    assert np.argmax(mm) == int(r * 72) - 1 or np.argmax(mm) == int(r * 72)
    # the wettest 60-min window holds (nearly) the 60-min IDF depth
    best = max(mm[i:i + 12].sum() for i in range(len(mm) - 11))
    assert best == pytest.approx(chicago_depth(a, b, n, 60.0), rel=0.02)


def test_design_storm_lookup():
    storms = pd.DataFrame({"name": ["50y"], "return_period_years": [50], "a": [21.1], "b": [10.0], "n": [0.65],
                           "peak_ratio": [0.4], "duration_h": [6]})
    df = design_storm(storms, "50y", columns=["W", "E"])
    assert len(df) == 6 and df["W"].sum() == pytest.approx(chicago_depth(21.1, 10, 0.65, 360))
    with pytest.raises(InputError, match="design storm '200y' is not defined; use one of 50y"):
        design_storm(storms, "200y")
