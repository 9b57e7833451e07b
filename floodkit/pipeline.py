"""The whole chain as one run: stages in memory, products saved whole-stage-atomically, with provenance.

    case -> typhoon -> forecast -> inundation -> exposure -> plan -> map -> brief

:func:`run` computes the stages in that order (the typhoon stage only when the case has a track),
each from the in-memory products of the ones before it, and returns a :class:`Run`. With ``out`` it
also saves each stage as soon as it is computed: the stage writes into a hidden temporary folder
beside its final one, every file is stamped with the run id (see :mod:`floodkit.provenance`), and
the folder is renamed into place only when complete. An interrupted run therefore leaves the
stages that finished and no partial stage folder; ``run.json`` says which finished.

Folders are never mixed. A run into a folder that holds another run's products refuses (exit 2,
naming both runs) when those products would stay beside the new ones: a run of some stages only
(``stages=``) must not leave stages of the old run in place, and re-running a stage must re-run
every existing stage made from it. A whole run replaces the old run; the old products are kept in
``.superseded-<run id>/`` until the new run has finished.

A run of later stages only (e.g. ``stages=["map", "brief"]``) continues the run in ``out``: it reads
the earlier stages' products from there, checks that each belongs to that run, and keeps its run id.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from floodkit import api
from floodkit.provenance import (
    RunMismatch,
    case_checksums,
    changed_inputs,
    new_run_id,
    now_iso,
    read_manifest,
    run_id_of,
    stamp_folder,
    versions,
    write_manifest,
)
from floodkit.scenario import describe
from gis.atomic import writing_for_run
from gis.errors import InputError

STAGES = ("case", "typhoon", "forecast", "inundation", "exposure", "plan", "map", "brief")
RUNNABLE = STAGES[1:]  # the names --stages takes; "case" always runs
# what each stage reads (typhoon feeds the forecast only in a typhoon scenario)
READS: dict[str, tuple[str, ...]] = {
    "typhoon": (),
    "forecast": ("typhoon",),
    "inundation": ("forecast",),
    "exposure": ("inundation", "forecast"),
    "plan": ("exposure", "inundation"),
    "map": ("typhoon", "forecast", "inundation", "exposure", "plan"),
    "brief": ("typhoon", "forecast", "inundation", "exposure", "plan"),
}
FIRST_OF_A_NEW_RUN = ("typhoon", "forecast")  # a run that computes one of these makes new products from rain


def output_of(out: Path, stage: str) -> Path:
    """Where a stage's products live under a results folder (``map.html`` is one file)."""
    return out / "map.html" if stage == "map" else out / stage


def made_from(stage: str) -> set[str]:
    """Every stage that reads ``stage``'s products, directly or through other stages."""
    found, todo = set(), [stage]
    while todo:
        s = todo.pop()
        for t, reads in READS.items():
            if s in reads and t not in found:
                found.add(t)
                todo.append(t)
    return found


def parse_stages(text: str | list[str] | None) -> list[str] | None:
    """``--stages`` as a list in data-flow order; unknown names are refused, listing the valid ones."""
    if text is None or text == "" or text == []:
        return None
    names = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    bad = [s for s in names if s not in RUNNABLE and s != "case"]
    if bad:
        raise InputError("--stages", f"unknown stage{'s' if len(bad) > 1 else ''} {', '.join(repr(b) for b in bad)}",
                         f"use comma-separated names of: {','.join(RUNNABLE)}")
    return [s for s in RUNNABLE if s in names]


