"""The stages of the chain as functions from products to products, in memory.

    rain -> forecast -> inundation -> exposure -> transfer plan -> maps and briefings

Each function takes the case and the products of the stages before it and returns plain objects:
xarray Datasets (forecast, inundation) and GeoDataFrames (exposure, plan), with units in their
names and attributes and the CRS on the geometry. Nothing here writes a file; see
:mod:`floodkit.pipeline` (``Run.save``) and the ``write_*`` functions for that.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

from gis.case import Case
from gis.errors import InputError


def _quiet(_: str) -> None:
    pass


def load_case(path: str | Path) -> Case:
    """Load and validate a case folder (``case.toml`` and its layers); see README, "The case format".

    Raises :class:`gis.errors.CaseError` listing every problem, one line each.
    """
    from gis.case import load_case as _load

    return _load(path)


def use_cjk_font() -> str:
    """Make matplotlib draw Chinese (一都, 警戒水位 …) with the font floodkit ships (Noto Sans SC, from
    the ``pylopdf-fonts-zh-cn`` dependency), not a system font; call it once before plotting, e.g.
    in a notebook's first cell. Returns the family name."""
    from gis.fonts import use_cjk_font as _use

    return _use()


def _case(case) -> Case:
    return case if isinstance(case, Case) else load_case(case)


def event_names(case) -> list[str]:
    """The rainfall events a case ships (``[rainfall] events`` in case.toml)."""
    return list(getattr(_case(case), "events", {}) or {})


def check_rain_name(case, rain) -> None:
    """Refuse a rain argument that is neither an existing file nor an event of the case, listing the events."""
    if rain is None or isinstance(rain, pd.DataFrame | xr.DataArray | xr.Dataset):
        return
    case = _case(case)
    if str(rain) in (case.events or {}) or Path(rain).exists():
        return
    names = ", ".join(case.events) if case.events else "none"
    raise InputError("--rain", f"'{rain}' is neither a file nor an event of case {case.name}",
                     f"give a rain CSV/NetCDF/GeoTIFF or one of the case's events: {names}")


def forecast(case, rain=None, *, design_storm: str | None = None, nowcast: str | Path | None = None,
             state: str = "normal", members: int = 0, sigma: float = 0.5, tail_h: int = 24,
             method: str = "thiessen", step_min: float | str | None = None,
             observed: str | Path | None = None) -> xr.Dataset:
    """Water-level forecast at the case's sections (Xinanjiang, Nash UH, Muskingum-Cunge, Manning stage).

    Give exactly one of ``rain`` (gauge CSV, rain grid NetCDF/GeoTIFF, an event name of the case, a
    DataFrame of hourly gauge rain, or a rain grid in memory such as ``fk.typhoon(case).rain``) and
    ``design_storm`` (a name of design_storms.csv, e.g. "50y").
    Returns a Dataset with ``discharge`` (m3/s), ``stage`` (m), ``velocity`` (m/s), ``depth`` (m) on
    ``(time, section)``, ``rain_mm_per_h`` on ``(time, subbasin)``, the sections' warning and danger
    levels as coordinates, and attrs ``issue_time`` and ``scenario``. ``step_min``: any regular
    step of 5-60 minutes (default: the rain's own, hourly for design storms); ``observed``: a CSV of
    observed stages/discharges at sections for real-time correction (corrected and uncorrected side
    by side). See :func:`warnings` for the warning table.
    """
    from hydro.forecast import forecast_case

    case = _case(case)
    if (rain is None) == (design_storm is None):
        raise InputError("forecast", "give exactly one of rain and design_storm", "e.g. design_storm='50y'")
    check_rain_name(case, rain)
    from hydro.rainfall import parse_step

    step = parse_step(step_min) if isinstance(step_min, str) else step_min
    if isinstance(rain, xr.Dataset):  # a rain grid Dataset in memory, e.g. fk.typhoon(case).rain
        var = next((v for v in ("rain_mm_per_h", "precipitation") if v in rain), None)
        if var is None:
            raise InputError("rain", "the Dataset has no `rain_mm_per_h` or `precipitation` variable",
                             "pass a rain grid in mm/h on (time, y, x)")
        grid = rain[var].copy(deep=False)
        grid.attrs = {**rain.attrs, **rain[var].attrs}  # the Dataset's issue_time and source
        rain = grid
    ds = forecast_case(case, rain=rain, design_storm=design_storm, nowcast=nowcast, state=state, members=members,
                       sigma=sigma, tail_h=tail_h, method=method, step_min=step, observed=observed)
    from floodkit.scenario import describe

    sc = describe(case, rain=rain, design_storm=design_storm, nowcast=nowcast, issue_time=ds.attrs.get("issue_time"))
    ds.attrs["scenario"] = sc["label_zh"]
    ds.attrs["scenario_kind"] = sc["kind"]
    return ds


