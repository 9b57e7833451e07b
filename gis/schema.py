"""One schema for what the stages hand each other.

Machine column names are English, lower case, with units (``persons``, ``max_depth_m``,
``arrival_time_s``): these are the columns of the in-memory products (``floodkit.expose``,
``floodkit.plan``, the forecast's warning table) and of the GIS layers (GeoPackage). Chinese
headers appear only in the files meant for officials (CSV/XLSX lists, briefings); they are made
from the English tables with :func:`zh_table` and the maps below, never read back by a stage.
"""

from __future__ import annotations

import pandas as pd

# ----------------------------------------------------------------------------- machine columns
# The columns each stage product is guaranteed to carry (more may follow). Tests hold the
# products to these; maps and briefings read them by these names, not by guessing.
EXPOSURE_HOUSEHOLDS = ("id", "village", "persons", "vulnerable", "max_depth_m", "max_speed_m_per_s",
                       "hazard_rating", "hazard_class", "arrival_time_s", "duration_s", "exposed", "in_domain")
EXPOSURE_VILLAGES = ("village", "name", "town", "population", "households", "persons", "vulnerable",
                     "visitors", "worst_class", "first_arrival", "max_depth_m", "responsible", "responsible_phone")
PLAN_PARTIES = ("id", "kind", "village", "persons", "status", "shelter_id", "shelter_name", "route_length_m",
                "latest_departure", "reason")
WARNINGS = ("kind", "id", "name", "section", "prepare_level_m", "move_level_m", "peak_stage_m", "peak_time",
            "prepare_time", "move_time", "action")

# ----------------------------------------------------------------------------- officials' headers
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


def zh_table(df: pd.DataFrame, headers: dict) -> pd.DataFrame:
    """The officials' version of a machine table: the mapped columns only, Chinese headers, times as
    'YYYY-MM-DD HH:MM', booleans as 是/否, plan status in Chinese."""
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


def missing_columns(df, required: tuple[str, ...]) -> list[str]:
    """The schema columns ``df`` lacks (empty when it conforms)."""
    return [c for c in required if c not in df.columns]