@dataclass
class Run:
    """One pass of the chain: the case, the scenario, every product computed, and its provenance.

    Products (None where a stage did not run): ``forecast`` (Dataset), ``warnings`` and
    ``thresholds`` (DataFrames), ``flood`` (inundation Dataset), ``exposure``
    (:class:`~gis.transfer_io.Exposure`), ``plan`` (:class:`~gis.transfer.TransferPlan`), ``typhoon``
    (:class:`~hydro.typhoon.products.TyphoonResult`), ``webmap`` (folium.Map). :meth:`save` writes them.
    """

    case: object
    run_id: str
    scenario: dict
    options: dict = field(default_factory=dict)
    forecast: xr.Dataset | None = None
    warnings: pd.DataFrame | None = None
    thresholds: pd.DataFrame | None = None
    flood: xr.Dataset | None = None
    exposure: object = None
    plan: object = None
    typhoon: object = None
    webmap: object = None
    webmap_html: str = ""
    stages: dict = field(default_factory=dict)  # name -> {"status", "seconds", "finished_at", "note"}
    created: str = field(default_factory=now_iso)
    inputs: dict = field(default_factory=dict)  # case file -> sha256
    out: Path | None = None
    rain_data: object = None  # rain given in memory (DataFrame / DataArray / Dataset), not in run.json

    # ------------------------------------------------------------------ views
    def __repr__(self) -> str:
        done = ", ".join(k for k, v in self.stages.items() if v.get("status") == "finished") or "none"
        return (f"<floodkit Run {self.run_id}: case {getattr(self.case, 'name', '?')}, "
                f"{self.scenario.get('label_zh', '')}; stages finished: {done}>")

    def results(self):
        """The products as the maps and briefings read them (:class:`gis.mapdata.Results`)."""
        # the typhoon is drawn only when the run's rain came from it (a design-storm run is not that typhoon)
        typhoon = self.typhoon if self.scenario.get("kind") == "typhoon" else None
        return api.results(self.case, self.forecast, self.flood, self.exposure, self.plan, typhoon,
                           self.warnings, self.thresholds, scenario=self.scenario, run_id=self.run_id)

    def manifest(self) -> dict:
        """The run's ``run.json``: id, case and input checksums, scenario, stages, options, versions."""
        case = self.case
        return {
            "run_id": self.run_id,
            "created": self.created,
            "case": {"name": getattr(case, "name", ""), "title": getattr(case, "title", ""),
                     "path": str(getattr(case, "root", "")), "synthetic": bool(getattr(case, "synthetic", False)),
                     "inputs_sha256": self.inputs},
            "scenario": self.scenario,
            "stages": self.stages,
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in self.options.items()},
            "versions": versions(),
        }

    # ------------------------------------------------------------------ saving
    def save(self, out: str | Path, stages: list[str] | None = None) -> Path:
        """Write every computed stage (or ``stages``) into ``out``, each stage folder atomically, and
        ``run.json``. Refuses a folder that holds another run's products (see the module docstring)."""
        out = Path(out)
        todo = [s for s in (stages or RUNNABLE) if self._has(s)]
        prepare_folder(out, self, todo, whole=stages is None)
        for s in todo:
            save_stage(self, s, out)
        finish_folder(out, self)
        return out

    def _has(self, stage: str) -> bool:
        return {"typhoon": self.typhoon, "forecast": self.forecast, "inundation": self.flood,
                "exposure": self.exposure, "plan": self.plan, "map": self.webmap_html or None,
                "brief": self.forecast if self.stages.get("brief") else None}.get(stage) is not None


# ----------------------------------------------------------------------------- folder rules
def existing_stages(out: Path) -> list[str]:
    return [s for s in RUNNABLE if output_of(out, s).exists()]


def prepare_folder(out: Path, run: Run, stages: list[str], whole: bool) -> None:
    """Check that saving ``stages`` of ``run`` into ``out`` mixes no runs; move a replaced run aside."""
    out.mkdir(parents=True, exist_ok=True)
    old = read_manifest(out)
    have = existing_stages(out)
    old_id = (old or {}).get("run_id")
    label = f" ({(old or {}).get('scenario', {}).get('label_zh', '')})" if old else ""
    if old_id and old_id != run.run_id:
        stay = [s for s in have if s not in stages]
        if stay and not whole:
            raise RunMismatch(str(out), f"holds run {old_id}{label} whose {', '.join(stay)} this run "
                              f"({run.run_id}, {run.scenario.get('label_zh', '')}) would leave beside its own "
                              f"{', '.join(stages) or 'products'}",
                              "use a new --out folder, or run every stage (omit --stages)")
        aside = out / f".superseded-{old_id}"
        aside.mkdir(exist_ok=True)
        for s in have:
            os.replace(output_of(out, s), aside / output_of(out, s).name)
        if (out / "run.json").exists():
            os.replace(out / "run.json", aside / "run.json")
    else:
        stale = sorted({t for s in stages for t in made_from(s) if t in have and t not in stages},
                       key=STAGES.index)
        if stale:
            raise RunMismatch(str(out), f"re-running {', '.join(stages)} would leave {', '.join(stale)} made from the "
                              f"old {'/'.join(s for s in stages if made_from(s) & set(stale))} of run {old_id or '?'}",
                              f"add {','.join(stale)} to --stages, or use a new --out folder")
    run.out = out
    write_manifest(out, run.manifest())


