"""floodkit command line: the county flood-control office's commands.

Run ``python cli.py --help`` (or ``floodkit --help`` once installed). This module only parses
arguments and calls the library: the chain itself is ``floodkit.run`` (floodkit/pipeline.py), the
single stages are the functions of floodkit/, hydro/ and gis/. Every command reads and writes plain
products (NetCDF, GeoPackage, CSV/XLSX, HTML/PDF) so each stage can run alone.

Exit codes: 0 success; 2 bad input (one readable line per problem, no traceback);
1 unexpected error (rerun with ``--debug`` for the traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gis.errors import FloodkitError

# the stages `run --stages` takes, in data-flow order (floodkit.pipeline.RUNNABLE; repeated here so
# `--help` needs no heavy import; a test holds them equal)
RUNNABLE_STAGES = ("typhoon", "forecast", "inundation", "exposure", "plan", "map", "brief")

def _say(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------- case / sample
def cmd_case_validate(args: argparse.Namespace) -> int:
    from gis.case import load_case

    case = load_case(args.case)
    for w in case.warnings:
        _say(f"warning: {w}")
    _say(f"{args.case}: valid ({case.title})")
    return 0


def cmd_case_info(args: argparse.Namespace) -> int:
    from gis.case import load_case

    case = load_case(args.case)
    info = case.summary()
    if args.json:
        _say(json.dumps(info, ensure_ascii=False, indent=2))
    else:
        _say(case.describe())
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from data_samples.dongguanxi import generate

    if args.name != "dongguanxi":
        raise FloodkitError(f"sample: unknown sample '{args.name}'; the only sample is 'dongguanxi'")
    t0 = time.perf_counter()
    out = generate(args.out, resolution_m=args.resolution, seed=args.seed)
    _say(f"wrote {out} at {args.resolution:g} m in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from floodkit.pipeline import STAGES, parse_stages, run
    from floodkit.provenance import read_manifest

    stages = parse_stages(args.stages)  # unknown names: exit 2 before anything runs
    out = Path(args.out)
    options = {k: getattr(args, k) for k in RUN_OPTIONS if getattr(args, k, None) is not None}
    options["mask_personal"] = bool(args.mask_personal)
    try:
        r = run(args.case, args.rain, design_storm=args.design_storm, stages=stages, out=out, say=_say, **options)
    except KeyboardInterrupt:
        m = read_manifest(out) or {}
        st = m.get("stages", {})
        done = [s for s in STAGES if st.get(s, {}).get("status") in ("finished", "skipped")]
        cut = [s for s in STAGES if st.get(s, {}).get("status") == "interrupted"]
        print(f"interrupted{' during ' + cut[0] if cut else ''}: run {m.get('run_id', '?')} in {out} has "
              f"{', '.join(done) or 'no stage'} finished; the unfinished stage left no folder behind",
              file=sys.stderr)
        raise
    _say(f"run {r.run_id} ({r.scenario.get('label_zh', '')}): all products in {out}; manifest {out / 'run.json'}")
    return 0


# the stage options `run` passes through (argparse dest names = floodkit.run keywords)
RUN_OPTIONS = ("state", "members", "sigma", "tail", "nowcast", "areal", "step", "observed", "duration_s", "backend", "population",
               "roads", "depart", "mode", "margin", "cut_depth", "horizon", "paper", "villages", "online_tiles")


# ----------------------------------------------------------------------------- typhoon
def cmd_typhoon(args: argparse.Namespace) -> int:
    from gis.case import load_case
    from hydro.typhoon.products import run_typhoon
    from hydro.typhoon.tracks import read_track

    read_track(args.track, fmt=args.format, storm=args.storm)  # a bad track fails before the case loads
    case = load_case(args.case)
    t0 = time.perf_counter()
    s = run_typhoon(args.track, case, args.out, fmt=args.format, storm=args.storm, rules_path=args.rules,
                    rain_res_m=args.rain_res, say=_say)
    fired = ", ".join(s["triggers_fired"]) or "none"
    _say(f"  7-level circle first reaches a village {s['first_7_level_arrival'] or 'never'}; "
         f"max wind at villages {s['max_wind_at_villages_m_per_s']} m/s; max rain {s['max_total_rain_mm']} mm; "
         f"triggers fired: {fired}")
    _say(f"wrote typhoon products to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


def _add_typhoon_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("typhoon", help="typhoon wind, wind-circle timing, rain and insurance triggers from a track",
                       description="Wind at villages, wind swath, 7/10/12-level circle arrival and leaving per "
                       "village and town, R-CLIPER rain scenario and index-insurance triggers (台州 rule built in). "
                       "Writes wind_villages.csv, swath.nc, circles.csv, deadlines.csv, circle_radii.csv, rain.nc, "
                       "rain_gauges.csv, triggers.json, track.geojson, circles.geojson, typhoon.gpkg, summary.json.")
    t.add_argument("track", help="track file: CMA best track ('66666' headers), IBTrACS CSV or forecast CSV "
                   "(time,lat,lon,pressure_hpa,vmax_m_per_s[,rmax_km]; Beijing time)")
    t.add_argument("--case", required=True, help="case folder (villages, gauges, CRS and rain grid extent)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--format", default="auto", choices=["auto", "cma", "ibtracs", "csv"], help="track format")
    t.add_argument("--storm", default=None, help="storm name / number / SID when the file holds several")
    t.add_argument("--rules", default=None, help="extra trigger rules (TOML with [[circle]] / [[rain]] tables)")
    t.add_argument("--rain-res", type=float, default=1000.0, help="rain grid spacing in metres (default 1000)")
    t.set_defaults(func=cmd_typhoon)


# ----------------------------------------------------------------------------- forecast
def cmd_forecast(args: argparse.Namespace) -> int:
    from gis.case import load_case
    from hydro.forecast import run_forecast

    if (args.rain is None) == (args.design_storm is None):
        raise FloodkitError("forecast: give exactly one of --rain FILE|EVENT or --design-storm NAME")
    case = load_case(args.case)
    t0 = time.perf_counter()
    from hydro.rainfall import parse_step

    paths = run_forecast(case, args.out, rain=args.rain, design_storm=args.design_storm, nowcast=args.nowcast,
                         state=args.state, members=args.members, sigma=args.sigma, tail_h=args.tail,
                         method=args.areal, step_min=parse_step(args.step), observed=args.observed, say=_say)
    _say(f"wrote {', '.join(p.name for p in paths.values())} to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from gis.case import load_case
    from hydro.calibrate import calibrate_case, write_params_toml

    case = load_case(args.case)
    names = [n.strip() for n in args.params.split(",") if n.strip()]
    res = calibrate_case(case, args.events, names, args.state, args.objective, args.maxiter, args.seed)
    out = write_params_toml(args.out, res["params"], res, args.events)
    _say(f"NSE {', '.join(f'{v:.3f}' for v in res['nse'])}; KGE {', '.join(f'{v:.3f}' for v in res['kge'])}; "
         f"peak error {', '.join(f'{100 * v:+.1f}%' for v in res['peak_error'])}")
    _say(f"wrote {out}; name it in case.toml under [forecast] params = \"{Path(out).name}\"")
    return 0


def _add_forecast_options(p) -> None:
    """The forecast's options, shared by `forecast` and `run` (dest names = floodkit.run keywords)."""
    p.add_argument("--nowcast", help="gridded nowcast/forecast NetCDF appended after the rain (issue_time kept)")
    p.add_argument("--state", default="normal", choices=["dry", "normal", "wet"], help="antecedent soil moisture")
    p.add_argument("--members", type=int, default=0, help="ensemble members (perturbed forecast rain); 0 = none")
    p.add_argument("--sigma", type=float, default=0.5, help="log-sd of the ensemble rain factors (default 0.5)")
    p.add_argument("--tail", type=int, default=24, help="dry hours simulated after the rain (default 24)")
    p.add_argument("--areal", default="thiessen", choices=["thiessen", "idw"], help="gauge -> sub-basin method")
    p.add_argument("--step", default=None, help="forecast time step, 5-60 min dividing the hour: 15, 15min or 1h "
                   "(default: the rain's own step; design storms hourly). Rain at another step is split or summed")
    p.add_argument("--observed", default=None, help="observed levels/discharges for real-time correction (实时校正): "
                   "CSV time,section,stage_m|discharge_m3_per_s (README); corrected and uncorrected in forecast.nc")


