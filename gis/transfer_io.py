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
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS

from gis.atomic import atomic_path, write_text
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
from gis.transfer import TransferOptions, TransferPlan, plan_transfer

HEADERS_ZH = {
    "id": "户编号", "kind": "类型", "village": "村编号", "village_name": "村", "town": "乡镇", "head": "户主",
    "phone": "联系电话", "persons": "人数", "elderly": "老人", "children": "儿童", "disabled": "残疾人",
    "vulnerable": "重点人员", "priority": "优先转移", "max_depth_m": "最大水深(m)",
    "max_speed_m_per_s": "最大流速(m/s)", "hazard_rating": "危险度HR", "hazard_class": "风险等级",
    "arrival_time": "洪水到达时间", "duration_h": "淹没历时(h)", "shelter_id": "安置点编号",
    "shelter_name": "安置点", "walk_min": "步行时间(分钟)", "drive_min": "车行时间(分钟)",
    "route_length_m": "路线长度(m)", "latest_departure": "最迟转移时间", "responsible": "包保责任人",
    "responsible_phone": "责任人电话", "status": "状态", "reason": "未安置原因",
}
VILLAGE_HEADERS_ZH = {
    "village": "村编号", "name": "村名", "town": "乡镇", "population": "人口", "households": "受影响户数",
    "persons": "受影响人数", "vulnerable": "重点人员", "elderly": "老人", "children": "儿童", "disabled": "残疾人",
    "visitors": "游客", "red_households": "红色风险户数", "worst_class": "最高风险等级",
    "first_arrival": "最早洪水到达", "max_depth_m": "最大水深(m)", "responsible": "包保责任人",
    "responsible_phone": "责任人电话", "villages_affected": "受影响村数",
}
QUICK_HEADERS_ZH = {
    "village": "村编号", "name": "村名", "town": "乡镇", "control_section": "控制断面", "flood_level_m": "成灾水位(m)",
    "peak_stage_m": "预报最高水位(m)", "peak_time": "最高水位时间", "reaches_flood_level_at": "达到成灾水位时间",
    "margin_m": "超出成灾水位(m)", "affected": "受影响", "assessed": "已评估", "population": "人口",
    "households": "户数", "responsible": "包保责任人", "responsible_phone": "责任人电话",
}
SHELTER_HEADERS_ZH = {"id": "安置点编号", "name": "安置点", "town": "乡镇", "kind": "类型", "capacity": "容量(人)",
                      "occupied": "安置人数", "free": "剩余容量", "households": "安置户数", "usable": "可用"}
STATUS_ZH = {"assigned": "已安置", "unplaced": "未安置"}
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
def _table_zh(df: pd.DataFrame, headers: dict) -> pd.DataFrame:
    cols = [c for c in headers if c in df]
    out = df[cols].copy()
    for c in cols:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d %H:%M")
        elif out[c].dtype == bool:
            out[c] = out[c].map({True: "是", False: "否"})
    if "status" in out:
        out["status"] = out["status"].map(STATUS_ZH).fillna(out["status"])
    return out.rename(columns=headers)


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
    with atomic_path(path) as tmp:
        wb.save(tmp)


def _gpkg_frame(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
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
            _gpkg_frame(gdf).to_file(tmp, layer=name, driver="GPKG", engine="pyogrio",
                                     mode="a" if tmp.exists() else "w")


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


def exposure_products(case, inundation: Path | None, forecast: Path | None, out_dir: Path,
                      mask: bool = False, population: str | Path | None = None) -> dict:
    """Write the exposure products into ``out_dir``; return a summary.

    With no inundation file only the quick exposure from the forecast is written (and said so).
    """
    out_dir = Path(out_dir)
    summary: dict = {"case": case.name, "masked": mask}
    fpath = _forecast_path(forecast)
    if fpath is not None and fpath.exists():
        q = quick_products(case, fpath, out_dir)
        summary["quick"] = {"villages_affected": int(q["affected"].sum()),
                            "villages": q.loc[q["affected"], "name"].tolist(),
                            "first": str(q["reaches_flood_level_at"].min()) if q["affected"].any() else None}
    if inundation is None:
        summary["mode"] = "quick (forecast only)"
        write_text(out_dir / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2, default=str))
        return summary
    ds = open_inundation(inundation, case.crs)
    hh, vs, villages, towns = exposure_tables(case, ds, inundation.name, population)
    shown = mask_personal(hh) if mask else hh
    exposed = shown[shown["exposed"]].sort_values(["village", "arrival_time"])
    write_gpkg({"households": shown}, out_dir / "households.gpkg")
    write_csv(_table_zh(exposed, HEADERS_ZH), out_dir / "households.csv")
    write_csv(_table_zh(villages, VILLAGE_HEADERS_ZH), out_dir / "villages.csv")
    write_csv(_table_zh(towns, VILLAGE_HEADERS_ZH), out_dir / "towns.csv")
    sheets = {"影响村落": _table_zh(villages, VILLAGE_HEADERS_ZH), "乡镇汇总": _table_zh(towns, VILLAGE_HEADERS_ZH),
              "影响人员清单": _table_zh(exposed, HEADERS_ZH),
              "风险等级说明": pd.DataFrame({"等级": list(HAZARD_MEANING), "含义": list(HAZARD_MEANING.values())})}
    write_xlsx(sheets, out_dir / "exposure.xlsx")
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
    })
    write_text(out_dir / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    return summary


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


def plan_products(case, inundation: Path, out_dir: Path, *, roads: Path | None = None, mask: bool = False,
                  depart: str | None = None, mode: str = "walk", margin_min: float = 30.0,
                  cut_depth_m: float = CUT_DEPTH_M, horizon_min: float = 30.0,
                  population: str | Path | None = None) -> TransferPlan:
    """Build the transfer plan for everyone exposed in ``inundation`` and write its products."""
    out_dir = Path(out_dir)
    ds = open_inundation(inundation, case.crs)
    hh, vs, _, _ = exposure_tables(case, ds, inundation.name, population)
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
    write_plan(plan, out_dir, mask=mask, extra={"case": case.name, "start_time": str(start),
                                                "depart_time": str(start + pd.Timedelta(seconds=depart_s)),
                                                "roads_cut": int(np.sum(graph.cut_time_s <= depart_s + opt.horizon_s)),
                                                "road_edges": int(graph.n_edges), "cut_depth_m": cut_depth_m,
                                                "margin_min": margin_min})
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