def finish_folder(out: Path, run: Run) -> None:
    write_manifest(out, run.manifest())
    for p in out.glob(".superseded-*"):
        if p.name != f".superseded-{run.run_id}":
            shutil.rmtree(p, ignore_errors=True)


def save_stage(run: Run, stage: str, out: Path) -> None:
    """Write one stage into a temporary folder, stamp it with the run id, rename it into place."""
    target = output_of(out, stage)
    if stage == "map":
        from gis.atomic import write_text

        write_text(target, run.webmap_html)
        run.stages.setdefault(stage, {})["files"] = [target.name]
        return
    tmp = out / f".{stage}.part-{run.run_id}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        with writing_for_run(run.run_id):
            WRITERS[stage](run, tmp)
        files = stamp_folder(tmp, run.run_id, stage)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        run.stages.setdefault(stage, {})["files"] = files
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _write_typhoon(run: Run, folder: Path) -> None:
    run.typhoon.write(folder)


def _write_forecast(run: Run, folder: Path) -> None:
    from hydro.forecast import write_products

    write_products(run.case, run.forecast, folder, thresholds=run.thresholds, warnings=run.warnings,
                   condition=str(run.options.get("state", "normal")))


def _write_inundation(run: Run, folder: Path) -> None:
    from hydro.inundation.outputs import write_dataset_products

    write_dataset_products(run.flood, folder)


def _write_exposure(run: Run, folder: Path) -> None:
    from gis.transfer_io import write_exposure

    write_exposure(run.exposure, folder, mask=bool(run.options.get("mask_personal")))


def _write_plan(run: Run, folder: Path) -> None:
    from gis.transfer_io import write_plan

    write_plan(run.plan, folder, mask=bool(run.options.get("mask_personal")))


def _write_brief(run: Run, folder: Path) -> None:
    from gis.briefing import write_briefings

    write_briefings(run.case, run.results(), folder, paper=run.options.get("paper", "A4"),
                    villages=run.options.get("villages", "affected"))


WRITERS = {"typhoon": _write_typhoon, "forecast": _write_forecast, "inundation": _write_inundation,
           "exposure": _write_exposure, "plan": _write_plan, "brief": _write_brief}


# ----------------------------------------------------------------------------- the stages
def default_scenario(case, rain, design_storm, has_typhoon: bool) -> tuple[object, str | None, bool]:
    """``(rain, design_storm, typhoon_rain)`` when none was given: case.toml ``[run] scenario``
    (an event, ``design:<name>`` or ``typhoon``), else the case's heaviest event."""
    if rain is not None or design_storm is not None:
        return rain, design_storm, False
    scenario = str(case.config.get("run", {}).get("scenario", ""))
    if scenario.startswith("design:"):
        return None, scenario.removeprefix("design:"), False
    if scenario == "typhoon":
        if not has_typhoon:
            raise InputError("case.toml", "[run] scenario = \"typhoon\" but there is no [typhoon] track",
                             "add the track or choose another scenario")
        return None, None, True
    if scenario:
        return scenario, None, False
    if case.events:
        return max(case.events, key=lambda k: float(case.events[k].sum().max())), None, False
    return None, None, False


def _stage_typhoon(run: Run, say) -> str | None:
    from hydro.typhoon.products import case_track_path, compute_typhoon

    track = run.options.get("track") or case_track_path(run.case.root)
    if track is None:
        return "no [typhoon] track in case.toml; skipped"
    run.typhoon = compute_typhoon(track, run.case, None, say=say)
    return f"triggers fired: {', '.join(run.typhoon.summary['triggers_fired']) or 'none'}"


