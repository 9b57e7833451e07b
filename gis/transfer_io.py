"""Exposure and transfer-plan products: the files officials open, and the stage runners.

Lists for officials are CSV (UTF-8 with BOM, so Excel shows Chinese) and XLSX with Chinese
headers; GIS layers are GeoPackage with plain column names; a JSON summary goes to the next stage.
Residents' names (户主) and phone numbers appear only in the officials' lists; ``mask_personal``
masks them (138****1234, 程**) everywhere for wider distribution. The 包保责任人 and their phone
are official contacts and are not masked.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS

from gis.atomic import atomic_path, current_run_id, gpkg_metadata, write_text
from gis.errors import CRSError, InputError
from gis.exposure import (
    HAZARD_MEANING,
    affected_depth_m,
    aggregate_exposure,
    household_exposure,
    population_to_households,
    quick_exposure,
    visitor_exposure,
)
from gis.roads import CUT_DEPTH_M, build_graph, first_exceedance_s, flood_cut_times, load_roads
from gis.schema import (  # noqa: E402 - the officials' headers live in the one schema module
    HEADERS_ZH,
    QUICK_HEADERS_ZH,
    SHELTER_HEADERS_ZH,
    VILLAGE_HEADERS_ZH,
    zh_table,
)
from gis.transfer import TransferOptions, TransferPlan, plan_transfer

VISITOR_PARTY = 10  # visitors at a site are moved in parties of at most this many persons


# ----------------------------------------------------------------------------- personal data
def mask_phone(p: object) -> str:
    """'13805710001' -> '138****0001' (first 3 and last 4 digits kept)."""
    s = "" if p is None or (isinstance(p, float) and np.isnan(p)) else str(p)
    return s[:3] + "*" * (len(s) - 7) + s[-4:] if len(s) > 7 else "*" * len(s)


def mask_name(n: object) -> str:
    """'程某秀' -> '程**' (family name kept)."""
    s = "" if n is None or (isinstance(n, float) and np.isnan(n)) else str(n)
    return s[:1] + "*" * (len(s) - 1) if s else ""


def mask_personal(df: pd.DataFrame) -> pd.DataFrame:
    """Mask residents' names and phone numbers (columns ``head`` and ``phone``)."""
    out = df.copy()
    if "head" in out:
        out["head"] = out["head"].map(mask_name)
    if "phone" in out:
        out["phone"] = out["phone"].map(mask_phone)
    return out


