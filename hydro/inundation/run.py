"""Wiring for the command line: ``simulate`` (files in, products out) and the ``inundation`` stage
of ``python cli.py run`` (sample case, forecast hydrographs and rain)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gis.errors import InputError

from .forcing import Hydrograph, Rain
from .io import check_same_grid, location_cells, read_hydrographs, read_rain, read_raster, value_or_raster
from .outputs import product_dataset, write_dataset_products, write_products
from .simulation import Simulation, SimulationOptions


def simulate_files(dem_path: str, out_dir: str, duration_s: float, manning: str = "0.05",
                   initial_depth: str = "0", rain: str | None = None, inflow: str | None = None,
                   stage: str | None = None, boundary: str = "closed", output_interval_s: float | None = None,
                   summary_json: str | None = None, runoff_coefficient: float = 1.0, loss_mm_per_h: float = 0.0,
                   alpha: float = 0.7, froude_max: float = SimulationOptions.froude_max,
                   kinematic_courant: float = SimulationOptions.kinematic_courant,
                   stats_interval: float = SimulationOptions.stats_interval,
                   lts_levels: int = SimulationOptions.lts_levels, dtype: str = "float32",
                   start_time: str | None = None,
                   checkpoint: str | None = None, hot_start: str | None = None, progress: bool = True,
                   say: Callable[[str], None] = print, backend: str = "cpu") -> dict:
    """Run the 2-D model from files and write the products into ``out_dir``; return the summary.

    ``backend`` is "cpu", "cuda" or "auto" (see :class:`~hydro.inundation.simulation.Simulation`).

    Every input is read and checked before anything is written, so bad input leaves no output.
    """
    if not duration_s > 0:
        raise InputError("--duration", f"{duration_s:g} s is not positive", "give the simulated time in seconds (> 0)")
    if output_interval_s is not None and not output_interval_s > 0:
        raise InputError("--output-interval", f"{output_interval_s:g} s is not positive", "give seconds > 0")
    if not 0 < alpha <= 1:
        raise InputError("--alpha", f"{alpha} is not in (0, 1]", "use 0.7 (Bates et al. 2010)")
    if not froude_max > 0:
        raise InputError("--froude-max", f"{froude_max} is not positive", "use 0.8 (see README, '2-D inundation')")
    if not 0 <= kinematic_courant <= 1:
        raise InputError("--kinematic-courant", f"{kinematic_courant} is not in [0, 1]",
                         "use 0.9 (0 turns the condition off, see README, '2-D inundation')")
    if not stats_interval >= 0:
        raise InputError("--stats-interval", f"{stats_interval:g} s is negative", "give seconds >= 0 (0: every step)")
    if not 0 <= runoff_coefficient <= 1:
        raise InputError("--runoff-coefficient", f"{runoff_coefficient} is not in [0, 1]", "use e.g. 0.6")
    if loss_mm_per_h < 0:
        raise InputError("--loss", f"{loss_mm_per_h} mm/h is negative", "give an infiltration loss >= 0")
    dem = read_raster(dem_path, "DEM")
    if dem.rio.crs is None:
        say(f"warning: {Path(dem_path).name} has no CRS; outputs will have none")
    t = dem.rio.transform()
    if abs(t.b) > 0 or abs(t.d) > 0 or t.e >= 0:
        raise InputError(dem_path, "the DEM is rotated or not north-up", "warp it to a north-up grid")
    n = value_or_raster(manning, dem, "Manning n")
    n_valid = np.asarray(n) if np.ndim(n) == 0 else np.asarray(n)[np.isfinite(dem.values)]
    if not np.all(np.nan_to_num(n_valid, nan=-1.0) > 0):
        raise InputError(manning if np.ndim(n) else "--manning", "Manning n must be > 0 on every valid cell",
                         "use e.g. 0.03 (channels) to 0.1 (forest)")
    h0 = value_or_raster(initial_depth, dem, "initial depth")
    if np.any(np.nan_to_num(np.asarray(h0)[np.isfinite(dem.values)] if np.ndim(h0) else h0) < 0):
        raise InputError(initial_depth, "initial depth is negative", "depths must be >= 0")
    start = pd.Timestamp(start_time) if start_time else None
    rain_f = read_rain(rain, dem, runoff_coefficient, loss_mm_per_h, start) if rain else None
    inflows = read_hydrographs(inflow, dem, "inflow", start) if inflow else []
    stages = read_hydrographs(stage, dem, "stage", start) if stage else []
    opts = SimulationOptions(alpha=alpha, froude_max=froude_max, kinematic_courant=kinematic_courant,
                             stats_interval=stats_interval, lts_levels=lts_levels, dtype=dtype)
    sim = Simulation(dem.values, abs(t.a), abs(t.e), n, h0, rain=rain_f, inflows=inflows, stages=stages,
                     boundary=boundary, options=opts, transform=t, backend=backend)
    if sim.backend_notice:
        say(sim.backend_notice)
    if hot_start:
        sim.load_checkpoint(hot_start)
        say(f"hot start from {hot_start} at t = {sim.t:g} s")
    say(f"2-D run: {sim.n_valid:,} cells at {abs(t.a):g} m, {duration_s:g} s, boundary {boundary}, "
        f"{len(inflows)} inflow(s), {len(stages)} stage line(s), rain {'yes' if rain_f else 'no'}, backend {sim.backend}")
    sim.run(duration_s, output_interval_s, progress=progress, checkpoint_path=checkpoint)
    write_products(sim, out_dir, t, dem.rio.crs, start_time, summary_json)
    s = sim.summary()
    lts = f" ({s['lts_cycles']} cycles of local steps, work {s['lts_work_fraction']:.2f})" if s["lts_levels"] > 1 else ""
    say(f"{s['steps']} steps{lts} in {s['wall_seconds']:.1f} s ({s['cell_updates_per_second']:.3g} cell updates/s), "
        f"volume error {s['volume_error_relative']:.2e}; wrote {out_dir}")
    return s


# ----------------------------------------------------------------------------- run stage
def valley_floor_mask(case, buffer_m: float = 300.0) -> np.ndarray:
    """Valid DEM cells within ``buffer_m`` of the case's rivers (or sections, without rivers)."""
    from rasterio.features import rasterize

    geoms = case.rivers.geometry if case.rivers is not None and len(case.rivers) else case.sections.geometry
    shapes = [(g.buffer(buffer_m), 1) for g in geoms]
    m = rasterize(shapes, out_shape=case.dem.shape, transform=case.dem.rio.transform(), fill=0, dtype="uint8")
    return (m == 1) & np.isfinite(case.dem.values)


