"""Rainfall -> water-level forecast at river sections: the user-facing chain.

    rain (gauges / grid / design storm) -> sub-basin areal rain (hydro.rainfall)
    -> Xinanjiang runoff per sub-basin (hydro.runoff, Zhao 1992)
    -> Nash unit hydrograph per sub-basin (hydro.routing, Nash 1957)
    -> Muskingum-Cunge between sections along `downstream` (Cunge 1969)
    -> Manning stage, velocity and hydraulic depth at each section (hydro.stage)

:class:`ForecastModel` holds the arrays of one case; :meth:`ForecastModel.run` takes rain for many
members at once (``(members, time, sub-basin)``) so ensembles and critical-rainfall searches use
the same code path as the deterministic forecast. :func:`forecast` returns the xarray Dataset
described in CONTRIBUTING.md (``discharge``, ``stage``, ``velocity``, ``depth`` on
``(time, section)``, ``rain_mm_per_h`` on ``(time, subbasin)``, attr ``issue_time``).

Parameters come from defaults, overridden by the file that ``case.toml`` names under
``[forecast] params = "forecast_params.toml"`` (written by ``floodkit calibrate``)::

    [xinanjiang]            # any of K WUM WLM WDM C B IM SM EX KI KG CI CG (KI, KG, CI, CG per day)
    SM = 35.0
    [routing]
    lag_factor = 1.0        # scales the Kirpich lag of every sub-basin
    nash_n = 3.0            # reservoirs in the Nash cascade
    [forecast]
    pet_mm_per_h = 0.12     # potential evapotranspiration during the event
    [subbasin.BT1]          # optional per-sub-basin Xinanjiang overrides
    B = 0.4
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import InputError
from hydro import rainfall as rf
from hydro.routing import nash_parameters, nash_unit_hydrograph, route_network, uh_matrix
from hydro.runoff import initial_state, params_array, run_xinanjiang
from hydro.stage import Rating, parse_profile, section_rating

DEFAULT_PET_MM_PER_H = 0.12  # ~3 mm/day, flood season in Zhejiang
DEFAULT_TAIL_H = 24


def _empty(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() in ("", "nan", "None")


def load_params(case) -> dict:
    """The forecast parameter table of a case (``[forecast] params`` in case.toml), or {}."""
    cfg = getattr(case, "config", None) or {}
    if not cfg:
        toml = Path(case.root) / "case.toml"
        cfg = tomllib.loads(toml.read_text(encoding="utf-8")) if toml.is_file() else {}
    rel = (cfg.get("forecast") or {}).get("params")
    if not rel:
        return {}
    path = Path(case.root) / rel
    if not path.is_file():
        raise InputError("case.toml", f"[forecast] params names '{rel}', which does not exist",
                         "run `floodkit calibrate` or remove the line")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path.name, f"not valid TOML ({exc})", "fix the file or re-run calibrate") from None


@dataclass
class ForecastModel:
    """Arrays of one case for the forecast chain (see module docstring)."""

    section_ids: list[str]
    section_names: list[str]
    downstream: dict[str, str | None]
    reach_length_m: dict[str, float]
    bed_slope: dict[str, float]
    ratings: dict[str, Rating]
    warning_level_m: np.ndarray
    danger_level_m: np.ndarray
    subbasin_ids: list[str]
    area_km2: np.ndarray
    outlet: np.ndarray  # section index per sub-basin, -1 below the last section
    uh: np.ndarray  # (nb, L)
    xaj: np.ndarray  # (nb, 13)
    pet_mm_per_h: float = DEFAULT_PET_MM_PER_H
    dt_h: float = 1.0
    q_ref: dict[str, float] = field(default_factory=dict)
    lag_h: np.ndarray | None = None  # Nash lag n k per sub-basin (h)
    nash_n: float = 3.0

    # -------------------------------------------------------------- construction
    @classmethod
    def from_case(cls, case, params: dict | None = None, dt_h: float = 1.0) -> ForecastModel:
        """The model of ``case`` at a step of ``dt_h`` hours (5 to 60 minutes; unit hydrographs for that step)."""
        params = load_params(case) if params is None else params
        dt_h = rf.check_step_h(dt_h, "step")
        sec = case.sections.reset_index(drop=True)
        ids = [str(s) for s in sec["id"]]
        names = [str(s) for s in sec["name"]] if "name" in sec else ids
        down, length, slope, ratings = {}, {}, {}, {}
        for i, sid in enumerate(ids):
            d = sec.loc[i, "downstream"] if "downstream" in sec else None
            down[sid] = None if _empty(d) else str(d)
            length[sid] = float(sec.loc[i, "reach_length_m"]) if not _empty(sec.loc[i].get("reach_length_m")) else 0.0
            slope[sid] = float(sec.loc[i, "bed_slope"])
            if sid in (getattr(case, "ratings", None) or {}):
                ratings[sid] = case.ratings[sid]  # built (and checked) by the case loader
                continue
            prof = case.profiles.get(sid) if getattr(case, "profiles", None) else None
            if prof is None:
                prof = sec.loc[i, "profile"]
            prof = parse_profile(prof, "sections", names[i])
            ratings[sid] = section_rating(sec.loc[i], prof, (getattr(case, "section_n", None) or {}).get(sid))
        sb = case.subbasins.reset_index(drop=True)
        sb_ids = [str(s) for s in sb["id"]]
        area = sb.geometry.area.to_numpy() / 1e6
        outlet = np.array([ids.index(str(o)) if str(o) in ids else -1 for o in sb["outlet_section"]])
        routing = params.get("routing", {})
        lag_factor = float(routing.get("lag_factor", 1.0))
        nash_n = float(routing.get("nash_n", 3.0))
        uhs, lags = [], []
        for i in range(len(sb)):
            length_km = sb.loc[i, "length_km"] if "length_km" in sb else None
            n, k = nash_parameters(area[i], None if _empty(length_km) else float(length_km),
                                   float(sb.loc[i, "slope"]), lag_factor, nash_n)
            uhs.append(nash_unit_hydrograph(n, k, dt_h))
            lags.append(n * k)
        xaj = params_array(params.get("xinanjiang", {}), len(sb), "forecast_params.toml")
        for sid, over in (params.get("subbasin") or {}).items():
            if sid in sb_ids:
                xaj[sb_ids.index(sid)] = params_array({**params.get("xinanjiang", {}), **over}, 1,
                                                      "forecast_params.toml")[0]
        pet = float((params.get("forecast") or {}).get("pet_mm_per_h", DEFAULT_PET_MM_PER_H))
        warn = sec["warning_level_m"].to_numpy(dtype=float)
        dang = sec["danger_level_m"].to_numpy(dtype=float)
        # routing parameters at the discharge of the warning level: flood regime, same for every member
        q_ref = {s: float(ratings[s].discharge(warn[i])) for i, s in enumerate(ids)}
        return cls(ids, names, down, length, slope, ratings, warn, dang, sb_ids, area, outlet,
                   uh_matrix(uhs), xaj, pet, dt_h, q_ref, np.array(lags), nash_n)

    # -------------------------------------------------------------- running
    def initial_state(self, condition: str | float | np.ndarray = "normal", members: int = 1) -> np.ndarray:
        """State rows (members * sub-basins, 7) for a named condition, or a given state tiled."""
        if isinstance(condition, np.ndarray):
            st = np.asarray(condition, dtype=float)
            return st.copy() if st.shape[0] == members * len(self.subbasin_ids) else np.tile(st, (members, 1))
        return np.tile(initial_state(condition, self.xaj), (members, 1))

    @property
    def network(self):
        """The case's river network (:class:`hydro.network.RiverNetwork`, as ``RiverNetwork.from_case``
        builds it for the 2-D forcing): the one object both walk, confluences included."""
        from hydro.network import RiverNetwork

        return RiverNetwork(tuple(self.section_ids), dict(self.downstream), tuple(self.subbasin_ids),
                            np.asarray(self.outlet), np.asarray(self.area_km2))

    def upstream_subbasins(self, section: str) -> np.ndarray:
        """Boolean mask of sub-basins draining to ``section`` (directly or through upstream sections)."""
        return self.network.upstream_subbasins(section)

    def run(self, rain_mm: np.ndarray, state: str | float | np.ndarray = "normal") -> tuple[np.ndarray, np.ndarray]:
        """Discharge (members, sections, time) in m3/s for rain (members, time, sub-basins) in mm/h
        at the model's step ``dt_h``.

        Returns ``(discharge, final_state)``; ``state`` is a condition name, a W/WM fraction or a
        state array from a previous run (shape (members * sub-basins, 7) or (sub-basins, 7)).
        """
        rain = np.asarray(rain_mm, dtype=np.float64)
        if rain.ndim == 2:
            rain = rain[None]
        nm, nt, nb = rain.shape
        series = np.ascontiguousarray(rain.transpose(0, 2, 1).reshape(nm * nb, nt)) * self.dt_h  # mm per step
        st = self.initial_state(state, nm)
        par = np.tile(self.xaj, (nm, 1))
        inflow, _ = run_xinanjiang(series, self.pet_mm_per_h * self.dt_h, par, st, self.dt_h)
        from hydro.routing import convolve

        q_mm = convolve(inflow, np.tile(self.uh, (nm, 1)))
        q_m3s = q_mm.reshape(nm, nb, nt) * (self.area_km2[None, :, None] / (3.6 * self.dt_h))
        member = np.zeros((len(self.section_ids), nb))
        for b, o in enumerate(self.outlet):
            if o >= 0:
                member[o, b] = 1.0
        local = np.einsum("sb,mbt->mst", member, q_m3s)
        q = route_network(local, self.section_ids, self.downstream, self.reach_length_m, self.bed_slope,
                          self.ratings, self.dt_h, self.q_ref)
        return q, st

    def hydraulics(self, discharge: np.ndarray) -> dict[str, np.ndarray]:
        """Stage, mean velocity, main-channel velocity and hydraulic depth with the shape of ``discharge``
        (..., sections, time)."""
        out = {k: np.empty_like(discharge) for k in ("stage", "velocity", "channel_velocity", "depth")}
        for i, s in enumerate(self.section_ids):
            h = self.ratings[s].hydraulics(discharge[..., i, :])
            for k in out:
                out[k][..., i, :] = h[k]
        return out


# ----------------------------------------------------------------------------- rain for a case
def case_subbasin_rain(case, rain: str | Path | pd.DataFrame | None = None, *, design_storm: str | None = None,
                       nowcast: str | Path | None = None, method: str = "thiessen",
                       start: str | None = None, step_min: float | None = None) -> pd.DataFrame:
    """Sub-basin rain (time x sub-basin, mm/h) from a gauge CSV, a rain grid, a case event name or a
    design storm, with an optional gridded nowcast appended (its issue time kept).

    ``step_min`` (5 to 60 minutes): the forecast step; rain at another regular step is brought to it
    by :func:`hydro.rainfall.to_step` (volume kept). Default: the rain's own step (design storms: 60).
    """
    sb = case.subbasins
    gauge_ids = [str(g) for g in case.gauges["id"]]
    if design_storm is not None:
        if case.design_storms is None:
            raise InputError("case.toml", "the case has no design_storms layer", "add design_storms.csv")
        df = rf.design_storm(case.design_storms, design_storm, start=start or "2000-07-01 00:00",
                             columns=[str(s) for s in sb["id"]], step_min=step_min or 60.0)
    else:
        if isinstance(rain, pd.DataFrame):
            gauges_df, source = rf.validate_series(rain, "rain"), "rain"
        elif hasattr(rain, "dims") and "time" in getattr(rain, "dims", ()):  # a rain grid in memory (DataArray)
            gauges_df = None
            df = rf.grid_to_subbasins(rain, sb, str(rain.attrs.get("source", "rain grid")))
        elif isinstance(rain, str) and rain in getattr(case, "events", {}):
            gauges_df, source = case.events[rain], rain
        else:
            path = Path(rain)
            source = path.name
            if path.suffix.lower() in (".nc", ".nc4", ".netcdf", ".tif", ".tiff"):
                gauges_df = None
                df = rf.grid_to_subbasins(rf.read_grid(path), sb, source)
            else:
                gauges_df = rf.read_gauge_csv(path, gauge_ids)
        if gauges_df is not None:
            gauges = case.gauges[case.gauges["id"].astype(str).isin(gauges_df.columns)]
            if len(gauges) == 0:
                raise InputError(source, "no column matches a gauge id", f"use gauge ids {', '.join(gauge_ids)}")
            w = rf.thiessen_weights(gauges, sb) if method == "thiessen" else rf.idw_weights(gauges, sb)
            df = rf.areal_rain(gauges_df[[str(g) for g in gauges["id"]]], w, source)
    if step_min is not None:
        df = rf.to_step(df, step_min, source if design_storm is None else "design storm")
    if nowcast is not None:
        grid = rf.read_grid(nowcast)
        fc = rf.grid_to_subbasins(grid, sb, Path(nowcast).name)
        fc = rf.to_step(fc, rf.step_minutes(df), Path(nowcast).name)
        df = rf.append_forecast(df, fc, fc.attrs.get("issue_time"), Path(nowcast).name)
    if "issue_time" not in df.attrs:
        df.attrs["issue_time"] = pd.Timestamp(df.index[0]).isoformat()
    return df


def forecast(case, rain: pd.DataFrame, state: str | float | np.ndarray = "normal", tail_h: int = DEFAULT_TAIL_H,
             model: ForecastModel | None = None):
    """Deterministic forecast as an xarray Dataset (see module docstring).

    ``rain`` is sub-basin rain (time x sub-basin, mm/h) from :func:`case_subbasin_rain` at any regular
    step of 5 to 60 minutes, which becomes the forecast's step; the run continues ``tail_h`` dry hours
    after it so the recession is seen.
    """
    import xarray as xr

    dt_h = rf.step_minutes(rain) / 60.0
    model = model or ForecastModel.from_case(case, dt_h=dt_h)
    if abs(model.dt_h - dt_h) > 1e-9:
        raise InputError("rain", f"rain is at a {dt_h * 60:g}-minute step but the model at {model.dt_h * 60:g}",
                         "build the model with ForecastModel.from_case(case, dt_h=...) at the rain's step")
    missing = [s for s in model.subbasin_ids if s not in rain.columns]
    if missing:
        raise InputError("rain", f"rain does not cover sub-basin '{missing[0]}'", "give rain for every sub-basin")
    r = rain[model.subbasin_ids].to_numpy(dtype=float)
    r = np.vstack([r, np.zeros((int(round(tail_h / dt_h)), r.shape[1]))])
    times = pd.date_range(rain.index[0], periods=len(r), freq=pd.Timedelta(hours=dt_h), name="time")
    q, st = model.run(r[None], state)
    hyd = model.hydraulics(q)
    ds = xr.Dataset(
        {
            "discharge": (("time", "section"), q[0].T, {"units": "m3/s", "long_name": "discharge"}),
            "stage": (("time", "section"), hyd["stage"][0].T, {"units": "m", "long_name": "water level"}),
            "velocity": (("time", "section"), hyd["velocity"][0].T, {"units": "m/s", "long_name": "mean velocity"}),
            "channel_velocity": (("time", "section"), hyd["channel_velocity"][0].T,
                                 {"units": "m/s", "long_name": "main-channel velocity (conveyance subdivision)"}),
            "depth": (("time", "section"), hyd["depth"][0].T, {"units": "m", "long_name": "hydraulic depth A/T"}),
            "rain_mm_per_h": (("time", "subbasin"), r, {"units": "mm/h"}),
        },
        coords={
            "time": times,
            "section": model.section_ids,
            "section_name": ("section", model.section_names),
            "warning_level_m": ("section", model.warning_level_m),
            "danger_level_m": ("section", model.danger_level_m),
            "subbasin": model.subbasin_ids,
        },
        attrs={
            "issue_time": str(rain.attrs.get("issue_time", times[0].isoformat())),
            "title": f"floodkit forecast, {getattr(case, 'title', '')}",
            "antecedent_state": state if isinstance(state, str) else "carried over",
            "model": "Xinanjiang (Zhao 1992) + Nash UH + variable-parameter Muskingum-Cunge (Ponce & Chaganti "
                     "1994) + subdivided-conveyance Manning rating (HEC-RAS method)",
            "step_minutes": float(round(dt_h * 60.0, 6)),
        },
    )
    ds.attrs["design_storm"] = str(rain.attrs.get("design_storm", ""))
    return ds, st


def upstream_rain(ds, model: ForecastModel) -> pd.DataFrame:
    """Area-weighted mean rain (time x section) over each section's whole upstream catchment."""
    r = ds["rain_mm_per_h"].values
    out = {}
    for s in model.section_ids:
        m = model.upstream_subbasins(s)
        out[s] = r[:, m] @ model.area_km2[m] / model.area_km2[m].sum() if m.any() else np.zeros(len(r))
    return pd.DataFrame(out, index=pd.DatetimeIndex(ds["time"].values))


