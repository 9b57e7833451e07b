"""The river network of a case: sections, the links between them, sub-basins and confluences.

One object answers every question the forecast and the 2-D forcing ask of the network, so both
walk it the same way: which sections lie directly upstream of a section (two or more at a
confluence), the whole catchment above a section, the sub-basins draining to it and its upstream
area. Links come from the sections table's ``downstream`` column; sub-basins drain to their
``outlet_section``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gis.errors import InputError


@dataclass(frozen=True)
class RiverNetwork:
    """Sections linked by ``downstream`` (section id -> the next section down, or None)."""

    section_ids: tuple[str, ...]
    downstream: dict[str, str | None]
    subbasin_ids: tuple[str, ...] = ()
    outlet: np.ndarray | None = None  # section index per sub-basin, -1 below the last section
    area_km2: np.ndarray | None = None  # per sub-basin

    def __post_init__(self) -> None:
        for s, d in self.downstream.items():
            if d is not None and d not in self.section_ids:
                raise InputError("sections", f"section '{s}' flows to '{d}', which is not a section",
                                 "fix the `downstream` column")
        self.order()  # raises on a loop

    @classmethod
    def from_case(cls, case) -> RiverNetwork:
        """The network of a loaded case: ``downstream`` links of its sections, sub-basin outlets and areas."""
        sec = case.sections.reset_index(drop=True)
        ids = tuple(str(s) for s in sec["id"])
        down = {}
        for i, sid in enumerate(ids):
            d = sec.loc[i, "downstream"] if "downstream" in sec else None
            empty = d is None or (isinstance(d, float) and np.isnan(d)) or str(d).strip() in ("", "nan", "None")
            down[sid] = None if empty else str(d)
        sb = case.subbasins.reset_index(drop=True)
        outlet = np.array([ids.index(str(o)) if str(o) in ids else -1 for o in sb["outlet_section"]])
        return cls(ids, down, tuple(str(s) for s in sb["id"]), outlet, sb.geometry.area.to_numpy() / 1e6)

    def upstream(self, section: str) -> list[str]:
        """The sections directly upstream of ``section`` (two or more at a confluence), in table order."""
        return [s for s in self.section_ids if self.downstream.get(s) == section]

    def all_upstream(self, section: str) -> set[str]:
        """``section`` and every section above it."""
        seen, todo = {section}, [section]
        while todo:
            for u in self.upstream(todo.pop()):
                if u not in seen:
                    seen.add(u)
                    todo.append(u)
        return seen

    @property
    def confluences(self) -> list[str]:
        """Sections where two or more upstream sections join."""
        return [s for s in self.section_ids if len(self.upstream(s)) >= 2]

    @property
    def outlets(self) -> list[str]:
        """Sections with no section downstream."""
        return [s for s in self.section_ids if self.downstream.get(s) is None]

    def order(self) -> list[str]:
        """Sections from upstream to downstream (every section after all of those above it)."""
        indeg = {s: len(self.upstream(s)) for s in self.section_ids}
        ready = [s for s in self.section_ids if indeg[s] == 0]
        out: list[str] = []
        while ready:
            s = ready.pop(0)
            out.append(s)
            d = self.downstream.get(s)
            if d is not None:
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
        if len(out) != len(self.section_ids):
            loop = sorted(set(self.section_ids) - set(out))
            raise InputError("sections", f"the `downstream` links form a loop through {', '.join(loop)}",
                             "each section must flow to one further down, or to none")
        return out

    def upstream_subbasins(self, section: str) -> np.ndarray:
        """Boolean mask of sub-basins draining to ``section`` directly or through sections above it."""
        if self.outlet is None:
            return np.zeros(0, bool)
        idx = [self.section_ids.index(s) for s in self.all_upstream(section)]
        return np.isin(self.outlet, idx)

    def lateral_subbasins(self, section: str) -> np.ndarray:
        """Boolean mask of the sub-basins whose outlet is ``section`` itself."""
        if self.outlet is None:
            return np.zeros(0, bool)
        return self.outlet == self.section_ids.index(section)

    def upstream_area_km2(self, section: str) -> float:
        if self.area_km2 is None:
            return float("nan")
        return float(self.area_km2[self.upstream_subbasins(section)].sum())