def _add_forecast_parser(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("forecast", help="rainfall -> water level, velocity, warnings and critical rainfall",
                       description="Xinanjiang runoff, Nash unit hydrograph, variable-parameter Muskingum-Cunge "
                       "routing and a subdivided-conveyance Manning rating (stage, mean and main-channel velocity) at "
                       "every section, at any step of 5-60 min, optionally corrected with observations. Writes "
                       "forecast.nc, warnings.csv, thresholds.csv and hydrograph_<section>.png.")
    f.add_argument("case", help="case folder (holding case.toml)")
    f.add_argument("--rain", help="gauge CSV (depth per row's step, 5-60 min), gridded rain NetCDF/GeoTIFF, or an "
                   "event name of the case")
    f.add_argument("--design-storm", help="design storm name from design_storms.csv, e.g. 50y")
    _add_forecast_options(f)
    f.add_argument("--out", required=True, help="output folder")
    f.set_defaults(func=cmd_forecast)
    c = sub.add_parser("calibrate", help="fit forecast parameters to observed events (differential evolution)",
                       description="Events are hourly CSVs: time, gauge rain columns and Q_<section> (m3/s) or "
                       "H_<section> (m). Writes a TOML that case.toml names under [forecast] params.")
    c.add_argument("case", help="case folder")
    c.add_argument("--events", nargs="+", required=True, help="event CSV files with observed Q_/H_ columns")
    c.add_argument("--params", default="B,SM,KI,CI,lag_factor", help="comma-separated parameters to fit")
    c.add_argument("--objective", default="nse", choices=["nse", "kge"], help="objective (default nse)")
    c.add_argument("--state", default="normal", choices=["dry", "normal", "wet"], help="antecedent state")
    c.add_argument("--maxiter", type=int, default=40, help="differential-evolution generations")
    c.add_argument("--seed", type=int, default=0, help="random seed")
    c.add_argument("--out", required=True, help="parameter file to write, e.g. CASE/forecast_params.toml")
    c.set_defaults(func=cmd_calibrate)


# ----------------------------------------------------------------------------- inundation (2-D)
def cmd_simulate(args: argparse.Namespace) -> int:
    from hydro.inundation.run import simulate_files

    simulate_files(args.dem, args.out, args.duration, manning=args.manning, initial_depth=args.initial_depth,
                   rain=args.rain, inflow=args.inflow, stage=args.stage, boundary=args.boundary,
                   output_interval_s=args.output_interval, summary_json=args.summary_json,
                   runoff_coefficient=args.runoff_coefficient, loss_mm_per_h=args.loss, alpha=args.alpha,
                   froude_max=args.froude_max, kinematic_courant=args.kinematic_courant,
                   stats_interval=args.stats_interval, lts_levels=args.lts_levels,
                   dtype="float64" if args.float64 else "float32", start_time=args.start_time,
                   checkpoint=args.checkpoint, hot_start=args.hot_start, progress=not args.quiet, say=_say,
                   backend=args.backend)
    return 0


def _add_simulate_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("simulate", help="2-D inundation (local-inertial shallow water) on a DEM",
                       description="Local-inertial 2-D flood model (Bates et al. 2010; de Almeida et al. 2012). "
                       "Writes inundation.nc, extent.gpkg, water_balance.csv and summary.json into --out. "
                       "File formats: README.md, section '2-D inundation'.")
    s.add_argument("--dem", required=True, help="DEM GeoTIFF (m); nodata cells are outside the domain")
    s.add_argument("--manning", default="0.05", help="Manning n: a number or a raster on the DEM grid (default 0.05)")
    s.add_argument("--initial-depth", default="0", help="initial depth (m): a number or a raster on the DEM grid")
    s.add_argument("--rain", help="rain: CSV (time_s|time, rain_mm_per_h) or NetCDF (time, y, x) on the DEM grid")
    s.add_argument("--inflow", help="inflow CSV: name,x,y[,x2,y2],time_s|time,discharge_m3_per_s")
    s.add_argument("--stage", help="stage CSV: name,x,y[,x2,y2],time_s|time,stage_m")
    s.add_argument("--boundary", default="closed", choices=["closed", "open"],
                   help="domain edges: closed walls or free outflow at normal depth for the local bed slope, at least 1e-3 "
                        "(default closed)")
    s.add_argument("--duration", type=float, required=True, help="simulated time in seconds")
    s.add_argument("--output-interval", type=float, default=None, help="seconds between depth snapshots")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--summary-json", default=None, help="also write the run summary to this file")
    s.add_argument("--runoff-coefficient", type=float, default=1.0, help="fraction of rain that runs off (0-1)")
    s.add_argument("--loss", type=float, default=0.0, help="constant infiltration loss in mm/h (default 0)")
    s.add_argument("--alpha", type=float, default=0.7, help="CFL coefficient (default 0.7)")
    s.add_argument("--froude-max", type=float, default=0.8,
                   help="flux cap as a Froude number (default 0.8; above 0.6 the scheme can grow roll waves "
                   "on steep valley floors, see README)")
    s.add_argument("--kinematic-courant", type=float, default=0.9,
                   help="where the Froude cap binds, also hold the time step to this Courant number of the capped "
                   "(kinematic) outflow summed over a cell's faces (default 0.9; 0 = off: up to 1.6x faster on the "
                   "5 m sample, but capped flow running diagonally to the grid then breaks into a flickering depth "
                   "checkerboard, see README)")
    s.add_argument("--stats-interval", type=float, default=5.0,
                   help="seconds between samples of the running outputs (max depth, max speed, arrival, duration, "
                   "time of max); they are also sampled at every output time; 0 = every step (about a third "
                   "slower on large grids; default 5)")
    s.add_argument("--lts-levels", type=int, default=5,
                   help="local time stepping: each 32-cell tile steps 1, 2, 4, ... up to 2^(N-1) finest steps at a "
                   "time, by its own stable step, so a deep channel does not hold the shallow floodplain to its step; "
                   "exactly conservative (default %(default)s; 1 = every cell at the global step)")
    s.add_argument("--float64", action="store_true", help="float64 state (default float32)")
    s.add_argument("--start-time", default=None, help="local time of t = 0 (and of `time` columns' origin)")
    s.add_argument("--checkpoint", default=None, help="save the state here at every output time (.npz)")
    s.add_argument("--hot-start", default=None, help="resume from a checkpoint written with the same inputs")
    s.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    s.add_argument("--backend", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where the steps run: auto (a usable CUDA GPU, else the CPU with a notice), cpu, or "
                   "cuda (exit 2 without a GPU); same physics (default auto)")
    s.set_defaults(func=cmd_simulate)


# ----------------------------------------------------------------------------- exposure / plan
def _inundation_file(path: str | Path) -> Path:
    p = Path(path)
    return p / "inundation.nc" if p.is_dir() else p


def cmd_exposure(args: argparse.Namespace) -> int:
    from gis.case import load_case
    from gis.transfer_io import exposure_products

    case = load_case(args.case)
    t0 = time.perf_counter()
    s = exposure_products(case, _inundation_file(args.inundation), args.forecast, Path(args.out),
                          mask=args.mask_personal, population=args.population)
    _say(f"  {s['persons_exposed']} persons in {s['households_exposed']} households exposed "
         f"({s['vulnerable_exposed']} vulnerable, {s['visitors_exposed']} visitors) in {s['villages_affected']} "
         f"villages; by colour {s['by_class_persons']}")
    if s["households_outside_2d_domain"]:
        _say(f"  note: {s['households_outside_2d_domain']} households lie outside the simulated 2-D domain "
             "and are taken as dry")
    _say(f"wrote exposure products to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from gis.case import load_case
    from gis.transfer_io import plan_products

    case = load_case(args.case)
    t0 = time.perf_counter()
    plan = plan_products(case, _inundation_file(args.inundation), Path(args.out), roads=args.roads,
                         mask=args.mask_personal, depart=args.depart, mode=args.mode, margin_min=args.margin,
                         cut_depth_m=args.cut_depth, horizon_min=args.horizon, population=args.population)
    for w in plan.warnings:
        _say(f"warning: {w}")
    s = plan.summary
    _say(f"  {s['assigned_persons']} of {s['persons']} persons placed in {s['shelters_used']} shelters; "
         f"{s['unplaced_persons']} unplaced (see unplaced.csv); mean trip {s['mean_travel_min']} min ({s['mode']})")
    _say(f"wrote plan.csv, plan.xlsx, plan.gpkg, unplaced.csv, summary.json to {args.out} "
         f"in {time.perf_counter() - t0:.1f} s")
    return 0


def _add_exposure_parsers(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("exposure", help="affected households, villages and towns from the 2-D inundation",
                       description="Samples max depth, speed, arrival time and duration at every household and "
                       "visitor site; hazard class 红橙黄蓝 from the Defra/EA rating HR = d(v+0.5)+DF; totals per "
                       "village and town. With --forecast also the quick exposure (villages whose control section "
                       "reaches the flood level). Writes households.gpkg, households.csv, villages.csv, towns.csv, "
                       "exposure.xlsx, quick_exposure.csv, summary.json.")
    e.add_argument("case", help="case folder (holding case.toml)")
    e.add_argument("--inundation", required=True, help="inundation folder (holding inundation.nc) or the file")
    e.add_argument("--forecast", default=None, help="forecast.nc (or its folder) for the quick exposure")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--mask-personal", action="store_true", help="mask residents' names and phones (138****1234)")
    e.add_argument("--population", default=None, help="population raster (GeoTIFF, persons per cell, case CRS) "
                   "used instead of the household register")
    e.set_defaults(func=cmd_exposure)
    p = sub.add_parser("plan", help="transfer plan: every exposed person to a shelter over the open roads",
                       description="Assigns every exposed person (households and visitors) to a shelter with "
                       "capacity, minimising total travel time with vulnerable people first (HiGHS integer/linear "
                       "programme), over roads not flooded before departure + horizon; routes, walking and vehicle "
                       "times, latest safe departure, 包保责任人; unplaced persons with the reason. Writes plan.csv, "
                       "plan.xlsx, plan.gpkg (households, routes, shelters), unplaced.csv, summary.json.")
    p.add_argument("case", help="case folder (holding case.toml)")
    p.add_argument("--inundation", required=True, help="inundation folder (holding inundation.nc) or the file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--roads", default=None, help="road lines instead of the case's: GeoPackage, Shapefile, "
                   "GeoJSON (case CRS) or OpenStreetMap .osm XML")
    p.add_argument("--depart", default=None, help="departure time 'YYYY-MM-DD HH:MM' (default: inundation start)")
    p.add_argument("--mode", default="walk", choices=["walk", "drive"], help="mode for routes and deadlines")
    p.add_argument("--margin", type=float, default=30.0, help="safety margin before the flood, minutes (30)")
    p.add_argument("--cut-depth", type=float, default=0.3, help="water depth that cuts a road, m (0.3)")
    p.add_argument("--horizon", type=float, default=30.0,
                   help="roads flooded within this many minutes after departure count as cut (30); later "
                   "flooding on a route still brings its deadline forward")
    p.add_argument("--mask-personal", action="store_true", help="mask residents' names and phones (138****1234)")
    p.add_argument("--population", default=None, help="population raster (GeoTIFF, persons per cell, case CRS) "
                   "used instead of the household register")
    p.set_defaults(func=cmd_plan)


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="floodkit",
        description="Flash-flood and typhoon decision support: rainfall -> water-level forecast and warnings "
        "-> 2-D inundation -> affected villages and people -> transfer plan -> maps and briefings.",
        epilog="Exit codes: 0 ok, 2 bad input (one line per problem), 1 unexpected error (use --debug).",
    )
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser(
        "run", help="run every stage on a case: python cli.py run CASE --out DIR",
        description="Chains every stage in the one direction data flows: typhoon (when case.toml names a "
        "track) -> forecast -> 2-D inundation -> exposure -> transfer plan -> web map -> briefings. Each stage "
        "writes OUT/<stage>/ (map: OUT/map.html) whole or not at all; OUT/run.json records the run id, the case "
        "and its input checksums, the scenario, the stages and the options, and every product names the run id. "
        "A run of later stages only (e.g. --stages map,brief) continues the run in OUT; a run never leaves the "
        "products of two runs side by side (exit 2 naming both). The options below are the stages' own "
        "(see `forecast --help`, `plan --help`, `brief --help`).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("case", help="case folder (holding case.toml)")
    s.add_argument("--out", required=True, help="output folder; each stage writes a subfolder")
    s.add_argument("--rain", help="rainfall to forecast: hourly gauge CSV, gridded NetCDF, or an event name of "
                   "the case (default: case.toml [run] scenario, else the heaviest event)")
    s.add_argument("--design-storm", help="forecast a design storm of the case instead (预演), e.g. 50y")
    s.add_argument("--stages", default="", help="comma-separated stages to run (default: all): "
                   + ",".join(RUNNABLE_STAGES))
    g = s.add_argument_group("forecast")
    _add_forecast_options(g)
    g = s.add_argument_group("inundation")
    g.add_argument("--duration", dest="duration_s", type=float, default=None,
                   help="simulated seconds (default: one hour past the peak at the last section, at most 12 h)")
    g.add_argument("--backend", default="cpu", choices=["auto", "cpu", "cuda"], help="where the 2-D steps run")
    g = s.add_argument_group("exposure and plan")
    g.add_argument("--population", default=None, help="population raster (GeoTIFF, persons per cell, case CRS) "
                   "used instead of the household register")
    g.add_argument("--mask-personal", action="store_true",
                   help="mask residents' names and phones in the exposure and plan lists")
    g.add_argument("--roads", default=None, help="road lines instead of the case's")
    g.add_argument("--depart", default=None, help="departure time 'YYYY-MM-DD HH:MM' (default: inundation start)")
    g.add_argument("--mode", default="walk", choices=["walk", "drive"], help="mode for routes and deadlines")
    g.add_argument("--margin", type=float, default=30.0, help="safety margin before the flood, minutes")
    g.add_argument("--cut-depth", type=float, default=0.3, help="water depth that cuts a road, m")
    g.add_argument("--horizon", type=float, default=30.0, help="roads flooded within this many minutes after "
                   "departure count as cut")
    g = s.add_argument_group("map and brief")
    g.add_argument("--paper", default="A4", choices=["A4", "A3"], help="landscape paper size of the maps")
    g.add_argument("--villages", default="affected", choices=["affected", "all"],
                   help="one-page plans for affected villages or all villages")
    g.add_argument("--online-tiles", nargs="?", const="osm", default=None, metavar="osm|tianditu:KEY",
                   help="add an online tile layer to the web map (default off: no internet needed)")
    s.set_defaults(func=cmd_run)

    c = sub.add_parser("case", help="check or describe a case folder")
    csub = c.add_subparsers(dest="case_command", metavar="ACTION", required=True)
    v = csub.add_parser("validate", help="validate every layer; exit 2 with one line per problem")
    v.add_argument("case")
    v.set_defaults(func=cmd_case_validate)
    i = csub.add_parser("info", help="short summary: area, cells, resolution, CRS, counts, population")
    i.add_argument("case")
    i.add_argument("--json", action="store_true", help="print the summary as JSON")
    i.set_defaults(func=cmd_case_info)

    s = sub.add_parser("sample", help="generate the synthetic sample case at any resolution")
    s.add_argument("name", help="sample name: dongguanxi")
    s.add_argument("--resolution", type=float, default=30.0, help="grid spacing in metres (5 gives ~6.9M cells)")
    s.add_argument("--seed", type=int, default=20190810, help="random seed of the recipe")
    s.add_argument("--out", required=True, help="folder to write the case into")
    s.set_defaults(func=cmd_sample)

    for add in PARSER_HOOKS:
        add(sub)
    return p


# Later stages add their sub-commands here: functions taking the sub-parsers object.
PARSER_HOOKS: list[Callable[[argparse._SubParsersAction], None]] = []
PARSER_HOOKS.append(_add_typhoon_parser)
PARSER_HOOKS.append(_add_forecast_parser)
PARSER_HOOKS.append(_add_exposure_parsers)
PARSER_HOOKS.append(_add_simulate_parser)


# ----------------------------------------------------------------------------- map / brief
def _map_inputs(args: argparse.Namespace):
    from gis.case import load_case
    from gis.mapdata import check_wgs84, load_results

    case = load_case(args.case)
    check_wgs84(case.crs, source=f"{Path(args.case).name}/case.toml")
    return case, load_results(args.results)


def cmd_map(args: argparse.Namespace) -> int:
    from gis.webmap import build_webmap

    t0 = time.perf_counter()
    case, results = _map_inputs(args)
    rep = build_webmap(case, results, args.out, online_tiles=args.online_tiles)
    _say(f"wrote {rep.path} ({rep.size_bytes / 1e6:.1f} MB, {len(rep.layers)} layers, "
         f"{'online tiles' if args.online_tiles else 'offline'}) in {time.perf_counter() - t0:.1f} s")
    if results.missing:
        print(f"error: {results.missing_line()}", file=sys.stderr)
        return 2
    return 0


def cmd_brief(args: argparse.Namespace) -> int:
    from gis.briefing import write_briefings

    t0 = time.perf_counter()
    case, results = _map_inputs(args)
    rep = write_briefings(case, results, args.out, paper=args.paper, villages=args.villages)
    _say(f"wrote {len(rep.files)} files to {args.out} in {time.perf_counter() - t0:.1f} s")
    if results.missing:
        print(f"error: {results.missing_line()}", file=sys.stderr)
        return 2
    return 0


def _add_map_parsers(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("map", help="offline web map (one HTML file): python cli.py map CASE --results DIR --out map.html",
                       description="One self-contained HTML map that works without internet: DEM hillshade, max "
                       "depth, hazard class 红橙黄蓝, arrival time, depth snapshots on a time slider, sections by "
                       "warning status with hydrographs, villages with affected counts, shelters, routes, typhoon. "
                       "Missing products are skipped and listed (exit 2 after writing the map).")
    m.add_argument("case", help="case folder (holding case.toml)")
    m.add_argument("--results", required=True, help="results folder written by `run` (forecast/, inundation/, ...)")
    m.add_argument("--out", required=True, help="HTML file to write")
    m.add_argument("--online-tiles", nargs="?", const="osm", default=None, metavar="osm|tianditu:KEY",
                   help="add an online tile layer (default off: the map needs no internet)")
    m.set_defaults(func=cmd_map)
    b = sub.add_parser("brief", help="briefing exports: 形势图, 指挥要素图 (PNG 300 dpi + PDF) and 一页纸 per village",
                       description="Writes 形势图.png/.pdf, 指挥要素图.png/.pdf and 一页纸/一页纸_<id>_<村>.pdf/.html. "
                       "Missing products are skipped and listed (exit 2 after writing).")
    b.add_argument("case", help="case folder (holding case.toml)")
    b.add_argument("--results", required=True, help="results folder written by `run`")
    b.add_argument("--out", required=True, help="folder to write the briefings into")
    b.add_argument("--paper", default="A4", choices=["A4", "A3"], help="landscape paper size of the maps")
    b.add_argument("--villages", default="affected", choices=["affected", "all"],
                   help="one-page plans for affected villages (default) or all villages")
    b.set_defaults(func=cmd_brief)


PARSER_HOOKS.append(_add_map_parsers)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FloodkitError as exc:
        if args.debug:
            raise
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the county office
        if args.debug:
            raise
        print(f"floodkit: unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
