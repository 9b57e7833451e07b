"""One engine for the whole chain: the public API, run provenance, whole-stage atomic saves, no mixed runs.

The module runs the README's API example once on the sample (one forecast, two 2-D runs: the
example's own and ``fk.run``'s), saves the run, and checks the folder rules on copies of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import cli
import floodkit as fk
from floodkit import pipeline
from floodkit.provenance import STAGE_MANIFEST, case_checksums, read_manifest, run_id_of

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "data_samples" / "dongguanxi"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert "fk.run(case" in block
    return block


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The README example, run as written (from the repository root), and its run saved."""
    ns: dict = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(readme_example(), "README.md", "exec"), ns)  # noqa: S102 - the documented example
    finally:
        os.chdir(cwd)
    out = tmp_path_factory.mktemp("engine") / "run"
    ns["run"].save(out)
    ns["out"] = out
    return ns


def copy_run(api, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(api["out"], dst)
    return dst


# ----------------------------------------------------------------------------- the API
def test_readme_example_gives_products_in_memory(api):
    import folium
    import geopandas as gpd

    fc, flood, exp, plan, run = api["fc"], api["flood"], api["exp"], api["plan"], api["run"]
    assert isinstance(fc, xr.Dataset) and fc["stage"].dims == ("time", "section")
    assert fc["discharge"].attrs["units"] == "m3/s" and fc.attrs["scenario"] == "设计暴雨 50年一遇 · 预演"
    assert isinstance(flood, xr.Dataset) and flood.rio.crs is not None
    assert flood["max_depth_m"].attrs["units"] == "m" and "depth_m" in flood and flood.sizes["time"] >= 3
    assert isinstance(exp.households, gpd.GeoDataFrame) and exp.households.crs == api["case"].crs
    # long enough that people are exposed, and the plan places them
    assert exp.summary["persons_exposed"] > 1000
    assert 0 < plan.summary["assigned_persons"] <= plan.summary["persons"]
    assert isinstance(api["m"], folium.Map)
    # fk.run computes the same chain: the same figures, and each product names its run
    assert run.flood.attrs["flooded_area_km2"] == pytest.approx(flood.attrs["flooded_area_km2"])
    assert run.exposure.summary["persons_exposed"] == exp.summary["persons_exposed"]
    assert run.plan.summary["assigned_persons"] == plan.summary["assigned_persons"]
    assert run.forecast.attrs["run_id"] == run.flood.attrs["run_id"] == run.run_id
    assert run.exposure.households.attrs["run_id"] == run.run_id
    assert run.run_id in repr(run)


def test_stage_products_hold_to_the_schema(api):
    from gis.schema import EXPOSURE_HOUSEHOLDS, EXPOSURE_VILLAGES, PLAN_PARTIES, WARNINGS, missing_columns

    run = api["run"]
    assert missing_columns(run.exposure.households, EXPOSURE_HOUSEHOLDS) == []
    assert missing_columns(run.exposure.villages, EXPOSURE_VILLAGES) == []
    assert missing_columns(run.plan.parties, PLAN_PARTIES) == []
    assert missing_columns(run.warnings, WARNINGS) == []
    # machine tables carry no Chinese headers; the officials' lists on disk do
    for t in (run.exposure.households, run.exposure.villages, run.plan.parties, run.warnings):
        assert all(re.fullmatch(r"[a-z0-9_]+", str(c)) for c in t.columns if c != "geometry"), list(t.columns)
    vil = pd.read_csv(api["out"] / "exposure" / "villages.csv", encoding="utf-8-sig")
    assert "受影响人数" in vil.columns


# ----------------------------------------------------------------------------- provenance
def test_every_product_names_its_run(api, tmp_path):
    out, rid = api["out"], api["run"].run_id
    m = read_manifest(out)
    assert m["run_id"] == rid and m["scenario"]["kind"] == "design_storm" and m["scenario"]["rehearsal"]
    assert m["case"]["inputs_sha256"]["case.toml"] and m["versions"]["numpy"]
    assert all(m["stages"][s]["status"] == "finished" for s in pipeline.RUNNABLE)
    files = [p for p in out.rglob("*") if p.is_file() and p.name != "run.json"]
    assert len(files) > 40
    assert {run_id_of(p) for p in files} == {rid}
    # the self-describing formats carry it in the file itself (no stage.json beside the copy)
    seen = set()
    for p in files:
        if p.suffix in (".nc", ".json", ".gpkg", ".png", ".pdf", ".html", ".xlsx") and p.name != STAGE_MANIFEST:
            lone = tmp_path / f"lone{len(seen)}{p.suffix}"
            shutil.copy(p, lone)
            assert run_id_of(lone) == rid, p
            seen.add(p.suffix)
    assert seen == {".nc", ".json", ".gpkg", ".png", ".pdf", ".html", ".xlsx"}
    # every file of a stage folder is listed in its stage.json
    for s in ("forecast", "inundation", "exposure", "plan", "brief"):
        listed = set(json.loads((out / s / STAGE_MANIFEST).read_text(encoding="utf-8"))["files"])
        assert listed == {p.relative_to(out / s).as_posix() for p in (out / s).rglob("*")
                          if p.is_file() and p.name != STAGE_MANIFEST}


def test_maps_and_briefings_state_the_design_storm_in_words(api):
    html = (api["out"] / "map.html").read_text(encoding="utf-8")
    html = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)  # the page's JSON escapes
    assert "设计暴雨 50年一遇 · 预演" in html and "发布时间：2000" not in html
    page = next((api["out"] / "brief" / "一页纸").glob("*.html")).read_text(encoding="utf-8")
    assert "设计暴雨 50年一遇 · 预演" in page and "2000年" not in page