def floor_share(case, mask_full: np.ndarray) -> pd.Series:
    """Share of each sub-basin's area that lies on the 2-D valley floor (``mask_full``, the DEM's grid)."""
    from rasterio.features import rasterize

    sb = case.subbasins.reset_index(drop=True)
    lab = rasterize([(g, i + 1) for i, g in enumerate(sb.geometry)], out_shape=case.dem.shape,
                    transform=case.dem.rio.transform(), fill=0, dtype="int32")
    valid = np.isfinite(case.dem.values)
    total = np.bincount(lab[valid], minlength=len(sb) + 1)[1:]
    floor = np.bincount(lab[mask_full & valid], minlength=len(sb) + 1)[1:]
    return pd.Series(np.where(total > 0, floor / np.maximum(total, 1), 0.0), index=[str(i) for i in sb["id"]])


def _forecast_forcing(case, forecast, dem, share: pd.Series, network=None) -> tuple[Rain | None, list[Hydrograph],
                                                                            pd.Timestamp, float, dict]:
    """Rain and section inflows for the valley floor from the forecast, each drop counted once.

    The forecast's discharge already holds the runoff of the valley floor itself, which the 2-D model
    also receives as rain on the grid. So each section's inflow (the growth of discharge since the
    section upstream: its lateral sub-basins' runoff) is cut by the floor's share of those sub-basins,
    and the rain on the floor is the floor-weighted sub-basin rain times the forecast's own runoff
    ratio (discharge volume at the last section over the rain volume upstream of it). Returns
    ``(rain, inflows, start, duration_s, notes)``.
    """
    import xarray as xr

    from hydro.network import RiverNetwork

    fc = forecast if isinstance(forecast, xr.Dataset) else xr.open_dataset(forecast)
    times = pd.to_datetime(fc["time"].values)
    start = times[0]
    t_s = np.asarray((times - start).total_seconds(), float)
    model = net = network or RiverNetwork.from_case(case)  # the network the forecast walks (no ratings rebuilt)
    area = pd.Series(model.area_km2 * 1e6, index=list(model.subbasin_ids))
    q = fc["discharge"].transpose("time", "section")
    ids = [str(s) for s in q["section"].values]
    sec = case.sections.set_index("id")
    notes: dict = {"floor_share_removed_from_inflow": {}}
    inflows = []
    for sid in ids:
        if sid not in sec.index:
            continue
        qs = q.sel(section=sid).values.astype(float)
        ups = [u for u in net.upstream(sid) if u in ids]
        if ups:  # the growth since every section directly upstream (at a confluence, all of them)
            qs = np.maximum(qs - sum(q.sel(section=u).values.astype(float) for u in ups), 0.0)
        lateral = area.index[net.lateral_subbasins(sid)] if sid in net.section_ids else []
        cut = float((share[lateral] * area[lateral]).sum() / area[lateral].sum()) if len(lateral) else 0.0
        notes["floor_share_removed_from_inflow"][sid] = round(cut, 4)
        g = sec.loc[sid].geometry
        rows, cols = location_cells(dem, g.x, g.y)
        inflows.append(Hydrograph(f"section {sid}", rows, cols, t_s, np.nan_to_num(qs) * (1.0 - cut)))
    rain = None
    if "rain_mm_per_h" in fc:
        rr = np.nan_to_num(fc["rain_mm_per_h"].transpose("time", "subbasin").sel(subbasin=list(model.subbasin_ids)).values)
        w = (share.reindex(list(model.subbasin_ids)).fillna(0.0) * area).to_numpy()
        floor_rain = rr @ w / w.sum() if w.sum() > 0 else rr.mean(axis=1)
        # the forecast's runoff ratio over the catchment of the last section
        m = model.upstream_subbasins(ids[-1])
        step_s = float(t_s[1] - t_s[0]) if len(t_s) > 1 else 3600.0  # hourly rates, one value per step
        rain_vol = float((rr[:, m] @ area.to_numpy()[m]).sum()) / 1000.0 / 3600.0 * step_s
        q_vol = float(np.nan_to_num(q.sel(section=ids[-1]).values.astype(float)).sum()) * step_s
        coef = min(max(q_vol / rain_vol, 0.0), 1.0) if rain_vol > 0 else 1.0
        notes["runoff_coefficient_on_floor"] = round(coef, 4)
        rain = Rain(t_s, floor_rain, runoff_coefficient=coef)
    # run to one hour past the peak at the last section, within the forecast (keeps the demo short)
    q_last = q.isel(section=-1).values
    t_end = min(t_s[-1], t_s[int(np.nanargmax(q_last))] + 3600.0)
    return rain, inflows, start, float(max(t_end, 3600.0)), notes