def _stage_forecast(run: Run, say) -> str | None:
    from hydro.forecast import peak_lines

    o = run.options
    sc = run.scenario
    if sc["kind"] == "none":
        return "no rainfall given and none in the case; skipped"
    if sc["kind"] == "typhoon":
        if run.typhoon is None:
            raise InputError("--stages", "the typhoon scenario needs the typhoon stage", "add typhoon to --stages")
        rain = run.typhoon.rain["rain_mm_per_h"]
        rain.attrs.setdefault("issue_time", str(pd.Timestamp(rain["time"].values[0]).isoformat()))
        storm = None
    else:
        rain = run.rain_data if run.rain_data is not None else (
            sc.get("path") or (sc["name"] if sc["kind"] == "event" else None))
        storm = sc["name"] if sc["kind"] == "design_storm" else None
    say(f"  rain: {sc['label_zh']}")
    run.forecast = api.forecast(run.case, rain, design_storm=storm, nowcast=o.get("nowcast"),
                                state=o.get("state", "normal"), members=int(o.get("members", 0)),
                                sigma=float(o.get("sigma", 0.5)), tail_h=int(o.get("tail", 24)),
                                method=o.get("areal", "thiessen"), step_min=o.get("step"),
                                observed=o.get("observed"))
    if sc["kind"] == "typhoon":
        run.forecast.attrs["scenario"], run.forecast.attrs["scenario_kind"] = sc["label_zh"], "typhoon"
    if sc["kind"] != "design_storm":
        sc["issue_time"] = str(run.forecast.attrs.get("issue_time", ""))
    run.warnings, run.thresholds = api.warnings(run.case, run.forecast)
    for line in peak_lines(run.forecast):
        say(line)
    return None


def _stage_inundation(run: Run, say) -> str | None:
    from hydro.inundation.run import inundate_case

    storm = run.scenario["name"] if run.scenario["kind"] == "design_storm" else "50y"
    run.flood = inundate_case(run.case, run.forecast, say=say, storm=storm,
                              duration_s=run.options.get("duration_s"), backend=run.options.get("backend", "cpu"))
    if run.flood is None:
        return "no forecast and no design storm; skipped"
    run.flood.attrs["scenario"] = run.scenario.get("label_zh", "")
    return None


def _stage_exposure(run: Run, say) -> str | None:
    if run.flood is None and run.forecast is None:
        return "no inundation and no forecast; skipped"
    if run.flood is None:
        say("  no 2-D inundation product: quick exposure from the forecast only")
    run.exposure = api.expose(run.case, run.flood, run.forecast, population=run.options.get("population"))
    s = run.exposure.summary
    if s.get("mode") == "2-D inundation":
        say(f"  {s['persons_exposed']} persons exposed in {s['villages_affected']} villages")
    if "quick" in s:
        say(f"  quick exposure: {s['quick']['villages_affected']} villages reach their flood level "
            f"(first {s['quick']['first']})")
    return None


def _stage_plan(run: Run, say) -> str | None:
    if run.flood is None:
        return "no 2-D inundation product; no transfer plan (see exposure/quick_exposure.csv)"
    o = run.options
    run.plan = api.plan(run.case, run.exposure, run.flood, roads=o.get("roads"), depart=o.get("depart"),
                        mode=o.get("mode", "walk"), margin_min=float(o.get("margin", 30.0)),
                        cut_depth_m=float(o.get("cut_depth", 0.3)), horizon_min=float(o.get("horizon", 30.0)))
    for w in run.plan.warnings:
        say(f"  warning: {w}")
    s = run.plan.summary
    say(f"  {s['assigned_persons']} of {s['persons']} persons placed; {s['unplaced_persons']} unplaced")
    return None


def _stage_map(run: Run, say) -> str | None:
    from gis.mapdata import check_wgs84
    from gis.webmap import build_webmap

    check_wgs84(run.case.crs)
    res = run.results()
    if res.missing:
        say(f"  note: drawn without {', '.join(res.missing)} (not made in this run)")
    rep = build_webmap(run.case, res, None, online_tiles=run.options.get("online_tiles"))
    run.webmap, run.webmap_html = rep.map, rep.html
    say(f"  web map: {rep.size_bytes / 1e6:.1f} MB, {len(rep.layers)} layers, offline")
    return None


def _stage_brief(run: Run, say) -> str | None:
    from gis.mapdata import check_wgs84

    check_wgs84(run.case.crs)
    return None  # briefings are files: written when the run is saved


COMPUTE = {"typhoon": _stage_typhoon, "forecast": _stage_forecast, "inundation": _stage_inundation,
           "exposure": _stage_exposure, "plan": _stage_plan, "map": _stage_map, "brief": _stage_brief}