# ----------------------------------------------------------------------------- the folder rules
def test_stale_mix_sequence_exits_2_and_changes_nothing(api, tmp_path, capsys):
    out = copy_run(api, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    rc = cli.main(["run", str(CASE), "--rain", "event_2022_convective_like", "--stages", "forecast,map,brief",
                   "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert api["run"].run_id in err[0] and "设计暴雨 50年一遇" in err[0] and "event_2022_convective_like" in err[0]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_unknown_stage_exits_2_listing_the_valid_ones(tmp_path, capsys):
    rc = cli.main(["run", str(CASE), "--stages", "forcast", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "'forcast'" in err[0]
    assert ",".join(pipeline.RUNNABLE) in err[0]
    assert not (tmp_path / "o").exists()
    assert tuple(cli.RUNNABLE_STAGES) == pipeline.RUNNABLE


def test_unknown_rain_name_lists_the_events(tmp_path, capsys):
    rc = cli.main(["run", str(CASE), "--rain", "event_2022", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "event_2022_convective_like" in err and "event_2019_lekima_like" in err


def test_later_stages_continue_the_run_in_the_folder(api, tmp_path, capsys):
    out = copy_run(api, tmp_path)
    rid = api["run"].run_id
    assert cli.main(["run", str(CASE), "--stages", "map", "--out", str(out)]) == 0
    assert read_manifest(out)["run_id"] == rid and run_id_of(out / "map.html") == rid
    # another scenario cannot continue this run
    assert cli.main(["run", str(CASE), "--design-storm", "10y", "--stages", "map", "--out", str(out)]) == 2
    assert "10年一遇" in capsys.readouterr().err


def test_rerunning_a_stage_refuses_to_leave_stages_made_from_it(api, tmp_path, capsys):
    out = copy_run(api, tmp_path)
    assert cli.main(["run", str(CASE), "--stages", "exposure", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "plan" in err and "map" in err and "brief" in err


def test_a_product_of_another_run_is_refused(api, tmp_path, capsys):
    import h5py

    out = copy_run(api, tmp_path)
    with h5py.File(out / "inundation" / "inundation.nc", "a") as f:
        f.attrs["run_id"] = "20000101T000000-abcdef"
    assert cli.main(["run", str(CASE), "--stages", "map", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "20000101T000000-abcdef" in err and api["run"].run_id in err
    # the map command reading the folder refuses the mix too
    assert cli.main(["map", str(CASE), "--results", str(out), "--out", str(tmp_path / "m.html")]) == 2
    assert "two runs" in capsys.readouterr().err and not (tmp_path / "m.html").exists()


def test_changed_case_files_refuse_to_continue(api, tmp_path, capsys):
    case = tmp_path / "case"
    shutil.copytree(CASE, case)
    out = copy_run(api, tmp_path)
    m = read_manifest(out)
    m["case"]["inputs_sha256"] = case_checksums(case)
    (out / "run.json").write_text(json.dumps(m), encoding="utf-8")
    (case / "design_storms.csv").write_text((case / "design_storms.csv").read_text(encoding="utf-8") + "\n",
                                            encoding="utf-8")
    assert cli.main(["run", str(case), "--stages", "map", "--out", str(out)]) == 2
    assert "design_storms.csv" in capsys.readouterr().err


@pytest.mark.parametrize("stage", ["typhoon", "forecast", "inundation", "exposure", "plan", "brief"])
def test_a_stage_interrupted_while_writing_leaves_no_folder(api, tmp_path, monkeypatch, stage):
    run = api["run"]
    if stage == "typhoon" and run.typhoon is None:
        pytest.skip("the sample has no typhoon track")

    def broken(r, folder):
        (folder / "half.csv").write_text("a,b\n1,", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setitem(pipeline.WRITERS, stage, broken)
    out = tmp_path / "o"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt):
        pipeline.save_stage(run, stage, out)
    assert list(out.iterdir()) == []


def test_sigint_during_brief_leaves_finished_stages_and_no_partial_folder(api, tmp_path):
    out = copy_run(api, tmp_path)
    shutil.rmtree(out / "brief")
    (out / "map.html").unlink()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "run", str(CASE), "--stages", "map,brief",
                          "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         cwd=ROOT)
    seen = ""
    t0 = time.time()
    while "== brief" not in seen and time.time() - t0 < 300:
        line = p.stdout.readline()
        if not line:
            break
        seen += line
    assert "== brief" in seen
    time.sleep(2.0)  # well inside the briefing (about 15 s)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "interrupted during brief" in err and "map" in err
    assert not (out / "brief").exists() and not list(out.glob(".brief.part-*"))
    m = read_manifest(out)
    assert m["stages"]["brief"]["status"] == "interrupted" and m["stages"]["map"]["status"] == "finished"
    assert run_id_of(out / "map.html") == api["run"].run_id


# ----------------------------------------------------------------------------- shared objects
def test_forecast_and_forcing_walk_one_network_with_a_confluence(tmp_path):
    """S1 and S2 both flow into S3: the forcing at S3 is its discharge less both tributaries'."""
    import geopandas as gpd

    from hydro.forecast import ForecastModel
    from hydro.inundation import run as inund
    from hydro.network import RiverNetwork

    case_dir = tmp_path / "case"
    shutil.copytree(CASE, case_dir)
    sec = gpd.read_file(case_dir / "sections.geojson")
    sec.loc[sec["id"] == "S1", "downstream"] = "S3"
    sec.to_file(case_dir / "sections.geojson", driver="GeoJSON")
    case = fk.load_case(case_dir)
    model = ForecastModel.from_case(case)
    net = model.network
    assert isinstance(net, RiverNetwork) and net.confluences == ["S3"] and net.upstream("S3") == ["S1", "S2"]
    assert net.upstream_subbasins("S3").sum() > net.upstream_subbasins("S2").sum() + net.upstream_subbasins("S1").sum() - 1
    same = RiverNetwork.from_case(case)  # what the 2-D forcing builds: the forecast's network, no ratings
    assert same.downstream == net.downstream and same.order() == net.order() == ["S1", "S2", "S3"]
    np.testing.assert_array_equal(same.outlet, net.outlet)
    np.testing.assert_allclose(same.area_km2, net.area_km2)
    fc = fk.forecast(case, design_storm="50y")
    q = fc["discharge"].to_pandas()
    walked = []
    real = RiverNetwork.upstream

    def spy(self, section):
        walked.append(section)
        return real(self, section)

    RiverNetwork.upstream = spy
    try:
        mask = inund.valley_floor_mask(case)
        rain, inflows, *_ , notes = inund._forecast_forcing(case, fc, case.dem, inund.floor_share(case, mask))
    finally:
        RiverNetwork.upstream = real
    assert "S3" in walked
    cut = notes["floor_share_removed_from_inflow"]["S3"]
    s3 = next(h for h in inflows if h.name == "section S3")
    expect = np.maximum(q["S3"].to_numpy() - q["S1"].to_numpy() - q["S2"].to_numpy(), 0.0) * (1 - cut)
    np.testing.assert_allclose(s3.values, expect, rtol=1e-3)  # notes round the floor share to 4 digits
    # one tributary counted once: not just S3 - S2 (the old single-upstream rule)
    assert s3.values.sum() < (np.maximum(q["S3"] - q["S2"], 0.0).sum() * (1 - cut)) - 1.0


def test_simulation_from_a_georeferenced_dem_returns_a_dataset_on_its_grid():
    import rioxarray  # noqa: F401
    from rasterio.transform import from_origin

    from hydro.inundation import Simulation

    z = (10.0 - 0.01 * np.mgrid[0:12, 0:16][1]).astype("float32")
    z[0, 0] = -9999.0
    t = from_origin(500000.0, 3350000.0, 5.0, 5.0)
    dem = xr.DataArray(z, dims=("y", "x"), coords={"y": 3350000.0 - 2.5 - 5.0 * np.arange(12),
                                                  "x": 500002.5 + 5.0 * np.arange(16)})
    dem = dem.rio.write_crs("EPSG:4549").rio.write_transform(t).rio.write_nodata(-9999.0)
    sim = Simulation.from_dem(dem, 0.04, 0.2)
    sim.run(20.0)
    ds = sim.to_dataset()
    assert ds.rio.crs.to_epsg() == 4549 and ds.rio.transform() == t
    np.testing.assert_allclose(ds["x"].values, dem["x"].values)
    assert np.isnan(ds["max_depth_m"].values[0, 0]) and np.isfinite(ds["max_depth_m"].values[5, 5])
    assert json.loads(ds.attrs["summary_json"])["cells"] == 12 * 16 - 1


def test_maps_read_the_warning_table_not_a_recomputation():
    import geopandas as gpd
    from shapely.geometry import Point

    from gis.mapdata import Results, section_statuses

    case = type("C", (), {})()
    case.sections = gpd.GeoDataFrame({"id": ["S1"], "warning_level_m": [10.0], "danger_level_m": [11.0]},
                                     geometry=[Point(0, 0)])
    fc = xr.Dataset({"stage": (("time", "section"), [[9.0], [9.5]])}, coords={"section": ["S1"]})
    w = pd.DataFrame({"kind": ["section"], "id": ["S1"], "action": ["立即转移"], "peak_stage_m": [9.5]})
    assert section_statuses(case, Results(root=Path("."), forecast=fc, warnings=w))["S1"][0] == "危急"
    assert section_statuses(case, Results(root=Path("."), forecast=fc))["S1"][0] == "正常"


def test_run_takes_rain_given_in_memory():
    case = fk.load_case(CASE)
    rain = case.events["event_2022_convective_like"]
    r = fk.run(case, rain, stages=["forecast"])
    ref = fk.forecast(case, "event_2022_convective_like")
    np.testing.assert_allclose(r.forecast["discharge"].values, ref["discharge"].values)
    assert r.scenario["kind"] == "rain_data" and r.forecast.attrs["run_id"] == r.run_id


def test_both_backends_declare_the_backend_interface():
    import inspect

    from hydro.inundation.backend import Backend
    from hydro.inundation.backend_cpu import CpuBackend
    from hydro.inundation.backend_cuda import CudaBackend

    members = [n for n in ("name", "supports_lts", *[m for m, _ in inspect.getmembers(Backend, inspect.isfunction)
                                                    if not m.startswith("_")])]
    assert {"step", "add_volume", "impose_stage", "pull", "push"} <= set(members)
    for cls in (CpuBackend, CudaBackend):
        assert all(hasattr(cls, m) for m in members), (cls, [m for m in members if not hasattr(cls, m)])
    assert CpuBackend.supports_lts and not CudaBackend.supports_lts
