"""Offline web map: no CDN, every layer renders in headless Chromium with the network blocked."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from maps_fixture import make_case, make_results

from gis import webmap
from gis.errors import CRSError, InputError
from gis.mapdata import check_wgs84, hazard_class, hillshade, load_results, section_status


def _text(page: str) -> str:
    """The page with JSON \\uXXXX escapes decoded (labels inside scripts are escaped)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("webmap")
    case = make_case()
    make_results(root / "res", case)
    res = load_results(root / "res")
    rep = webmap.build_webmap(case, res, root / "map.html")
    return case, res, rep, (root / "map.html").read_text(encoding="utf-8")


def test_no_network_reference_and_leaflet_inlined(built):
    _, _, rep, page = built
    assert webmap.cdn_references(page) == []
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page), "every asset must be inline"
    assert "L.map(" in page and 'version="1.9.3"' in page  # Leaflet's own source, inlined
    assert rep.missing == []
    assert rep.layers == [webmap.LAYER_HILLSHADE, webmap.LAYER_MAX_DEPTH, webmap.LAYER_HAZARD,
                          webmap.LAYER_ARRIVAL, webmap.LAYER_SNAPSHOTS, webmap.LAYER_SECTIONS,
                          webmap.LAYER_VILLAGES, webmap.LAYER_HOUSEHOLDS, webmap.LAYER_SHELTERS,
                          webmap.LAYER_ROUTES, webmap.LAYER_TYPHOON]


def test_cdn_detector_catches_folium_defaults():
    assert webmap.cdn_references('<script src="https://cdn.jsdelivr.net/npm/leaflet.js"></script>')
    assert webmap.cdn_references("<link rel=stylesheet href='//cdn.example/x.css'>")
    assert not webmap.cdn_references("<script>var a = 'https://tile.openstreetmap.org';</script>")


def test_no_personal_data_in_map(built):
    case, res, _, page = built
    assert "head" not in res.households.columns and "phone" not in res.households.columns
    for phone in case.villages["phone"]:
        assert phone not in page
    assert "1380000" not in page and "张1" not in page


def test_title_issue_time_and_legends(built):
    _, _, _, page = built
    text = _text(page)
    assert "2024-07-01 08:00" in page
    for needle in ("最大水深 (m)", "危险等级", "洪水到达时间 (h)", "断面预警"):
        assert needle in text


def test_online_tiles_only_when_asked(built, tmp_path):
    case, res, _, page = built
    assert "openstreetmap" not in page
    rep = webmap.build_webmap(case, res, tmp_path / "online.html", online_tiles="osm", embed_font=False)
    assert "tile.openstreetmap.org" in (tmp_path / "online.html").read_text(encoding="utf-8")
    assert rep.layers[1].startswith("在线底图")


def test_missing_products_map_what_exists(tmp_path):
    case = make_case()
    make_results(tmp_path / "res", case, skip=("inundation", "plan", "typhoon"))
    res = load_results(tmp_path / "res")
    assert "inundation/inundation.nc" in res.missing and "plan/plan.gpkg" in res.missing
    assert "inundation/inundation.nc" in res.missing_line()
    rep = webmap.build_webmap(case, res, tmp_path / "map.html", embed_font=False)
    assert webmap.LAYER_MAX_DEPTH not in rep.layers and webmap.LAYER_SECTIONS in rep.layers
    assert "缺少产品" in _text((tmp_path / "map.html").read_text(encoding="utf-8"))


def test_results_folder_not_found(tmp_path):
    with pytest.raises(InputError, match="results folder not found"):
        load_results(tmp_path / "nope")


def test_crs_without_wgs84_link():
    local = ('ENGCRS["site grid",EDATUM["site"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["metre",1]],'
             'AXIS["y",north,LENGTHUNIT["metre",1]]]')
    with pytest.raises(CRSError, match="cannot be converted to WGS84"):
        check_wgs84(local)
    check_wgs84("EPSG:4549")


def test_hillshade_of_a_plane_matches_lambert():
    # A plane rising to the east with slope s: Horn's differences are exact on a plane, so the
    # shade equals cos(zen)cos(slope) + sin(zen)sin(slope)cos(az - aspect) exactly.
    s, dx = 0.3, 30.0
    x = np.arange(20) * dx
    dem = np.tile(s * x, (15, 1))
    hs = hillshade(dem, dx, dx, azimuth_deg=270.0, altitude_deg=45.0)
    slope = np.arctan(s)
    expected = np.cos(np.radians(45)) * np.cos(slope) + np.sin(np.radians(45)) * np.sin(slope)
    assert np.allclose(hs[2:-2, 2:-2], expected, atol=1e-9)  # facing west, lit from the west
    hs_e = hillshade(dem, dx, dx, azimuth_deg=90.0, altitude_deg=45.0)
    assert np.allclose(hs_e[2:-2, 2:-2], np.cos(np.radians(45)) * np.cos(slope)
                       - np.sin(np.radians(45)) * np.sin(slope), atol=1e-9)


