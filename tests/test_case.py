"""Case format: the loader on the sample, each class of bad input, and the CLI's answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.case import check_profile, load_case, parse_profile, read_hourly_csv
from gis.errors import CaseError

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CaseError) as exc:
        load_case(path)
    return [str(p) for p in exc.value.problems]


# ------------------------------------------------------------------------------ the sample
def test_sample_matches_published_facts(sample_case):
    s = sample_case.summary()
    assert s["synthetic"] is True
    assert s["crs"] == "EPSG:4549"
    assert abs(s["area_km2"] - 173.0) < 2.0
    assert s["sections"] == ["一都", "白鹤", "绍鲁"]
    assert len(s["towns"]) == 2 and s["villages"] == 17
    assert s["population"] == 22_600 and s["household_persons"] == 22_600
    assert s["gauges"] >= 4 and len(s["rainfall_events"]) >= 3
    assert set(s["design_storms"]) >= {"5y", "10y", "20y", "50y", "100y"}
    assert s["shelters"] > 0 and s["visitors"] > 0
    assert sample_case.warnings == []


def test_sample_is_one_catchment_draining_to_one_outlet(sample_case):
    """Sub-basins tile the catchment, and the lowest valid cell sits on the domain's edge (the outlet)."""
    total = sample_case.subbasins.geometry.area.sum() / 1e6
    assert abs(total - sample_case.summary()["area_km2"]) / total < 0.03
    z = sample_case.dem.values
    r, c = np.unravel_index(np.nanargmin(z), z.shape)
    window = z[r - 1:r + 2, c - 1:c + 2]
    assert np.isnan(window).any(), "the outlet (lowest cell) must be on the boundary"


def test_sections_are_ordered_downstream_with_sound_levels(sample_case):
    sec = sample_case.sections.set_index("id")
    chain, cur = [], "S1"
    while cur:
        chain.append(cur)
        cur = sec.loc[cur, "downstream"]
    assert [sec.loc[i, "name"] for i in chain] == ["一都", "白鹤", "绍鲁"]
    beds = [sample_case.profiles[i][:, 1].min() for i in chain]
    assert beds == sorted(beds, reverse=True)  # water flows downhill
    assert (sec["warning_level_m"] < sec["danger_level_m"]).all()


def test_villages_sit_on_valley_floors_and_shelters_higher(sample_case):
    from rasterio.transform import rowcol

    dem = sample_case.dem
    def ground(gdf):
        r, c = rowcol(dem.rio.transform(), gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())
        return dem.values[np.asarray(r), np.asarray(c)]
    hh = sample_case.households
    z_hh = pd.Series(ground(hh), index=hh.index).groupby(hh["village"]).median()
    z_sh = pd.Series(ground(sample_case.shelters), index=sample_case.shelters["name"])
    # every village has a shelter that stands higher than the median house of the village
    for _, v in sample_case.villages.iterrows():
        own = z_sh[[n for n in z_sh.index if n.startswith(v["name"])]]
        assert (own > z_hh[v["id"]]).all()


def test_roads_form_one_connected_network(sample_case):
    import networkx as nx

    g = nx.Graph()
    for geom in sample_case.roads.geometry:
        a, b = geom.coords[0], geom.coords[-1]
        g.add_edge((round(a[0], 3), round(a[1], 3)), (round(b[0], 3), round(b[1], 3)))
    assert nx.number_connected_components(g) == 1


# ------------------------------------------------------------------------------ bad input
def test_missing_layer(case_copy):
    (case_copy / "shelters.geojson").unlink()
    out = problems_of(case_copy)
    assert any(p.startswith("shelters.geojson: file not found") for p in out)


def test_missing_layer_entry(case_copy):
    toml = case_copy / "case.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('roads = "roads.geojson"\n', ""), encoding="utf-8")
    assert "case.toml: [layers] has no `roads`; add roads = \"<file>\"" in problems_of(case_copy)


def test_wrong_crs_on_a_layer(case_copy):
    gdf = gpd.read_file(case_copy / "villages.geojson").to_crs(4326)
    gdf.to_file(case_copy / "villages.geojson", driver="GeoJSON")
    out = problems_of(case_copy)
    assert any("villages.geojson: CRS is EPSG:4326 but the case is EPSG:4549; reproject it" in p for p in out)


def test_missing_crs_in_case_toml(case_copy):
    toml = case_copy / "case.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('crs = "EPSG:4549"\n', ""), encoding="utf-8")
    assert problems_of(case_copy) == ['case.toml: [case] has no `crs`; add e.g. crs = "EPSG:4549"']


