"""Exposure: Defra/EA hazard rating, grid sampling, aggregation, population raster, quick exposure."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.errors import InputError
from gis.exposure import (
    aggregate_exposure,
    debris_factor,
    hazard_class,
    hazard_rating,
    household_exposure,
    population_to_households,
    quick_exposure,
    sample_inundation,
    visitor_exposure,
)

CRS = "EPSG:4549"


def grid_ds(nx=20, ny=10, dx=30.0, x0=500_000.0, y0=3_300_000.0) -> xr.Dataset:
    """A flood rising from west to east: depth = 0.1 m per column, speed 0.2 m/s per row."""
    x = x0 + dx * np.arange(nx)
    y = y0 - dx * np.arange(ny)  # north-up: y decreasing
    X, Y = np.meshgrid(np.arange(nx), np.arange(ny))
    depth = 0.1 * X
    speed = 0.2 * Y
    arrival = np.where(depth > 0, 600.0 * X, np.nan)
    ds = xr.Dataset({
        "max_depth_m": (("y", "x"), depth), "max_speed_m_per_s": (("y", "x"), speed),
        "arrival_time_s": (("y", "x"), arrival), "duration_s": (("y", "x"), np.where(depth > 0, 3600.0, 0.0)),
    }, coords={"x": x, "y": y}, attrs={"start_time": "2019-08-10T02:00:00"})
    return ds


def villages_gdf() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "id": ["V1", "V2", "V3"], "name": ["甲村", "乙村", "丙村"], "town": ["上溪镇", "上溪镇", "下溪镇"],
        "population": [100, 200, 50], "households": [30, 60, 15], "responsible": ["王某", "李某", "张某"],
        "phone": ["13800000001", "13800000002", "13800000003"], "control_section": ["S1", "S2", ""],
        "flood_level_m": [10.0, 20.0, 5.0],
    }, geometry=gpd.points_from_xy([500_030.0, 500_300.0, 500_500.0], [3_299_900.0] * 3), crs=CRS)


# ----------------------------------------------------------------------------- hazard rating
@pytest.mark.parametrize("d, v, hr, colour", [
    (0.2, 0.0, 0.1, "蓝"),      # DF 0 below 0.25 m
    (0.3, 0.0, 1.15, "黄"),     # 0.3*0.5 + 1
    (0.5, 1.0, 1.75, "橙"),     # 0.5*1.5 + 1
    (1.0, 1.0, 2.5, "红"),      # 1*1.5 + 1
    (0.2, 2.5, 1.6, "橙"),      # v > 2 m/s brings debris even in shallow water: 0.2*3 + 1
    (0.0, 3.0, 0.0, ""),        # dry
])
def test_hazard_rating_fd2320_worked_values(d, v, hr, colour):
    got = hazard_rating(np.array([d]), np.array([v]))
    assert got[0] == pytest.approx(hr)
    assert hazard_class(got, np.array([d]))[0] == colour


def test_class_limits_are_fd2321_table_13_1():
    hr = np.array([0.74, 0.75, 1.24, 1.25, 1.99, 2.0])
    assert list(hazard_class(hr, np.ones(6))) == ["蓝", "黄", "黄", "橙", "橙", "红"]


def test_debris_factor_land_use_table():
    d = np.array([0.1, 0.5, 1.0])
    v = np.zeros(3)
    assert list(debris_factor(d, v, "pasture")) == [0.0, 0.0, 0.5]
    assert list(debris_factor(d, v, "woodland")) == [0.0, 0.5, 1.0]
    assert list(debris_factor(d, v, "urban")) == [0.0, 1.0, 1.0]
    with pytest.raises(InputError):
        debris_factor(d, v, "desert")


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 5), st.floats(0, 5), st.floats(0, 1), st.floats(0, 1))
def test_hazard_rating_monotone_in_depth_and_speed(d, v, dd, dv):
    a = hazard_rating(np.array([d]), np.array([v]))[0]
    b = hazard_rating(np.array([d + dd]), np.array([v + dv]))[0]
    assert b >= a - 1e-12
    rank = {"": -1, "蓝": 0, "黄": 1, "橙": 2, "红": 3}
    ca = hazard_class(np.array([a]), np.array([d]))[0]
    cb = hazard_class(np.array([b]), np.array([d + dd]))[0]
    assert rank[cb] >= rank[ca]


# ----------------------------------------------------------------------------- sampling
def test_sampling_reads_the_right_cells_and_times():
    ds = grid_ds()
    # cell (row 2, col 5): depth 0.5, speed 0.4, arrival 3000 s
    xs = np.array([ds.x.values[5] + 10.0, ds.x.values[0]])
    ys = np.array([ds.y.values[2] - 10.0, ds.y.values[0]])
    s = sample_inundation(ds, xs, ys)
    assert s["max_depth_m"].tolist() == pytest.approx([0.5, 0.0])
    assert s["max_speed_m_per_s"].tolist() == pytest.approx([0.4, 0.0])
    assert s["arrival_time"].iloc[0] == pd.Timestamp("2019-08-10 02:50")
    assert s["hazard_rating"].iloc[0] == pytest.approx(0.5 * 0.9 + 1.0)
    assert s["exposed"].tolist() == [True, False]
    assert pd.isna(s["arrival_time"].iloc[1])


def test_grid_not_covering_households_is_an_input_error():
    ds = grid_ds()
    with pytest.raises(InputError, match="does not cover 1 households"):
        sample_inundation(ds, np.array([400_000.0]), np.array([3_300_000.0]), np.array(["H9"]))
    with pytest.raises(InputError, match="first: H2"):
        sample_inundation(ds, np.array([500_000.0, 500_000.0 + 30 * 20]), np.array([3_300_000.0] * 2),
                          np.array(["H1", "H2"]))  # H2 half a cell beyond the last column
    # inside the grid but outside the simulated domain (NaN): dry, and flagged
    ds2 = ds.copy()
    ds2["max_depth_m"] = ds2["max_depth_m"].where(ds2.x > ds2.x[3])
    s = sample_inundation(ds2, np.array([ds.x.values[1], ds.x.values[5]]), np.array([ds.y.values[1]] * 2))
    assert s["in_domain"].tolist() == [False, True]
    assert s["exposed"].tolist() == [False, True]


def test_missing_product_is_an_input_error():
    ds = grid_ds().drop_vars("duration_s")
    with pytest.raises(InputError, match="duration_s"):
        sample_inundation(ds, np.array([500_000.0]), np.array([3_300_000.0]))


def households_gdf(ds) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(3)
    n = 60
    ix = rng.integers(0, ds.sizes["x"], n)
    iy = rng.integers(0, ds.sizes["y"], n)
    return gpd.GeoDataFrame({
        "id": [f"H{i}" for i in range(n)], "village": rng.choice(["V1", "V2", "V3"], n),
        "persons": rng.integers(1, 6, n), "elderly": rng.integers(0, 2, n), "children": rng.integers(0, 2, n),
        "disabled": rng.integers(0, 2, n), "head": "某某", "phone": "13900000000",
    }, geometry=gpd.points_from_xy(ds.x.values[ix], ds.y.values[iy]), crs=CRS)


def test_households_outside_every_village_is_an_input_error():
    ds = grid_ds()
    hh = households_gdf(ds)
    hh.loc[3, "village"] = "V99"
    with pytest.raises(InputError, match="outside every village"):
        household_exposure(hh, ds, villages_gdf())


def test_aggregation_conserves_persons_and_keeps_every_village():
    ds = grid_ds()
    hh = household_exposure(households_gdf(ds), ds, villages_gdf())
    vs = gpd.GeoDataFrame({"id": ["P1", "P2"], "name": ["农家乐", "景区"], "kind": ["农家乐", "景区"],
                           "village": ["V1", "V2"], "visitors": [40, 300]},
                          geometry=gpd.points_from_xy([ds.x.values[10], ds.x.values[0]], [ds.y.values[1]] * 2),
                          crs=CRS)
    vx = visitor_exposure(vs, ds, villages_gdf())
    assert vx["exposed"].tolist() == [True, False]  # P2 is in the dry first column
    villages, towns = aggregate_exposure(hh, vx, villages_gdf())
    e = hh[hh["exposed"]]
    assert villages["persons"].sum() == e["persons"].sum()
    assert villages["vulnerable"].sum() == e[["elderly", "children", "disabled"]].to_numpy().sum()
    assert villages["visitors"].sum() == 40
    assert set(villages["village"]) == {"V1", "V2", "V3"}
    assert towns["persons"].sum() == villages["persons"].sum()
    assert towns.set_index("town").loc["下溪镇", "persons"] == villages.set_index("village").loc["V3", "persons"]
    assert (hh.loc[~hh["exposed"], "max_depth_m"] < 0.05).all()
    assert hh["responsible"].notna().all()


def test_population_raster_mode_conserves_people():
    ds = grid_ds()
    pop = xr.DataArray(np.full((ds.sizes["y"], ds.sizes["x"]), 2.4), coords={"y": ds.y, "x": ds.x},
                       dims=("y", "x"))
    pop[0, 0] = 0.2  # below half a person: empty
    pts = population_to_households(pop, villages_gdf(), vulnerable_share=0.5)
    assert len(pts) == pop.size - 1
    assert pts["persons"].sum() == 2 * (pop.size - 1)
    assert set(pts["village"]) <= {"V1", "V2", "V3"}
    hh = household_exposure(pts, ds, villages_gdf())
    villages, _ = aggregate_exposure(hh, None, villages_gdf())
    assert villages["persons"].sum() == hh.loc[hh["exposed"], "persons"].sum() > 0


# ----------------------------------------------------------------------------- quick exposure
def test_quick_exposure_flags_villages_and_times():
    t = pd.date_range("2019-08-10 00:00", periods=6, freq="h")
    stage = np.array([[8, 15], [9, 17], [10.5, 19], [12, 19.9], [11, 19.5], [9, 18]], float)
    fc = xr.Dataset({"stage": (("time", "section"), stage)}, coords={"time": t, "section": ["S1", "S2"]})
    q = quick_exposure(fc, villages_gdf()).set_index("village")
    assert bool(q.loc["V1", "affected"])
    # 9 m at 01:00, 10.5 m at 02:00: the 10 m flood level is reached two thirds of the way, at 01:40
    assert q.loc["V1", "reaches_flood_level_at"] == pd.Timestamp("2019-08-10 01:40")
    assert q.loc["V1", "peak_stage_m"] == 12.0 and q.loc["V1", "margin_m"] == pytest.approx(2.0)
    assert not bool(q.loc["V2", "affected"]) and q.loc["V2", "margin_m"] == pytest.approx(-0.1)
    assert not bool(q.loc["V3", "assessed"])  # no control section
    assert q.index[0] == "V1"  # affected first
    with pytest.raises(InputError, match="stage"):
        quick_exposure(fc.drop_vars("stage"), villages_gdf())


def test_affected_depth_follows_the_products_flood_threshold():
    ds = grid_ds()  # column 1 holds 0.1 m, column 2 0.2 m
    xs = np.array([ds.x.values[1], ds.x.values[2]])
    ys = np.array([ds.y.values[0]] * 2)
    assert sample_inundation(ds, xs, ys)["exposed"].tolist() == [True, True]
    ds.attrs["flood_threshold_m"] = 0.15  # the solver records arrival only from 0.15 m
    assert sample_inundation(ds, xs, ys)["exposed"].tolist() == [False, True]
    assert sample_inundation(ds, xs, ys, min_depth_m=0.05)["exposed"].tolist() == [True, True]