# ----------------------------------------------------------------------------- writers
_table_zh = zh_table


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8-sig")


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """XLSX with one sheet per table, written in openpyxl's streaming mode (several times faster)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    for name, df in sheets.items():
        ws = wb.create_sheet(name)
        for i, col in enumerate(df.columns, start=1):
            sample = [len(str(v)) for v in df[col].head(100)]
            ws.column_dimensions[get_column_letter(i)].width = min(max([len(str(col)) * 2] + sample) + 2, 60)
        ws.freeze_panes = "A2"
        ws.append([str(c) for c in df.columns])
        values = df.astype(object).where(df.notna(), None).to_numpy()
        for row in values:
            ws.append([v.item() if isinstance(v, np.generic) else v for v in row])
    if current_run_id():
        wb.properties.identifier = f"floodkit run {current_run_id()}"
    with atomic_path(path) as tmp:
        wb.save(tmp)


def _gpkg_frame(gdf):
    out = gdf.copy()
    for c in out.columns:
        if c == "geometry":
            continue
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif out[c].dtype == object:
            out[c] = out[c].astype(str)
    return out


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(extension|application_id).*")  # the .part suffix
        for name, gdf in layers.items():
            if isinstance(gdf, gpd.GeoDataFrame) and gdf._geometry_column_name in gdf:
                _gpkg_frame(gdf).to_file(tmp, layer=name, driver="GPKG", engine="pyogrio",
                                         mode="a" if tmp.exists() else "w", **gpkg_metadata())
            else:  # an attribute table (village and town totals)
                import pyogrio

                pyogrio.write_dataframe(pd.DataFrame(_gpkg_frame(gdf)), tmp, layer=name, driver="GPKG",
                                        append=tmp.exists(), **gpkg_metadata())


# ----------------------------------------------------------------------------- inputs
def open_inundation(path: Path, crs: CRS | None = None) -> xr.Dataset:
    """Open ``inundation.nc`` and check its CRS against the case."""
    if not path.exists():
        raise InputError(path, "file not found", "run the inundation stage first, or give --inundation DIR")
    try:
        ds = xr.open_dataset(path, decode_timedelta=False)
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"cannot read ({exc})", "give the inundation.nc the inundation stage wrote") from None
    if crs is not None:
        try:
            ds_crs = ds.rio.crs
        except Exception:  # noqa: BLE001
            ds_crs = None
        if ds_crs is not None and not CRS.from_user_input(ds_crs).equals(crs, ignore_axis_order=True):
            raise CRSError(path, f"grid CRS is {CRS.from_user_input(ds_crs).to_string()} but the case is "
                           f"{crs.to_string()}", "rerun the inundation on the case")
    return ds


def _forecast_path(forecast: str | Path | None) -> Path | None:
    if forecast is None:
        return None
    p = Path(forecast)
    return p / "forecast.nc" if p.is_dir() else p


def quick_products(case, forecast: Path, out_dir: Path) -> pd.DataFrame:
    """Write ``quick_exposure.csv`` from the forecast alone and return the table."""
    if not forecast.exists():
        raise InputError(forecast, "file not found", "run the forecast stage first, or give --forecast FILE")
    with xr.open_dataset(forecast) as fc:
        q = quick_exposure(fc.load(), case.villages, forecast.name)
    write_csv(_table_zh(q, QUICK_HEADERS_ZH), out_dir / "quick_exposure.csv")
    return q


def read_population(path: str | Path, crs: CRS | None = None) -> xr.DataArray:
    """A population raster (GeoTIFF, persons per cell) in the case CRS; nodata becomes 0."""
    import rioxarray

    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found", "give a GeoTIFF of persons per cell")
    try:
        da = rioxarray.open_rasterio(path, masked=True).squeeze("band", drop=True)
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"cannot read ({exc})", "give a GeoTIFF of persons per cell") from None
    if crs is not None and (da.rio.crs is None or not CRS.from_user_input(da.rio.crs).equals(crs, ignore_axis_order=True)):
        raise CRSError(path, f"the population raster is in {da.rio.crs}, not the case CRS {crs.to_string()}",
                       f"reproject it to {crs.to_string()} (e.g. gdalwarp -t_srs {crs.to_string()})")
    return da.fillna(0.0)


def _households(case, population: str | Path | None):
    if population is not None:
        return population_to_households(read_population(population, case.crs), case.villages)
    if case.households is None or len(case.households) == 0:
        raise InputError("case.toml", "the case has no households layer",
                         "add `households` under [layers] or give --population raster.tif")
    return case.households


def exposure_tables(case, ds: xr.Dataset, source: str = "inundation.nc", population: str | Path | None = None):
    """Per-household and per-visitor-site exposure, with village and town totals.

    With ``population`` (a GeoTIFF of persons per cell) the raster replaces the household register.
    """
    hh = household_exposure(_households(case, population), ds, case.villages, source)
    hh["duration_h"] = np.round(hh["duration_s"] / 3600.0, 2)
    hh["kind"] = "住户"
    vs = visitor_exposure(case.visitor_sites, ds, case.villages, source) if case.visitor_sites is not None else None
    if vs is not None and "duration_s" in vs:
        vs["duration_h"] = np.round(vs["duration_s"] / 3600.0, 2)
    villages, towns = aggregate_exposure(hh, vs, case.villages)
    return hh, vs, villages, towns


@dataclass
class Exposure:
    """Who and what the flood reaches: the stage product of ``floodkit.expose``.

    ``households`` (GeoDataFrame, one row per household, machine columns of gis.schema), ``visitors``
    (per visitor site, or None), ``villages`` and ``towns`` (totals), ``quick`` (villages whose
    control section reaches their flood level in the forecast, or None) and a ``summary`` dict.
    """

    households: gpd.GeoDataFrame | None
    visitors: gpd.GeoDataFrame | None
    villages: pd.DataFrame | None
    towns: pd.DataFrame | None
    quick: pd.DataFrame | None
    summary: dict

    def __repr__(self) -> str:
        s = self.summary
        if s.get("mode") == "2-D inundation":
            return (f"<Exposure: {s['persons_exposed']} persons in {s['households_exposed']} households, "
                    f"{s['villages_affected']} villages; by colour {s['by_class_persons']}>")
        return f"<Exposure: {s.get('mode')}>"


def compute_exposure(case, ds: xr.Dataset | None, forecast: xr.Dataset | None = None,
                     population: str | Path | None = None, source: str = "inundation.nc") -> Exposure:
    """Exposure of the case's households and visitor sites to an inundation Dataset (and the quick
    exposure from a forecast Dataset); with no inundation only the quick exposure."""
    summary: dict = {"case": case.name}
    quick = None
    if forecast is not None:
        quick = quick_exposure(forecast, case.villages, "forecast.nc")
        summary["quick"] = {"villages_affected": int(quick["affected"].sum()),
                            "villages": quick.loc[quick["affected"], "name"].tolist(),
                            "first": str(quick["reaches_flood_level_at"].min()) if quick["affected"].any() else None}
    if ds is None:
        summary["mode"] = "quick (forecast only)"
        return Exposure(None, None, None, None, quick, summary)
    hh, vs, villages, towns = exposure_tables(case, ds, source, population)
    summary.update({
        "mode": "2-D inundation",
        "households_exposed": int(hh["exposed"].sum()),
        "persons_exposed": int(hh.loc[hh["exposed"], "persons"].sum()),
        "vulnerable_exposed": int(hh.loc[hh["exposed"], "vulnerable"].sum()),
        "visitors_exposed": int(vs.loc[vs["exposed"], "visitors"].sum()) if vs is not None and len(vs) else 0,
        "villages_affected": int((villages["persons"] > 0).sum()),
        "households_outside_2d_domain": int((~hh["in_domain"]).sum()),
        "by_class_persons": {c: int(hh.loc[hh["hazard_class"] == c, "persons"].sum()) for c in HAZARD_MEANING},
        "hazard_scheme": "Defra/EA FD2320/FD2321 HR = d(v+0.5)+DF; 蓝<0.75≤黄<1.25≤橙<2.0≤红",
        "min_depth_m": affected_depth_m(ds),
        "start_time": str(ds.attrs.get("start_time", "")),
    })
    return Exposure(hh, vs, villages, towns, quick, summary)


def write_exposure(exp: Exposure, out_dir: Path, mask: bool = False) -> None:
    """households.gpkg (layers households, villages, towns, visitors: machine columns), the officials'
    lists households.csv, villages.csv, towns.csv, exposure.xlsx (Chinese headers), quick_exposure.csv
    and summary.json."""
    out_dir = Path(out_dir)
    summary = dict(exp.summary, masked=mask)
    if exp.quick is not None:
        write_csv(_table_zh(exp.quick, QUICK_HEADERS_ZH), out_dir / "quick_exposure.csv")
    if exp.households is not None:
        shown = mask_personal(exp.households) if mask else exp.households
        exposed = shown[shown["exposed"]].sort_values(["village", "arrival_time"])
        layers = {"households": shown}
        for name, t in (("villages", exp.villages), ("towns", exp.towns)):
            if t is not None:
                layers[name] = pd.DataFrame(t).reset_index(drop=True)
        if exp.visitors is not None and len(exp.visitors):
            layers["visitors"] = exp.visitors
        write_gpkg(layers, out_dir / "households.gpkg")
        write_csv(_table_zh(exposed, HEADERS_ZH), out_dir / "households.csv")
        write_csv(_table_zh(exp.villages, VILLAGE_HEADERS_ZH), out_dir / "villages.csv")
        write_csv(_table_zh(exp.towns, VILLAGE_HEADERS_ZH), out_dir / "towns.csv")
        sheets = {"影响村落": _table_zh(exp.villages, VILLAGE_HEADERS_ZH),
                  "乡镇汇总": _table_zh(exp.towns, VILLAGE_HEADERS_ZH),
                  "影响人员清单": _table_zh(exposed, HEADERS_ZH),
                  "风险等级说明": pd.DataFrame({"等级": list(HAZARD_MEANING), "含义": list(HAZARD_MEANING.values())})}
        write_xlsx(sheets, out_dir / "exposure.xlsx")
    write_text(out_dir / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2, default=str))


def read_exposure(folder: Path) -> Exposure | None:
    """An :class:`Exposure` back from the folder :func:`write_exposure` wrote (None if it has none)."""
    folder = Path(folder)
    gp = folder / "households.gpkg"
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8")) if (folder / "summary.json").is_file() \
        else {}
    if not gp.is_file():
        return Exposure(None, None, None, None, None, summary) if summary else None
    import pyogrio

    layers = {row[0] for row in pyogrio.list_layers(gp)}

    def layer(name):
        if name not in layers:
            return None
        g = gpd.read_file(gp, layer=name, engine="pyogrio")
        return g if name in ("households", "visitors") else pd.DataFrame(g.drop(columns="geometry", errors="ignore"))

    return Exposure(layer("households"), layer("visitors"), layer("villages"), layer("towns"), None, summary)


def exposure_products(case, inundation: Path | None, forecast: Path | None, out_dir: Path,
                      mask: bool = False, population: str | Path | None = None) -> dict:
    """Write the exposure products into ``out_dir``; return a summary.

    With no inundation file only the quick exposure from the forecast is written (and said so).
    """
    fpath = _forecast_path(forecast)
    fc = None
    if fpath is not None and fpath.exists():
        with xr.open_dataset(fpath) as f:
            fc = f.load()
    ds = open_inundation(inundation, case.crs) if inundation is not None else None
    exp = compute_exposure(case, ds, fc, population, inundation.name if inundation is not None else "inundation.nc")
    write_exposure(exp, out_dir, mask)
    return dict(exp.summary, masked=mask)


# ----------------------------------------------------------------------------- plan
def plan_people(hh: gpd.GeoDataFrame, vs: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """The exposed households plus visitors at exposed sites, in parties of at most 10."""
    people = hh[hh["exposed"]].copy()
    people["kind"] = "住户"
    if vs is not None and len(vs) and vs["exposed"].any():
        e = vs[vs["exposed"]].reset_index(drop=True)
        n = e["visitors"].fillna(0).astype(np.int64).to_numpy()
        parties = -(-n // VISITOR_PARTY)
        v = e.loc[np.repeat(np.arange(len(e)), parties)].reset_index(drop=True)
        k = np.arange(len(v)) - np.repeat(np.cumsum(parties) - parties, parties)
        v["id"] = v["id"].astype(str) + "-" + (k + 1).astype(str)
        v["persons"] = np.minimum(VISITOR_PARTY, np.repeat(n, parties) - k * VISITOR_PARTY)
        names = v["name"].astype(str) if "name" in v else v["id"].astype(str)
        v["kind"] = "游客(" + names + ")"
        v["head"], v["phone"] = "", ""
        v["vulnerable"] = v["elderly"] = v["children"] = v["disabled"] = 0  # not known for visitors
        if len(v):
            people = pd.concat([people, v[[c for c in v.columns if c in people.columns]]], ignore_index=True)
    for c in ("persons", "elderly", "children", "disabled", "vulnerable"):
        if c in people:
            people[c] = people[c].fillna(0).astype(np.int64)
    return gpd.GeoDataFrame(people.reset_index(drop=True), geometry="geometry", crs=hh.crs)


def compute_plan(case, ds: xr.Dataset, exposure: Exposure | None = None, *, roads: Path | None = None,
                 depart: str | None = None, mode: str = "walk", margin_min: float = 30.0,
                 cut_depth_m: float = CUT_DEPTH_M, horizon_min: float = 30.0,
                 population: str | Path | None = None) -> TransferPlan:
    """The transfer plan for everyone exposed: the households and visitors of ``exposure`` (computed
    from ``ds`` when not given), over the roads not cut by the flood in ``ds``. ``plan.summary``
    also holds the plan's settings (start and departure time, roads cut, margin)."""
    if exposure is None or exposure.households is None:
        hh, vs, _, _ = exposure_tables(case, ds, "inundation.nc", population)
    else:
        hh, vs = exposure.households, exposure.visitors
    people = plan_people(hh, vs)
    road_lines = load_roads(roads, case.crs) if roads is not None else case.roads
    graph = build_graph(road_lines)
    flood_cut_times(graph, ds, cut_depth_m)
    start = pd.Timestamp(ds.attrs["start_time"])
    depart_s = 0.0
    if depart:
        try:
            depart_s = (pd.Timestamp(depart) - start).total_seconds()
        except ValueError:
            raise InputError("--depart", f"'{depart}' is not a time", "write it as 'YYYY-MM-DD HH:MM'") from None
    sx, sy = case.shelters.geometry.x.to_numpy(), case.shelters.geometry.y.to_numpy()
    shelter_flooded = np.isfinite(first_exceedance_s(ds, sx, sy, affected_depth_m(ds)))
    opt = TransferOptions(depart_s=depart_s, mode=mode, margin_s=margin_min * 60.0, horizon_s=horizon_min * 60.0,
                          start_time=start)
    plan = plan_transfer(people, case.shelters, graph, opt, shelter_flooded)
    plan.summary = {"case": case.name, "start_time": str(start),
                    "depart_time": str(start + pd.Timedelta(seconds=depart_s)),
                    "roads_cut": int(np.sum(graph.cut_time_s <= depart_s + opt.horizon_s)),
                    "road_edges": int(graph.n_edges), "cut_depth_m": cut_depth_m, "margin_min": margin_min,
                    **plan.summary}
    return plan