def _name_run(r: Run, stage: str) -> None:
    """Every in-memory product records the run that made it (attrs ``run_id``)."""
    for obj in {"forecast": (r.forecast, r.warnings, r.thresholds), "inundation": (r.flood,),
                "typhoon": (getattr(r.typhoon, "rain", None),)}.get(stage, ()):
        if obj is not None:
            obj.attrs["run_id"] = r.run_id
    if stage == "exposure" and r.exposure is not None:
        r.exposure.summary["run_id"] = r.run_id
        for t in (r.exposure.households, r.exposure.villages, r.exposure.towns, r.exposure.visitors):
            if t is not None:
                t.attrs["run_id"] = r.run_id
    if stage == "plan" and r.plan is not None:
        r.plan.summary["run_id"] = r.run_id
        r.plan.parties.attrs["run_id"] = r.run_id


# ----------------------------------------------------------------------------- reading a run back
def _check(run: Run, path: Path) -> Path:
    rid = run_id_of(path)
    if rid is not None and rid != run.run_id:
        raise RunMismatch(str(path.relative_to(path.parents[1])),
                          f"belongs to run {rid}, not to run {run.run_id} recorded in run.json",
                          "rerun the stages that make it (python cli.py run CASE --out DIR) or use a new --out")
    return path


def load_products(run: Run, out: Path, stages: list[str]) -> None:
    """Fill ``run`` with the products of ``stages`` found under ``out`` (each checked against the run id)."""
    import geopandas as gpd

    if "forecast" in stages and (out / "forecast" / "forecast.nc").is_file():
        with xr.open_dataset(_check(run, out / "forecast" / "forecast.nc")) as f:
            run.forecast = f.load()
        for name in ("warnings", "thresholds"):
            p = out / "forecast" / f"{name}.csv"
            if p.is_file():
                df = pd.read_csv(_check(run, p), encoding="utf-8-sig")
                for c in ("peak_time", "prepare_time", "move_time"):
                    if c in df:
                        df[c] = pd.to_datetime(df[c], errors="coerce")
                setattr(run, name, df)
    if "inundation" in stages and (out / "inundation" / "inundation.nc").is_file():
        from gis.transfer_io import open_inundation

        run.flood = open_inundation(_check(run, out / "inundation" / "inundation.nc"), run.case.crs).load()
    if "exposure" in stages and (out / "exposure").is_dir():
        from gis.transfer_io import read_exposure

        _check(run, out / "exposure" / "summary.json")
        run.exposure = read_exposure(out / "exposure")
    if "plan" in stages and (out / "plan" / "plan.gpkg").is_file():
        import pyogrio

        from gis.transfer import TransferPlan

        p = _check(run, out / "plan" / "plan.gpkg")
        layers = {row[0] for row in pyogrio.list_layers(p)}
        read = {k: gpd.read_file(p, layer=k, engine="pyogrio") if k in layers else None
                for k in ("households", "routes", "shelters")}
        summary = json.loads((out / "plan" / "summary.json").read_text(encoding="utf-8"))
        run.plan = TransferPlan(read["households"], read["routes"], read["shelters"], summary)
    if "typhoon" in stages and (out / "typhoon" / "track.geojson").is_file():
        from hydro.typhoon.products import TyphoonResult

        t = out / "typhoon"
        _check(run, t / "summary.json")
        track = gpd.read_file(t / "track.geojson")
        circles = gpd.read_file(t / "circles.geojson") if (t / "circles.geojson").is_file() else None
        summary = json.loads((t / "summary.json").read_text(encoding="utf-8"))
        run.typhoon = TyphoonResult(summary, None, track.iloc[1:], track.iloc[:1], circles, lambda _: None)


# ----------------------------------------------------------------------------- run
def _quiet(_: str) -> None:
    pass