def test_raster_without_crs(case_copy):
    with rasterio.open(case_copy / "manning.tif") as src:
        data, profile = src.read(1), src.profile
    profile.pop("crs")
    with rasterio.open(case_copy / "manning.tif", "w", **profile) as dst:
        dst.write(data, 1)
    out = problems_of(case_copy)
    assert any(p.startswith("manning.tif: has no CRS") for p in out)


def test_dem_with_nodata_hole(case_copy):
    with rasterio.open(case_copy / "dem.tif", "r+") as dst:
        z = dst.read(1)
        z[200:203, 300:304] = dst.nodata
        dst.write(z, 1)
    out = problems_of(case_copy)
    assert any(p.startswith("dem.tif: 12 nodata cell(s) inside the domain, first at row 200, col 300") for p in out)


def test_section_without_profile(case_copy):
    gdf = gpd.read_file(case_copy / "sections.geojson")
    gdf.loc[gdf["name"] == "白鹤", "profile"] = ""
    gdf.to_file(case_copy / "sections.geojson", driver="GeoJSON")
    out = problems_of(case_copy)
    assert any(p.startswith("sections.geojson: section '白鹤' has no usable cross-section profile") and
               "add a `profile` column of station,elevation pairs" in p for p in out)


def test_section_with_flat_or_one_point_profile(case_copy):
    gdf = gpd.read_file(case_copy / "sections.geojson")
    gdf.loc[0, "profile"] = "0,10;5,10;9,10"
    gdf.loc[1, "profile"] = "0,10"
    gdf.to_file(case_copy / "sections.geojson", driver="GeoJSON")
    out = problems_of(case_copy)
    assert any("section '一都' profile is flat" in p for p in out)
    assert any("section '白鹤' profile has 1 point(s)" in p for p in out)


def test_warning_level_above_danger_level(case_copy):
    gdf = gpd.read_file(case_copy / "sections.geojson")
    gdf.loc[2, "warning_level_m"] = gdf.loc[2, "danger_level_m"] + 1.0
    gdf.to_file(case_copy / "sections.geojson", driver="GeoJSON")
    out = problems_of(case_copy)
    assert any(p.startswith("sections.geojson: section '绍鲁': warning level") and "is not below danger level" in p
               for p in out)


def test_negative_population(case_copy):
    gdf = gpd.read_file(case_copy / "villages.geojson")
    gdf.loc[3, "population"] = -5
    gdf.to_file(case_copy / "villages.geojson", driver="GeoJSON")
    out = problems_of(case_copy)
    assert any(p.startswith("villages.geojson: feature '上坞村': `population` = -5") and "whole number >= 0" in p
               for p in out)


def test_shelter_with_no_capacity(case_copy):
    gdf = gpd.read_file(case_copy / "shelters.geojson")
    gdf.loc[0, "capacity"] = 0
    gdf.to_file(case_copy / "shelters.geojson", driver="GeoJSON")
    out = problems_of(case_copy)
    assert any("has no capacity (capacity = 0)" in p for p in out)


def test_malformed_rainfall_csv(case_copy):
    f = next((case_copy / "rainfall").glob("*.csv"))
    f.write_text('time,G01\n2021-01-01 00:00,1\n2021-01-01 01:00,"2,3,\n', encoding="utf-8")
    out = problems_of(case_copy)
    assert any(p.startswith(f"rainfall/{f.name}: malformed CSV") for p in out)


def test_non_monotonic_times(case_copy):
    f = sorted((case_copy / "rainfall").glob("*.csv"))[0]
    df = pd.read_csv(f)
    df.loc[[3, 4], "time"] = df.loc[[4, 3], "time"].to_numpy()
    df.to_csv(f, index=False)
    out = problems_of(case_copy)
    assert any("is not after the row before (times must increase)" in p for p in out)


def test_negative_and_missing_rain_and_gaps(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("time,G01,G02\n2021-01-01 00:00,1,-2\n2021-01-01 01:00,,0\n2021-01-01 03:00,1,1\n")
    _, probs = read_hourly_csv(p, allowed_columns={"G01", "G02"})
    text = [str(x) for x in probs]
    assert any("gap after 2021-01-01 01:00:00" in t for t in text)
    assert any("column 'G01' row 3: '' is not a number" in t for t in text)
    assert any("column 'G02' row 2: negative rainfall -2" in t for t in text)


def test_all_problems_are_reported_at_once(case_copy):
    (case_copy / "roads.geojson").unlink()
    gdf = gpd.read_file(case_copy / "shelters.geojson")
    gdf.loc[0, "capacity"] = 0
    gdf.to_file(case_copy / "shelters.geojson", driver="GeoJSON")
    assert len(problems_of(case_copy)) >= 2


# ------------------------------------------------------------------------------ parsers
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e4, 1e4, allow_nan=False), st.floats(-500, 5000, allow_nan=False)),
                min_size=1, max_size=30))
