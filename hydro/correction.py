"""Real-time correction (实时校正) of a forecast with observed levels or discharges at its sections.

Chinese flood-forecast practice corrects the model with the latest observations before a forecast is
issued. Here the *error* of the simulated discharge at each section, e_t = Q_obs,t - Q_sim,t, is an
autoregressive process of order one,

    e_{t+1} = phi e_t + noise,

whose coefficient phi is estimated by recursive least squares with a forgetting factor, updated at
every step that has an observation (Box, G. E. P. & Jenkins, G. M. 1970, Time Series Analysis:
Forecasting and Control; the output error-updating of WMO 1992, Simulated real-time intercomparison
of hydrological models, Operational Hydrology Report 38). From the last
observation at time T the corrected discharge k steps later is Q_sim,T+k + phi_T^k e_T; between
observations the same forecast from the latest observation fills the gaps. At a step with an
observation the corrected value is the observation itself.

Causality (what a real-time system could have issued): the value at step t uses only observations at
or before t, so adding later observations never changes an earlier step, and an observation stays
at its own time. Observed stages become discharges through the section's rating (the same rating
that turns the corrected discharge back into a stage), so stage and discharge stay consistent.

Observation file (CSV, naive local time)::

    time,section,stage_m,discharge_m3_per_s
    2024-07-01 06:00,S1,428.41,
    2024-07-01 06:00,白鹤,,312.0

``section`` is a section id or name; each row gives ``stage_m`` (m, the case's datum) or
``discharge_m3_per_s`` (m3/s); a row with both uses the discharge. Times must lie on the forecast's
steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import InputError

FORGETTING = 0.98  # RLS forgetting factor: the last ~50 observed steps weigh most
PHI_MAX = 0.999


def read_observations(path: str | Path | pd.DataFrame, model, times: pd.DatetimeIndex) -> pd.DataFrame:
    """Observed discharge (m3/s) on the forecast grid: DataFrame (time x section id), NaN where none.

    Raises :class:`InputError` (one line) for an unknown section, a time that is not one of the
    forecast's steps, a row without a value, or a value that is not a number.
    """
    source = "observed" if isinstance(path, pd.DataFrame) else Path(path).name
    if isinstance(path, pd.DataFrame):
        df = path.copy()
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(source, "file not found", "give the path of the observations CSV")
        try:
            df = pd.read_csv(p, dtype={"time": str, "section": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(source, f"malformed CSV ({str(exc).strip().splitlines()[0] if str(exc).strip() else ''})",
                             "columns: time,section,stage_m,discharge_m3_per_s") from None
    need = {"time", "section"}
    if not need <= set(df.columns) or not ({"stage_m", "discharge_m3_per_s"} & set(df.columns)):
        raise InputError(source, f"columns are {', '.join(map(str, df.columns))}",
                         "give columns time,section and stage_m and/or discharge_m3_per_s")
    t = pd.to_datetime(df["time"], errors="coerce", format="mixed")
    if t.isna().any():
        i = int(np.flatnonzero(t.isna().to_numpy())[0])
        raise InputError(source, f"row {i + 2}: time '{df['time'].iloc[i]}' is not a date-time",
                         "write times as YYYY-MM-DD HH:MM (local time)")
    names = dict(zip(model.section_names, model.section_ids, strict=True))
    ids = set(model.section_ids)
    sec = [s if s in ids else names.get(s) for s in df["section"].astype(str).str.strip()]
    for i, s in enumerate(sec):
        if s is None:
            raise InputError(source, f"row {i + 2}: section '{df['section'].iloc[i]}' is not a section of the case",
                             f"use a section id or name: {', '.join(model.section_ids)} / "
                             f"{', '.join(model.section_names)}")
    pos = times.get_indexer(pd.DatetimeIndex(t))
    off = np.flatnonzero(pos < 0)
    if off.size:
        i = int(off[0])
        step = (times[1] - times[0]) if len(times) > 1 else pd.Timedelta(hours=1)
        raise InputError(source, f"row {i + 2}: time {t.iloc[i]:%Y-%m-%d %H:%M} is not on the forecast's "
                                 f"{step / pd.Timedelta(minutes=1):g}-minute steps ({times[0]:%Y-%m-%d %H:%M} to "
                                 f"{times[-1]:%Y-%m-%d %H:%M})",
                         "give observations at the forecast's step times, within its period (or change --step)")
    q = pd.to_numeric(df["discharge_m3_per_s"], errors="coerce") if "discharge_m3_per_s" in df else None
    h = pd.to_numeric(df["stage_m"], errors="coerce") if "stage_m" in df else None
    out = pd.DataFrame(np.nan, index=times, columns=model.section_ids)
    for i in range(len(df)):
        v = np.nan
        if q is not None and np.isfinite(q.iloc[i]):
            v = float(q.iloc[i])
            if v < 0:
                raise InputError(source, f"row {i + 2}: negative discharge {v}", "discharge must be >= 0 m3/s")
        elif h is not None and np.isfinite(h.iloc[i]):
            v = float(model.ratings[sec[i]].discharge(float(h.iloc[i])))
        else:
            raise InputError(source, f"row {i + 2}: no stage_m or discharge_m3_per_s value",
                             "give the observed level (m) or discharge (m3/s), or drop the row")
        out.iloc[pos[i], model.section_ids.index(sec[i])] = v
    return out


def ar1_correct(sim: np.ndarray, obs: np.ndarray, forgetting: float = FORGETTING,
                phi0: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Causal AR(1) error correction of one series (see module docstring).

    Returns ``(corrected, phi)``: the corrected series and the AR coefficient in force at each step
    (estimated by recursive least squares on consecutive observed errors). Steps before the first
    observation are left as simulated; ``obs`` is NaN where nothing was observed.
    """
    sim = np.asarray(sim, dtype=float)
    obs = np.asarray(obs, dtype=float)
    out = sim.copy()
    phis = np.full(len(sim), np.nan)
    phi = phi0
    num = den = 0.0
    e_last, k_since = None, 0
    prev_err = None  # error at the previous step, when it was observed
    for t in range(len(sim)):
        if np.isfinite(obs[t]):
            e = obs[t] - sim[t]
            if prev_err is not None:
                num = forgetting * num + prev_err * e
                den = forgetting * den + prev_err * prev_err
                if den > 1e-12:
                    phi = float(np.clip(num / den, 0.0, PHI_MAX))
            prev_err = e
            e_last, k_since = e, 0
            out[t] = obs[t]
        else:
            prev_err = None
            if e_last is not None:
                k_since += 1
                out[t] = max(sim[t] + phi**k_since * e_last, 0.0)
        phis[t] = phi
    return out, phis


