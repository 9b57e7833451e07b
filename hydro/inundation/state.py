"""The model state: every per-cell array the solver keeps, in one container.

Bytes per cell (float32 state, the default), on the padded grid:

======================  =====  ==========================================================
array                   bytes  meaning
======================  =====  ==========================================================
``z``                   4      bed elevation (NaN outside the domain)
``h``                   4      water depth
``qx``, ``qy``          8      unit discharge through the east and south faces
``n``                   4      Manning n (only when it varies in space; 0 otherwise)
``rain``                2      net rain rate, uint16 codes (only for gridded rain)
accumulators            24     max depth, (max speed)^6, (max depth x speed)^6, arrival
                               time, duration, time of max depth (always float32; the
                               outputs take the sixth roots, see physics.cell_outputs)
======================  =====  ==========================================================

Total: 40 bytes per cell with uniform n and rain, 46 with both gridded. Per-tile arrays
(activity, volume) and two saved rows per tile row for the theta weighting add
``2 / tile_size * itemsize`` bytes per cell (0.25 at the default 32-cell tiles in float32). :meth:`State.bytes_per_cell`
counts it all and the test suite holds it at or under 48. With ``dtype=float64`` the 6 state
arrays double (the accumulators stay float32).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

ACCUMULATORS = ("max_h", "max_speed", "max_hv", "arrival", "duration", "t_max")


@dataclass
class State:
    """Padded arrays (a ring of NaN cells around the DEM) and the tile bookkeeping."""

    z: np.ndarray
    h: np.ndarray
    qx: np.ndarray
    qy: np.ndarray
    n: np.ndarray  # (NY, NX) or (1, 1) when uniform
    rain: np.ndarray  # uint16 codes (NY, NX), or (1, 1) when uniform
    max_h: np.ndarray
    max_speed: np.ndarray
    max_hv: np.ndarray
    arrival: np.ndarray
    duration: np.ndarray
    t_max: np.ndarray
    active: np.ndarray  # (nty, ntx) bool
    tile_wet: np.ndarray
    tile_vol: np.ndarray  # float64
    forced: np.ndarray
    tile_valid: np.ndarray  # tiles holding at least one valid cell
    tile_edge: np.ndarray  # tiles holding a valid cell next to an outside (NaN) cell
    top_old: np.ndarray  # (nty, NX) theta-weighting edge rows
    bot_old: np.ndarray
    tile_size: int

    @classmethod
    def allocate(cls, dem: np.ndarray, depth: np.ndarray, n: np.ndarray | float, gridded_rain: bool,
                 dtype=np.float32, tile_size: int = 64) -> State:
        ny, nx = dem.shape
        NY, NX = ny + 2, nx + 2
        z = np.full((NY, NX), np.nan, dtype=dtype)
        z[1:-1, 1:-1] = dem
        h = np.zeros((NY, NX), dtype=dtype)
        h[1:-1, 1:-1] = np.where(np.isnan(dem), 0.0, depth)
        if np.ndim(n) == 0:
            n_arr = np.full((1, 1), float(n), dtype=dtype)
        else:
            n_arr = np.zeros((NY, NX), dtype=dtype)
            n_arr[1:-1, 1:-1] = np.where(np.isnan(dem), 0.0, n)
        rain = np.zeros((NY, NX) if gridded_rain else (1, 1), dtype=np.uint16)
        acc = {k: np.zeros((NY, NX), dtype=np.float32) for k in ACCUMULATORS}
        acc["arrival"][:] = np.nan
        acc["t_max"][:] = np.nan
        nty, ntx = -(-NY // tile_size), -(-NX // tile_size)
        pad = np.zeros((nty * tile_size, ntx * tile_size), bool)
        pad[:NY, :NX] = ~np.isnan(z)
        tile_valid = pad.reshape(nty, tile_size, ntx, tile_size).any(axis=(1, 3))
        v = pad[:NY, :NX]
        near_out = np.zeros_like(v)
        near_out[1:-1, 1:-1] = v[1:-1, 1:-1] & ~(v[:-2, 1:-1] & v[2:, 1:-1] & v[1:-1, :-2] & v[1:-1, 2:])
        pad[:NY, :NX] = near_out
        tile_edge = pad.reshape(nty, tile_size, ntx, tile_size).any(axis=(1, 3))
        return cls(z=z, h=h, qx=np.zeros((NY, NX), dtype), qy=np.zeros((NY, NX), dtype), n=n_arr, rain=rain,
                   **acc, active=np.ones((nty, ntx), bool), tile_wet=np.ones((nty, ntx), bool),
                   tile_vol=np.zeros((nty, ntx)), forced=np.zeros((nty, ntx), bool), tile_valid=tile_valid, tile_edge=tile_edge,
                   top_old=np.zeros((nty, NX), dtype), bot_old=np.zeros((nty, NX), dtype),
                   tile_size=tile_size)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tile_size"}

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values())

    def bytes_per_cell(self) -> float:
        """All per-cell and per-tile memory of the state divided by the number of DEM cells."""
        ny, nx = self.z.shape
        return self.nbytes() / ((ny - 2) * (nx - 2))

    def interior(self, a: np.ndarray) -> np.ndarray:
        """View of a padded array without its NaN ring (DEM shape)."""
        return a[1:-1, 1:-1]