def test_profile_text_round_trips(pairs):
    text = ";".join(f"{a!r},{b!r}" for a, b in pairs)
    arr = parse_profile(text)
    assert arr.shape == (len(pairs), 2)
    np.testing.assert_array_equal(arr, np.array(pairs, dtype=float))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_profile_parser_never_crashes_on_garbage(text):
    try:
        arr = parse_profile(text)
    except ValueError:
        return
    check_profile(arr)  # may say why it is unusable, but must not raise


# ------------------------------------------------------------------------------ CLI
def test_cli_validate_ok_and_info():
    r = run_cli("case", "validate", "data_samples/dongguanxi")
    assert r.returncode == 0, r.stderr
    r = run_cli("case", "info", "data_samples/dongguanxi", "--json")
    assert r.returncode == 0
    info = json.loads(r.stdout)
    assert info["valid_cells"] > 150_000 and info["population"] == 22_600


def test_cli_invalid_case_exit_2_one_line_per_problem(case_copy):
    gdf = gpd.read_file(case_copy / "shelters.geojson")
    gdf.loc[0, "capacity"] = 0
    gdf.to_file(case_copy / "shelters.geojson", driver="GeoJSON")
    (case_copy / "roads.geojson").unlink()
    r = run_cli("case", "validate", str(case_copy))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines)
    assert "Traceback" not in r.stderr


def test_cli_missing_folder_exit_2():
    r = run_cli("case", "info", "no/such/case")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: no/such/case: is not a folder")


# ------------------------------------------------------------------------------ generator
def test_generator_small_size_same_features(tmp_path, sample_case):
    from data_samples.dongguanxi import generate

    out = generate(tmp_path / "c90", resolution_m=90.0)
    case = load_case(out)
    assert case.resolution_m == 90.0
    assert abs(case.summary()["area_km2"] - 173.0) < 3.0
    for layer in ("sections", "villages", "shelters", "roads", "subbasins"):
        a, b = getattr(case, layer), getattr(sample_case, layer)
        assert len(a) == len(b)
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-6).all()
    # same landscape at both resolutions: elevations agree where sampled at the same points
    from rasterio.transform import rowcol

    pts = sample_case.villages.geometry
    z = []
    for c in (case, sample_case):
        r, cc = rowcol(c.dem.rio.transform(), pts.x.to_numpy(), pts.y.to_numpy())
        z.append(c.dem.values[np.asarray(r), np.asarray(cc)])
    assert np.nanmedian(np.abs(z[0] - z[1])) < 15.0


def test_generator_is_deterministic(tmp_path):
    from data_samples.dongguanxi import generate

    a = generate(tmp_path / "a", resolution_m=120.0)
    b = generate(tmp_path / "b", resolution_m=120.0)
    for name in ("dem.tif", "villages.geojson", "rainfall/event_2019_lekima_like.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_full_scale_grid_has_over_5M_valid_cells():
    """At 5 m the catchment mask alone holds ≥ 5 M cells (the full run is a benchmark)."""
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    from data_samples.dongguanxi import _boundary_polygon, _grid

    xmin, ymax, nx, ny = _grid(5.0)
    mask = rasterize([(_boundary_polygon(), 1)], out_shape=(ny, nx), transform=from_origin(xmin, ymax, 5.0, 5.0),
                     dtype="uint8")
    assert mask.sum() >= 5_000_000
    assert abs(mask.sum() * 25 / 1e6 - 173.0) < 0.5


def test_cli_unexpected_error_exit_1_with_debug_hint(monkeypatch, capsys):
    import cli
    import gis.case

    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gis.case, "load_case", boom)
    assert cli.main(["case", "info", "data_samples/dongguanxi"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("floodkit: unexpected error: RuntimeError: disk on fire "
                           "(rerun with --debug for the traceback)")
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "case", "info", "data_samples/dongguanxi"])


def test_sample_dem_drains_to_its_outlet(sample_case):
    """The terrain noise leaves closed depressions that a mountain catchment does not have (up to
    ~50 m deep at 5 m before conditioning); the generator fills them, 4-connected like the 2-D
    model's faces, so no cell holds water that cannot flow out through the outlet."""
    import pyflwdir

    dem = sample_case.dem.values
    z = np.where(np.isfinite(dem), dem, -9999.0).astype("float32")
    filled, _ = pyflwdir.dem.fill_depressions(z, outlets="min", nodata=-9999.0, connectivity=4)
    assert float((filled - z)[np.isfinite(dem)].max()) == 0.0
