"""The `typhoon` CLI sub-command on the sample case, and bad input -> one line, exit 2, no outputs."""

import json
from pathlib import Path

import pytest
import xarray as xr

import cli

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "data_samples" / "dongguanxi"
TRACK = CASE / "typhoon" / "lekima_like_track.csv"
PRODUCTS = ["wind_villages.csv", "swath.nc", "circles.csv", "deadlines.csv", "circle_radii.csv", "rain.nc",
            "rain_gauges.csv", "triggers.json", "track.geojson", "circles.geojson", "typhoon.gpkg", "summary.json"]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    if not (CASE / "case.toml").exists() or not (CASE / "villages.geojson").exists():
        pytest.skip("sample case not generated")
    out = tmp_path_factory.mktemp("typhoon")
    rc = cli.main(["typhoon", str(TRACK), "--case", str(CASE), "--out", str(out), "--rain-res", "2000"])
    return rc, out


def test_typhoon_cli_on_sample_case(sample_run):
    import pandas as pd

    rc, out = sample_run
    assert rc == 0
    for name in PRODUCTS:
        assert (out / name).is_file(), name
    trig = json.loads((out / "triggers.json").read_text(encoding="utf-8"))
    assert trig["synthetic"] is True
    taizhou = trig["rules"][0]
    assert taizhou["fired"] and taizhou["tier"] in {f"level {k}" for k in range(12, 18)}
    circles = pd.read_csv(out / "circles.csv")
    assert set(circles["kind"]) == {"village", "town"} and set(circles["circle_level"]) == {7, 10, 12}
    rain = xr.open_dataset(out / "rain.nc", decode_coords="all", engine="h5netcdf")
    assert rain["rain_mm_per_h"].dims == ("time", "y", "x") and rain.rio.crs.to_epsg() == 4549
    assert float(rain["rain_mm_per_h"].sum("time").max()) > 20.0
    swath = xr.open_dataset(out / "swath.nc", engine="h5netcdf")
    assert 45.0 < float(swath["max_wind_m_per_s"].max()) <= 61.0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["villages_in_7_level"] > 0


@pytest.mark.parametrize("body, words", [
    ("time,lat,lon,pressure_hpa,vmax_m_per_s\n2019-08-10 02:00,28,121,950,40\n2019-08-10 01:00,28.5,121,950,40\n",
     "not after"),
    ("time,lat,lon,pressure_hpa,vmax_m_per_s\n2019-08-10 00:00,128,121,950,40\n2019-08-10 01:00,28.5,121,950,40\n",
     "lat"),
    ("time,lat,lon,vmax_m_per_s\n2019-08-10 00:00,28,121,40\n2019-08-10 01:00,28.5,121,40\n", "pressure_hpa"),
    ("time,lat,lon,pressure_hpa\n2019-08-10 00:00,28,121,950\n2019-08-10 01:00,28.5,121,950\n", "vmax_m_per_s"),
    ("<kml>not a track</kml>\n", "unknown track format"),
])
def test_bad_track_exit_2_one_line_no_outputs(tmp_path, capsys, body, words):
    track = tmp_path / "bad_track.csv"
    track.write_text(body, encoding="utf-8")
    out = tmp_path / "out"
    rc = cli.main(["typhoon", str(track), "--case", str(CASE), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "bad_track.csv" in err[0] and words in err[0]
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_run_stage_uses_the_case_track(tmp_path):
    import shutil

    if not (CASE / "villages.geojson").exists():
        pytest.skip("sample case not generated")
    case = tmp_path / "case"
    shutil.copytree(CASE, case)
    toml = case / "case.toml"
    if "[typhoon]" not in toml.read_text(encoding="utf-8"):
        toml.write_text(toml.read_text(encoding="utf-8") + '\n[typhoon]\ntrack = "typhoon/lekima_like_track.csv"\n',
                        encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["run", str(case), "--out", str(out), "--stages", "typhoon"]) == 0
    assert (out / "typhoon" / "rain.nc").is_file() and (out / "typhoon" / "triggers.json").is_file()
