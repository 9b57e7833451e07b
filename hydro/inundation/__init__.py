"""2-D inundation: the local-inertial shallow-water solver (Bates et al. 2010; de Almeida et al. 2012).

- ``core_inertial``: numba kernels (the physics), pure functions over arrays;
- ``state``: the per-cell arrays (<= 48 bytes per cell, accumulators included);
- ``backend_cpu``: one time step on the CPU; a CUDA backend can sit beside it;
- ``simulation``: the time loop (:class:`Simulation`), forcing, water balance, checkpoints;
- ``forcing``: rain, inflow and stage hydrographs;
- ``outputs``: the xarray Dataset, NetCDF, extent polygons, water balance, summary;
- ``io``: reading rasters and boundary-condition files for the CLI and the ``run`` stage.
"""

from .forcing import Hydrograph, Rain
from .simulation import Simulation, SimulationOptions

__all__ = ["Hydrograph", "Rain", "Simulation", "SimulationOptions"]