def lead_forecasts(sim: np.ndarray, obs: np.ndarray, lead: int, forgetting: float = FORGETTING,
                   phi0: float = 0.8) -> np.ndarray:
    """The ``lead``-step-ahead corrected forecast for every target step (NaN where no origin): the
    forecast issued at origin T = t - lead with the observations up to T, Q_sim,t + phi_T^lead e_T."""
    sim = np.asarray(sim, dtype=float)
    obs = np.asarray(obs, dtype=float)
    _, phis = ar1_correct(sim, obs, forgetting, phi0)
    out = np.full(len(sim), np.nan)
    e = obs - sim
    org = np.arange(len(sim) - lead)
    ok = np.isfinite(e[org])
    out[org[ok] + lead] = np.maximum(sim[org[ok] + lead] + phis[org[ok]] ** lead * e[org[ok]], 0.0)
    return out


def correct_forecast(ds, model, observed: pd.DataFrame):
    """The forecast Dataset with ``discharge``, ``stage``, velocities and depth corrected (AR(1) error
    model per section), the uncorrected ones kept as ``*_uncorrected``, ``observed_discharge`` and
    ``correction_phi`` added; warnings made from it use the corrected stage."""
    q = ds["discharge"].transpose("time", "section").values
    corr = q.copy()
    phi_last = np.full(q.shape[1], np.nan)
    nobs = np.zeros(q.shape[1], dtype=int)
    obs = observed.reindex(index=pd.DatetimeIndex(ds["time"].values), columns=model.section_ids).to_numpy(float)
    for j in range(q.shape[1]):
        if np.isfinite(obs[:, j]).any():
            corr[:, j], phis = ar1_correct(q[:, j], obs[:, j])
            phi_last[j] = phis[-1]
            nobs[j] = int(np.isfinite(obs[:, j]).sum())
    out = ds.copy()
    for v in ("discharge", "stage", "velocity", "channel_velocity", "depth"):
        if v in ds:
            out[f"{v}_uncorrected"] = ds[v].copy()
            out[f"{v}_uncorrected"].attrs["long_name"] = f"{ds[v].attrs.get('long_name', v)}, before real-time correction"
    hyd = model.hydraulics(corr.T[None])
    dims = ("time", "section")
    out["discharge"] = (dims, corr, dict(ds["discharge"].attrs, note="real-time corrected (AR(1) error model)"))
    for v in ("stage", "velocity", "channel_velocity", "depth"):
        if v in ds:
            out[v] = (dims, hyd[v][0].T, dict(ds[v].attrs, note="from the corrected discharge"))
    out["observed_discharge"] = (dims, obs, {"units": "m3/s", "long_name": "observed discharge (stages through "
                                                                          "the section rating)"})
    out["correction_phi"] = ("section", phi_last, {"long_name": "AR(1) coefficient of the discharge error at the "
                                                                "last step"})
    out["observed_steps"] = ("section", nobs)
    seen = np.isfinite(obs).any(axis=1)
    out.attrs["real_time_correction"] = "AR(1) error model per section, recursive least squares (hydro.correction)"
    out.attrs["last_observation_time"] = (pd.Timestamp(ds["time"].values[np.flatnonzero(seen)[-1]]).isoformat()
                                          if seen.any() else "")
    return out