def warnings(case, fc: xr.Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The forecast's warning table (per section and village: crossings of 警戒/危急 and the village
    levels, lead times, action 准备转移/立即转移, rain against critical rainfall) and the critical-rainfall
    table; ``(warnings, thresholds)`` with the columns of :data:`gis.schema.WARNINGS`."""
    from hydro.forecast import warning_tables

    return warning_tables(_case(case), fc)


def inundate(case, fc: xr.Dataset | None = None, *, design_storm: str = "50y", duration_s: float | None = None,
             output_interval_s: float = 1800.0, backend: str = "cpu", say=_quiet) -> xr.Dataset:
    """2-D inundation of the case's valley floor (local-inertial scheme), forced by the forecast ``fc``
    (discharge at the sections and rain on the grid), or by ``design_storm`` rain alone without one.

    Returns a Dataset on ``(y, x)`` with ``max_depth_m``, ``max_speed_m_per_s``, ``arrival_time_s``,
    ``duration_s``, ``time_of_max_depth_s``, depth snapshots ``depth_m`` on ``time`` every
    ``output_interval_s``, the water balance (``balance_*``), the CRS (``.rio.crs``) and the run
    summary (attr ``summary_json``). ``duration_s`` defaults to one hour past the peak at the last
    section (at most 12 h).
    """
    from hydro.inundation.run import inundate_case

    case = _case(case)
    ds = inundate_case(case, fc, say=say, storm=design_storm, duration_s=duration_s,
                       output_interval_s=output_interval_s, backend=backend)
    if ds is None:
        raise InputError("inundate", "no forecast given and the case has no design storm "
                         f"'{design_storm}'", "pass fc= or a design_storm of design_storms.csv")
    if fc is not None and fc.attrs.get("scenario"):
        ds.attrs["scenario"] = fc.attrs["scenario"]
    return ds


def expose(case, flood: xr.Dataset | None, fc: xr.Dataset | None = None, *, population: str | Path | None = None):
    """Households, visitor sites, villages and towns reached by the flood (max depth, speed, arrival,
    duration, hazard class 红橙黄蓝 by the Defra/EA rating), as an
    :class:`~gis.transfer_io.Exposure` of GeoDataFrames; with ``fc`` also the quick exposure (villages
    whose control section reaches their flood level). ``population``: a persons-per-cell GeoTIFF used
    instead of the household register."""
    from gis.transfer_io import compute_exposure

    return compute_exposure(_case(case), flood, fc, population)


def plan(case, exposure, flood: xr.Dataset, *, roads: str | Path | None = None, depart: str | None = None,
         mode: str = "walk", margin_min: float = 30.0, cut_depth_m: float = 0.3, horizon_min: float = 30.0):
    """Transfer plan: every exposed person to a shelter with room, over the roads the flood has not cut
    (HiGHS integer/linear programme, vulnerable people first), with routes, deadlines (latest safe
    departure) and the unplaced with their reason. Returns a :class:`~gis.transfer.TransferPlan`
    (``parties``, ``routes``, ``shelters``: GeoDataFrames; ``summary``)."""
    from gis.transfer_io import compute_plan

    return compute_plan(_case(case), flood, exposure, roads=Path(roads) if roads else None, depart=depart,
                        mode=mode, margin_min=margin_min, cut_depth_m=cut_depth_m, horizon_min=horizon_min)


def typhoon(case, track: str | Path | None = None, *, fmt: str = "auto", storm: str | None = None,
            rules: str | Path | None = None, rain_res_m: float = 1000.0):
    """Typhoon wind at villages, wind-circle timing, R-CLIPER rain and insurance triggers from a track
    (default: the case's ``[typhoon] track``). Returns a :class:`~hydro.typhoon.products.TyphoonResult`."""
    from hydro.typhoon.products import case_track_path, compute_typhoon

    case = _case(case)
    track = track or case_track_path(case.root)
    if track is None:
        raise InputError("case.toml", "no typhoon track given and none under [typhoon]", "pass track=PATH")
    return compute_typhoon(track, case, None, fmt=fmt, storm=storm, rules_path=rules, rain_res_m=rain_res_m,
                           say=_quiet)


def results(case=None, fc: xr.Dataset | None = None, flood: xr.Dataset | None = None, exposure=None, plan=None,
            typhoon=None, warnings: pd.DataFrame | None = None, thresholds: pd.DataFrame | None = None,
            scenario: dict | None = None, run_id: str | None = None):
    """The products in memory as the maps and briefings read them (:class:`gis.mapdata.Results`)."""
    from gis.mapdata import PERSONAL_COLUMNS, PRODUCTS, Results

    def public(df):
        if df is None:
            return None
        return df.drop(columns=[c for c in df.columns if str(c).lower() in PERSONAL_COLUMNS])

    if fc is not None and warnings is None and case is not None:
        warnings, thresholds = globals()["warnings"](case, fc)
    res = Results(root=Path("."), forecast=fc, warnings=warnings, thresholds=thresholds, inundation=flood,
                  run_id=run_id, scenario=scenario)
    if exposure is not None:
        res.villages = exposure.villages
        res.households = public(exposure.households)
    if plan is not None:
        res.plan, res.routes, res.shelters = public(plan.parties), plan.routes, plan.shelters
    if typhoon is not None:
        res.typhoon_track, res.typhoon_circles = typhoon.track, typhoon.circles
    have = {"forecast": fc, "warnings": warnings, "thresholds": thresholds, "inundation": flood,
            "villages": res.villages, "households": res.households, "plan": res.plan, "plan_gpkg": res.plan}
    res.missing = [PRODUCTS[k] for k, v in have.items() if v is None]
    return res


def webmap(case, fc: xr.Dataset | None = None, flood: xr.Dataset | None = None, exposure=None, plan=None,
           typhoon=None, *, path: str | Path | None = None, online_tiles: str | None = None):
    """The offline web map (folium): hillshade, max depth, hazard class, arrival, depth snapshots on a
    time slider, sections by warning status with hydrographs, villages, shelters, routes, typhoon.
    Returns the ``folium.Map`` (shown inline in Jupyter); with ``path`` also writes the one-file HTML."""
    from gis.webmap import build_webmap

    case = _case(case)
    res = results(case, fc, flood, exposure, plan, typhoon)
    if fc is not None and fc.attrs.get("scenario_kind"):
        res.scenario = {"kind": fc.attrs["scenario_kind"], "label_zh": fc.attrs.get("scenario", "")}
    return build_webmap(case, res, path, online_tiles=online_tiles).map


def briefings(case, out_dir: str | Path, fc: xr.Dataset | None = None, flood: xr.Dataset | None = None,
              exposure=None, plan=None, typhoon=None, *, paper: str = "A4", villages: str = "affected"):
    """Write the briefing exports (形势图, 指挥要素图 as PNG 300 dpi + PDF, 一页纸 per village) into
    ``out_dir``; returns the :class:`~gis.briefing.BriefingReport`."""
    from gis.briefing import write_briefings

    case = _case(case)
    res = results(case, fc, flood, exposure, plan, typhoon)
    if fc is not None and fc.attrs.get("scenario_kind"):
        res.scenario = {"kind": fc.attrs["scenario_kind"], "label_zh": fc.attrs.get("scenario", "")}
    return write_briefings(case, res, out_dir, paper=paper, villages=villages)