def plan_products(case, inundation: Path, out_dir: Path, *, roads: Path | None = None, mask: bool = False,
                  depart: str | None = None, mode: str = "walk", margin_min: float = 30.0,
                  cut_depth_m: float = CUT_DEPTH_M, horizon_min: float = 30.0,
                  population: str | Path | None = None) -> TransferPlan:
    """Build the transfer plan for everyone exposed in ``inundation`` and write its products."""
    ds = open_inundation(inundation, case.crs)
    plan = compute_plan(case, ds, None, roads=roads, depart=depart, mode=mode, margin_min=margin_min,
                        cut_depth_m=cut_depth_m, horizon_min=horizon_min, population=population)
    write_plan(plan, Path(out_dir), mask=mask)
    return plan


def write_plan(plan: TransferPlan, out_dir: Path, mask: bool = False, extra: dict | None = None) -> None:
    """plan.csv, plan.xlsx, plan.gpkg (households, routes, shelters), unplaced.csv, summary.json."""
    out_dir = Path(out_dir)
    p = mask_personal(plan.parties) if mask else plan.parties
    p = p.sort_values(["status", "priority", "village", "latest_departure_s"], ascending=[True, False, True, True])
    table = _table_zh(p, HEADERS_ZH)
    unplaced = _table_zh(p[p["status"] == "unplaced"], HEADERS_ZH)
    shelters = _table_zh(plan.shelters, SHELTER_HEADERS_ZH)
    write_csv(table, out_dir / "plan.csv")
    write_csv(unplaced, out_dir / "unplaced.csv")
    assigned = _table_zh(p[p["status"] == "assigned"], HEADERS_ZH)
    write_xlsx({"转移安置清单": assigned, "未安置人员": unplaced, "安置点": shelters}, out_dir / "plan.xlsx")
    layers = {"households": p, "shelters": plan.shelters}
    if plan.routes is not None:
        layers["routes"] = plan.routes
    write_gpkg(layers, out_dir / "plan.gpkg")
    summary = dict(extra or {})
    summary.update(plan.summary)
    summary["masked"] = mask
    summary["shelter_use"] = [
        {"id": str(r["id"]), "name": str(r.get("name", "")), "capacity": int(r["capacity"]),
         "occupied": int(r["occupied"]), "usable": bool(r["usable"])} for _, r in plan.shelters.iterrows()]
    write_text(out_dir / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2, default=str))