def run(case, rain=None, *, design_storm: str | None = None, stages: list[str] | str | None = None,
        out: str | Path | None = None, say=_quiet, **options) -> Run:
    """Run the chain on ``case`` for one scenario, in memory; with ``out``, save each stage as it finishes.

    ``rain`` / ``design_storm`` as for :func:`floodkit.forecast` (default: case.toml ``[run]
    scenario``). ``stages``: a subset of ``typhoon, forecast, inundation, exposure, plan, map, brief``
    (default all). Other keywords are the stages' options: ``state``, ``members``, ``sigma``,
    ``tail``, ``nowcast``, ``areal``, ``duration_s``, ``backend``, ``population``, ``roads``,
    ``depart``, ``mode``, ``margin``, ``cut_depth``, ``horizon``, ``mask_personal``, ``paper``,
    ``villages``, ``online_tiles``. Returns the :class:`Run`; ``run.save(dir)`` writes it.
    """
    t_case = time.perf_counter()
    case = api._case(case)
    api.check_rain_name(case, rain)
    chosen = parse_stages(stages)
    selected = chosen or list(RUNNABLE)
    out = Path(out) if out is not None else None
    old = read_manifest(out) if out is not None else None
    inputs = case_checksums(case.root)
    has_track = bool(case.config.get("typhoon", {}).get("track"))
    continuing = (chosen is not None and old is not None and not set(selected) & set(FIRST_OF_A_NEW_RUN))
    if continuing:
        scenario = dict(old.get("scenario") or {})
        asked = describe(case, rain=rain, design_storm=design_storm) if (rain or design_storm) else None
        if asked and (asked["kind"], asked["name"]) != (scenario.get("kind"), scenario.get("name")):
            raise RunMismatch(str(out), f"holds run {old['run_id']} ({scenario.get('label_zh', '')}), not "
                              f"{asked['label_zh']}", "run the forecast too, or use a new --out folder")
        changed = changed_inputs(old.get("case", {}).get("inputs_sha256", {}), inputs)
        if changed:
            raise RunMismatch(str(out), f"run {old['run_id']} was made from other case files "
                              f"({', '.join(changed[:3])}{' …' if len(changed) > 3 else ''} changed since)",
                              "rerun every stage (omit --stages) or use a new --out folder")
        r = Run(case, old["run_id"], scenario, {**old.get("options", {}), **options},
                stages=dict(old.get("stages", {})), created=old.get("created", now_iso()), inputs=inputs)
        load_products(r, out, [s for s in RUNNABLE if s not in selected])
    else:
        rain, design_storm, typhoon_rain = default_scenario(case, rain, design_storm, has_track)
        if typhoon_rain:
            name = Path(str(case.config["typhoon"]["track"])).stem
            scenario = describe(case, typhoon=name)
        else:
            scenario = describe(case, rain=rain, design_storm=design_storm)
        r = Run(case, new_run_id(), scenario, dict(options), inputs=inputs)
        if rain is not None and not isinstance(rain, str | Path):
            r.rain_data = rain
        if out is not None and chosen is not None and old is None:
            # products made outside a floodkit run (no run.json) may be given as the earlier stages
            load_products(r, out, [s for s in RUNNABLE if s not in selected and s in existing_stages(out)])
    r.stages["case"] = {"status": "finished", "seconds": round(time.perf_counter() - t_case, 2)}
    if out is not None:
        prepare_folder(out, r, selected, whole=chosen is None)
    current = None
    try:
        for name in RUNNABLE:
            if name not in selected:
                continue
            current = name
            t0 = time.perf_counter()
            say(f"== {name}")
            note = COMPUTE[name](r, say)
            _name_run(r, name)
            entry = {"status": "skipped" if note and "skipped" in note or note and "no transfer plan" in note
                     else "finished", "seconds": None}
            if note:
                say(f"  {note}")
                entry["note"] = note
            if out is not None and entry["status"] == "finished" and (r._has(name) or name == "brief"):
                save_stage(r, name, out)
            entry["seconds"] = round(time.perf_counter() - t0, 2)
            entry["finished_at"] = now_iso()
            r.stages[name] = {**r.stages.get(name, {}), **entry}
            if out is not None:
                write_manifest(out, r.manifest())
            say(f"   {name} {entry['status']} in {entry['seconds']:.1f} s")
            current = None
    except BaseException:
        if current is not None:
            r.stages[current] = {"status": "interrupted" , "at": now_iso()}
            if out is not None:
                write_manifest(out, r.manifest())
        raise
    if out is not None:
        finish_folder(out, r)
    return r


def open_run(out: str | Path) -> Run:
    """A saved run back in memory (its case reloaded from the path in run.json)."""
    out = Path(out)
    m = read_manifest(out)
    if m is None:
        raise InputError(str(out), "has no run.json", "give the --out folder of `python cli.py run`")
    r = Run(api.load_case(m["case"]["path"]), m["run_id"], m.get("scenario", {}), m.get("options", {}),
            stages=m.get("stages", {}), created=m.get("created", ""), inputs=m["case"].get("inputs_sha256", {}))
    load_products(r, out, list(RUNNABLE))
    return r