# ----------------------------------------------------------------------------- products
def plot_hydrograph(ds, section: str, section_rain: pd.Series, path: Path) -> None:
    """PNG: upstream rain bars on top; stage with the warning and danger levels below."""
    from gis.fonts import NoPyplot as plt  # no backend switch in the caller's process (e.g. a notebook)

    try:
        from gis.fonts import use_cjk_font

        use_cjk_font()
        cjk = True
    except Exception:  # noqa: BLE001 - a missing font must not stop a forecast; fall back to ASCII labels
        cjk = False
    sub = ds.sel(section=section)
    name = str(sub["section_name"].values) if cjk else section
    t = pd.DatetimeIndex(ds["time"].values)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [1, 2.2]})
    step_d = (t[1] - t[0]) / pd.Timedelta(days=1) if len(t) > 1 else 1 / 24
    ax1.bar(t, section_rain.to_numpy(), width=step_d, align="edge", color="tab:blue")
    ax1.invert_yaxis()
    ax1.set_ylabel("rain mm/h")
    ax1.set_title(f"{name}  ({section})  issue {ds.attrs['issue_time']}")
    ax2.plot(t, sub["stage"].values, color="k", label="stage")
    ax2.axhline(float(sub["warning_level_m"]), color="orange", ls="--", label=("警戒水位 " if cjk else "warning ")
                + f"{float(sub['warning_level_m']):.2f} m")
    ax2.axhline(float(sub["danger_level_m"]), color="red", ls="--", label=("危急水位 " if cjk else "danger ")
                + f"{float(sub['danger_level_m']):.2f} m")
    ax2.axvline(pd.Timestamp(ds.attrs["issue_time"]), color="grey", lw=0.8)
    ax2.set_ylabel("stage m")
    ax3 = ax2.twinx()
    ax3.plot(t, sub["velocity"].values, color="tab:green", lw=0.8, ls=":", label=("断面平均流速" if cjk else "mean velocity"))
    if "channel_velocity" in sub:
        ax3.plot(t, sub["channel_velocity"].values, color="tab:green", lw=1.2,
                 label=("主槽流速" if cjk else "main-channel velocity"))
    ax3.set_ylabel("velocity m/s", color="tab:green")
    ax2.legend(loc="upper left", fontsize=8)
    ax3.legend(loc="upper right", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    from gis.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def warning_tables(case, ds, model: ForecastModel | None = None, *, thresholds: pd.DataFrame | None = None,
                   ensemble: pd.DataFrame | None = None, condition: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The warning table (sections and villages: crossings, leads, action; by rain too) and the
    critical-rainfall table of a forecast Dataset. ``condition`` defaults to the forecast's
    antecedent state; ensemble probabilities come from ``ensemble`` or the Dataset's ``p_warning``."""
    from hydro import warnings as wn
    from hydro.thresholds import critical_rainfall

    model = model or model_of(case, ds)
    if condition is None:
        condition = str(ds.attrs.get("antecedent_state", "normal"))
        condition = condition if condition in ("dry", "normal", "wet") else "normal"
    if thresholds is None:
        thresholds = critical_rainfall(model, case.villages, case.design_storms)
    sec_rain = upstream_rain(ds, model)
    warn = pd.concat([wn.section_warnings(ds), wn.village_warnings(ds, case.villages)], ignore_index=True)
    by_rain = wn.rain_threshold_check(sec_rain, case.villages, thresholds, condition, dt_h=model.dt_h)
    warn = warn.merge(by_rain, on="id", how="left")
    if ensemble is None and "p_warning" in ds:
        ensemble = pd.DataFrame({"section": [str(x) for x in ds["section"].values],
                                 "p_warning": ds["p_warning"].values, "p_danger": ds["p_danger"].values})
    if ensemble is not None:
        warn = warn.merge(ensemble[["section", "p_warning", "p_danger"]].rename(columns={"section": "id"}),
                          on="id", how="left")
    return warn, thresholds


def write_products(case, ds, out_dir: str | Path, model: ForecastModel | None = None, *,
                   thresholds: pd.DataFrame | None = None, ensemble: pd.DataFrame | None = None,
                   condition: str = "normal", plots: bool = True,
                   warnings: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write forecast.nc, warnings.csv, thresholds.csv and hydrograph_<section>.png into ``out_dir``
    (``warnings`` and ``thresholds``: the tables of :func:`warning_tables`, computed when not given)."""
    from gis.atomic import atomic_path
    from hydro.thresholds import critical_rainfall

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model or model_of(case, ds)
    if warnings is None:
        warn, thresholds = warning_tables(case, ds, model, thresholds=thresholds, ensemble=ensemble,
                                          condition=condition)
    else:
        warn = warnings
        if thresholds is None:
            thresholds = critical_rainfall(model, case.villages, case.design_storms)
    sec_rain = upstream_rain(ds, model)
    paths = {"forecast": out / "forecast.nc", "warnings": out / "warnings.csv", "thresholds": out / "thresholds.csv"}
    enc = {v: {"zlib": True, "complevel": 4} for v in ds.data_vars}
    with atomic_path(paths["forecast"]) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
    with atomic_path(paths["warnings"]) as tmp:
        warn.to_csv(tmp, index=False, date_format="%Y-%m-%d %H:%M", encoding="utf-8-sig")
    with atomic_path(paths["thresholds"]) as tmp:
        thresholds.to_csv(tmp, index=False, encoding="utf-8-sig")
    if plots:
        for s in model.section_ids:
            p = out / f"hydrograph_{s}.png"
            plot_hydrograph(ds, s, sec_rain[s], p)
            paths[f"hydrograph_{s}"] = p
    return paths


# ----------------------------------------------------------------------------- CLI glue
def forecast_case(case, *, rain=None, design_storm: str | None = None, nowcast: str | Path | None = None,
                  state: str = "normal", members: int = 0, sigma: float = 0.5, tail_h: int = DEFAULT_TAIL_H,
                  method: str = "thiessen", step_min: float | None = None, observed: str | Path | None = None,
                  say=None):
    """The forecast Dataset of a case for one rain input (gauge CSV, grid, event name, design storm,
    with an optional nowcast); with ``members`` > 0 also the ensemble probabilities ``p_warning`` /
    ``p_danger`` per section. Nothing is written.

    ``step_min``: forecast step in minutes (5-60; default the rain's own step, hourly for design
    storms). ``observed``: a CSV of observed stages or discharges at sections for real-time
    correction (:mod:`hydro.correction`).
    """
    r = case_subbasin_rain(case, rain, design_storm=design_storm, nowcast=nowcast, method=method,
                           step_min=step_min)
    model = ForecastModel.from_case(case, dt_h=rf.step_minutes(r) / 60.0)
    ds, _ = forecast(case, r, state, tail_h, model)
    if observed is not None:
        from hydro.correction import correct_forecast, read_observations

        obs = read_observations(observed, model, pd.DatetimeIndex(ds["time"].values))
        ds = correct_forecast(ds, model, obs)
        if say is not None:
            say(f"  real-time correction with {Path(observed).name}: "
                + ", ".join(f"{model.section_names[j]} {int(ds['observed_steps'].values[j])} obs"
                            for j in range(len(model.section_ids))))
    if members > 0:
        from hydro.ensemble import perturb_forecast, run_ensemble

        step = pd.Timedelta(hours=model.dt_h)
        rr = pd.concat([r[model.subbasin_ids], pd.DataFrame(
            0.0, index=pd.date_range(r.index[-1] + step, periods=int(round(tail_h / model.dt_h)), freq=step),
            columns=model.subbasin_ids)])
        rr.attrs = dict(r.attrs)
        res = run_ensemble(model, perturb_forecast(rr, members, sigma), state)
        ds["p_warning"] = ("section", res["p_warning"])
        ds["p_danger"] = ("section", res["p_danger"])
        ds.attrs["ensemble_members"] = members
    return ds


def peak_lines(ds) -> list[str]:
    """One line per section: peak stage and time against the warning and danger levels."""
    out = []
    for j, s in enumerate(ds["section"].values):
        h = ds["stage"].values[:, j]
        line = (f"  {ds['section_name'].values[j]} ({s}): peak {h.max():.2f} m at "
                f"{pd.Timestamp(ds['time'].values[h.argmax()])}, warning {float(ds['warning_level_m'].values[j]):.2f} m, "
                f"danger {float(ds['danger_level_m'].values[j]):.2f} m")
        if "p_warning" in ds:
            line += f", P(warning)={float(ds['p_warning'].values[j]):.2f} P(danger)={float(ds['p_danger'].values[j]):.2f}"
        out.append(line)
    return out


def model_of(case, ds) -> ForecastModel:
    """The forecast model of ``case`` at the step of the forecast Dataset ``ds``."""
    t = pd.DatetimeIndex(ds["time"].values)
    dt_h = (t[1] - t[0]) / pd.Timedelta(hours=1) if len(t) > 1 else 1.0
    return ForecastModel.from_case(case, dt_h=float(dt_h))


def run_forecast(case, out_dir: str | Path, *, rain=None, design_storm: str | None = None,
                 nowcast: str | Path | None = None, state: str = "normal", members: int = 0,
                 sigma: float = 0.5, tail_h: int = DEFAULT_TAIL_H, method: str = "thiessen",
                 step_min: float | None = None, observed: str | Path | None = None,
                 say=print) -> dict[str, Path]:
    """Everything ``floodkit forecast`` does; products are written only once all are computed."""
    ds = forecast_case(case, rain=rain, design_storm=design_storm, nowcast=nowcast, state=state, members=members,
                       sigma=sigma, tail_h=tail_h, method=method, step_min=step_min, observed=observed, say=say)
    model = model_of(case, ds)
    warn, th = warning_tables(case, ds, model, condition=state)
    paths = write_products(case, ds, out_dir, model, thresholds=th, warnings=warn, condition=state)
    for line in peak_lines(ds):
        say(line)
    return paths
