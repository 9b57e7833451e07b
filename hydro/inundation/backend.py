"""The interface every 2-D backend offers :class:`~hydro.inundation.simulation.Simulation`.

A backend is "what is computed" for one step on its own arrays (numba on the CPU, numba-cuda on a
GPU); ``Simulation`` is "how it is driven" (time step, forcing, outputs). The formulas both use
live once in :mod:`hydro.inundation.physics`. A backend declares what it can do through its
capability attributes, and ``Simulation`` refuses an option a backend lacks instead of dropping it
(e.g. ``lts_levels`` above 1 on CUDA, see ``simulation._engine_class``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Backend(Protocol):
    """One time step of the local-inertial scheme, and access to its state."""

    name: str  # "cpu" or "cuda"
    supports_lts: bool  # local time stepping per tile (tile_steps, set_levels, substep, end_cycle)

    def refresh(self) -> float:
        """Recompute the active tiles from the state; return the largest depth (m)."""

    def pull(self, names: tuple[str, ...] | None = None) -> None:
        """Copy the named state arrays (all by default) from the backend to the host ``State``."""

    def push(self, names: tuple[str, ...] | None = None) -> None:
        """Copy the named state arrays (all by default) from the host ``State`` to the backend."""

    def max_depth(self) -> float:
        """Largest depth now (m)."""

    def add_volume(self, rows: np.ndarray, cols: np.ndarray, volume_per_cell: float) -> float:
        """Point inflow or withdrawal (m3 per cell; physics.point_depth_change); return the volume moved."""

    def impose_stage(self, rows: np.ndarray, cols: np.ndarray, stage_m: float) -> float:
        """Impose a water level on cells; return the volume added (m3)."""

    def step(self, dt: float, t_new: float, rain0: float, rain_all: bool, record: bool = True, *args, **kwargs):
        """One global step of ``dt`` seconds ending at ``t_new``; returns the step statistics."""