def test_hazard_classes_follow_fd2320():
    d = np.array([0.01, 0.2, 0.5, 1.0, 2.0])
    v = np.array([0.0, 1.0, 0.5, 0.5, 1.0])
    # HR = d(v+0.5)+DF with DF = 1 beyond 0.25 m (gis.exposure, Defra 2008): dry, 0.3 (low),
    # 1.5 (significant), 2.0 (extreme), 4.0 (extreme) -- the same classes as the exposure lists
    assert hazard_class(d, v).tolist() == [-1, 0, 2, 3, 3]
    from gis.exposure import HAZARD_COLOURS, hazard_rating
    from gis.exposure import hazard_class as list_class

    words = list_class(hazard_rating(d, v), d)
    assert [HAZARD_COLOURS.index(w) if w else -1 for w in words] == hazard_class(d, v).tolist()


def test_section_status():
    assert section_status(np.array([1.0, 2.9]), 3.0, 4.0) == "正常"
    assert section_status(np.array([1.0, 3.0]), 3.0, 4.0) == "警戒"
    assert section_status(np.array([4.2, 3.0]), 3.0, 4.0) == "危急"
    assert section_status(np.array([np.nan]), 3.0, 4.0) == "无预报"


def test_map_in_headless_chromium_with_network_blocked(built, tmp_path):
    from cdp_browser import Browser, find_chromium

    exe = find_chromium()
    if exe is None:
        pytest.skip("no Chromium installed: `apt-get install chromium` (Debian) to run the browser test")
    _, _, rep, _ = built
    browser = Browser(exe)
    try:
        browser.open(Path(rep.path).resolve().as_uri())
        state = browser.evaluate("""(() => {
            const imgs = Array.from(document.querySelectorAll('img.leaflet-image-layer'));
            return {
              labels: Array.from(document.querySelectorAll('.leaflet-control-layers label'))
                           .map(l => l.textContent.trim()),
              images: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
              vectors: document.querySelectorAll('path.leaflet-interactive').length,
              markers: document.querySelectorAll('.leaflet-marker-icon').length,
              slider: document.querySelectorAll('.fk-slider input[type=range]').length,
              title: (document.querySelector('.fk-title') || {}).textContent || '',
              font: document.fonts.check('12px floodkit-cjk', '东关溪'),
            };
        })()""")
        # open every overlay, then count again: every named layer must draw something
        browser.evaluate("""document.querySelectorAll('.leaflet-control-layers-overlays input')
                              .forEach(i => { if (!i.checked) i.click(); }); true""")
        browser.pump(1.0)
        after = browser.evaluate("""({images: document.querySelectorAll('img.leaflet-image-layer').length,
                                      vectors: document.querySelectorAll('path.leaflet-interactive').length})""")
        shot = browser.screenshot(tmp_path / "map.png")
        requests = browser.requests()
        errors = browser.errors()
    finally:
        browser.close()
    assert state["labels"] == rep.layers
    assert state["loaded"] == state["images"] >= 2  # hillshade + max depth shown by default
    assert state["vectors"] >= 3 + 4 + 2  # sections, villages, routes
    assert state["markers"] == 2  # shelters
    assert state["slider"] == 1
    assert "东关溪" in state["title"]
    assert after["images"] >= 2 + 2 + 7  # + hazard, arrival, 7 depth snapshots
    assert after["vectors"] > state["vectors"]  # households and typhoon now drawn
    hosts = [u for u in requests if not u.startswith(("file:", "data:", "about:"))]
    assert hosts == [], f"the page asked the network for {hosts[:3]}"
    assert errors == []
    assert shot.stat().st_size > 20_000


def test_cli_results_folder_missing_is_one_line_exit_2(sample_dir, tmp_path, capsys):
    import cli

    rc = cli.main(["map", str(sample_dir), "--results", str(tmp_path / "nope"), "--out", str(tmp_path / "m.html")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "results folder not found" in err[0]
    assert not (tmp_path / "m.html").exists()


@pytest.mark.slow
def test_cli_map_and_brief_with_missing_products(sample_dir, tmp_path, capsys):
    import cli

    (tmp_path / "res").mkdir()
    rc = cli.main(["map", str(sample_dir), "--results", str(tmp_path / "res"), "--out", str(tmp_path / "m.html")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "missing forecast/forecast.nc" in err[0]
    assert (tmp_path / "m.html").stat().st_size > 100_000  # the case layers are still mapped
    rc = cli.main(["brief", str(sample_dir), "--results", str(tmp_path / "res"), "--out", str(tmp_path / "b")])
    assert rc == 2 and (tmp_path / "b" / "形势图.pdf").exists()
