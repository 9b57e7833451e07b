"""What a run forecasts, in a form both machines and officials read (run.json, maps, briefings)."""

from __future__ import annotations

from pathlib import Path

from floodkit.provenance import scenario_label


def describe(case, *, rain=None, design_storm: str | None = None, nowcast=None, typhoon: str | None = None,
             issue_time: str | None = None) -> dict:
    """The scenario of a run as a dict: ``kind`` (design_storm, event, rain_file, rain_data for rain in
    memory, typhoon), ``name``, ``rehearsal`` (True for design storms: 预演), ``issue_time`` and
    ``label_zh`` (its words)."""
    if design_storm is not None:
        rp = None
        ds = getattr(case, "design_storms", None)
        if ds is not None and design_storm in getattr(ds, "index", []) and "return_period_years" in ds:
            rp = float(ds.loc[design_storm, "return_period_years"])
        sc = {"kind": "design_storm", "name": design_storm, "return_period_years": rp, "rehearsal": True}
    elif typhoon is not None:
        sc = {"kind": "typhoon", "name": typhoon, "rehearsal": False}
    elif rain is not None and hasattr(rain, "attrs") and not isinstance(rain, str | Path):
        # rain in memory (a DataFrame or an xarray rain grid): named by its attributes, never by its repr
        attrs = getattr(rain, "attrs", {}) or {}
        if attrs.get("storm"):  # a typhoon's rain grid (fk.typhoon(case).rain)
            sc = {"kind": "typhoon", "name": str(attrs["storm"]), "rehearsal": False}
        else:
            sc = {"kind": "rain_data", "name": str(attrs.get("source") or attrs.get("title") or ""),
                  "rehearsal": False}
    elif rain is not None and str(rain) in (getattr(case, "events", None) or {}):
        sc = {"kind": "event", "name": str(rain), "rehearsal": False}
    elif rain is not None:
        sc = {"kind": "rain_file", "name": Path(str(rain)).name, "path": str(rain), "rehearsal": False}
    else:
        sc = {"kind": "none", "name": "", "rehearsal": False}
    if nowcast is not None:
        sc["nowcast"] = str(nowcast)
    if issue_time and sc["kind"] != "design_storm":
        sc["issue_time"] = str(issue_time)
    sc["label_zh"] = scenario_label(sc)
    return sc