def inundate_case(case, forecast=None, say: Callable[[str], None] = print, max_duration_s: float = 12 * 3600.0,
                  storm: str = "50y", duration_s: float | None = None, output_interval_s: float = 1800.0,
                  backend: str = "cpu", options: SimulationOptions | None = None) -> xr.Dataset | None:
    """The valley floor of the case, rain on the grid and (with a forecast) the forecast discharge
    entering at the sections; free outflow at the edges. Returns the inundation Dataset (see
    CONTRIBUTING.md), its run summary as the JSON attr ``summary_json`` and the water balance as
    ``balance_*`` variables on ``balance_time``; None when there is neither forecast nor design storm.

    ``forecast`` is the forecast Dataset (or a path to forecast.nc); ``duration_s`` overrides the
    default run length (to one hour past the peak at the last section, at most ``max_duration_s``).
    """
    from hydro.rainfall import design_storm

    if forecast is not None and not isinstance(forecast, xr.Dataset):
        forecast = xr.open_dataset(forecast) if Path(forecast).exists() else None
    mask_full = valley_floor_mask(case)
    rows, cols = np.nonzero(mask_full)
    win = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    dem = case.dem.isel(y=win[0], x=win[1])  # crop to the valley floor's bounding box
    mask = mask_full[win]
    z = np.where(mask, dem.values, np.nan)
    if forecast is not None:
        rain, inflows, start, dur, notes = _forecast_forcing(case, forecast, dem, floor_share(case, mask_full))
        inflows = [h for h in inflows if mask[h.rows, h.cols].all()]
        cut = ", ".join(f"{k} {100 * v:.0f} %" for k, v in notes["floor_share_removed_from_inflow"].items())
        say(f"  forcing: forecast discharge at {len(inflows)} section(s) less the floor's own share ({cut}), "
            f"and rain on the floor x {notes.get('runoff_coefficient_on_floor', 1.0):.2f} (the forecast's runoff ratio)")
    else:
        if case.design_storms is None or storm not in case.design_storms.index:
            say("  no forecast and no design storm; skipped")
            return None
        df = design_storm(case.design_storms, storm)
        start = df.index[0]
        rain = Rain(np.arange(len(df)) * 3600.0, df.iloc[:, 0].to_numpy(float))
        inflows, dur, notes = [], len(df) * 3600.0 + 3600.0, {}
        say(f"  forcing: design storm {storm} rain on the grid (no forecast discharge)")
    dur = float(duration_s) if duration_s is not None else min(dur, max_duration_s)
    n = case.manning.values[win] if hasattr(case.manning, "values") else float(case.manning)
    if np.ndim(n):
        n = np.where(mask, np.nan_to_num(n, nan=0.05), np.nan)
        n = np.where(n > 0, n, 0.05)
    t = dem.rio.transform()
    # 32-cell tiles follow the thin valley-floor band more closely than 64
    sim = Simulation(z, abs(t.a), abs(t.e), n, 0.0, rain=rain, inflows=inflows, boundary="open",
                     options=options or SimulationOptions(tile_size=32), transform=t, backend=backend)
    say(f"  2-D valley floor: {sim.n_valid:,} cells at {abs(t.a):g} m, {dur / 3600:.1f} h simulated")
    t0 = time.perf_counter()
    sim.run(dur, output_interval_s=output_interval_s, progress=False)
    extra = {"domain": "valley floor: valid cells within 300 m of the rivers", "start_time": start.isoformat(),
             **notes}
    ds = product_dataset(sim, t, dem.rio.crs, start, extra_summary=extra)
    s = json.loads(ds.attrs["summary_json"])
    say(f"  {s['steps']} steps ({s['lts_cycles']} cycles) in {time.perf_counter() - t0:.1f} s; flooded "
        f"{s['flooded_area_km2']:.2f} km2, max depth {s['max_depth_m']:.2f} m, volume error "
        f"{s['volume_error_relative']:.1e}")
    return ds


def run_stage(case, out_dir: Path, forecast_path: Path | None, say: Callable[[str], None] = print,
              max_duration_s: float = 12 * 3600.0, storm: str = "50y") -> dict:
    """:func:`inundate_case` with its products written into ``out_dir``; returns the summary."""
    ds = inundate_case(case, forecast_path, say, max_duration_s, storm)
    if ds is None:
        return {}
    write_dataset_products(ds, out_dir)
    return json.loads(ds.attrs["summary_json"])


__all__ = ["check_same_grid", "floor_share", "inundate_case", "run_stage", "simulate_files", "valley_floor_mask"]
