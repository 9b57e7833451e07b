"""Typhoon module: tracks, parametric wind field, wind-circle timing, rain scenario, index triggers.

* :mod:`.tracks` - CMA best track, IBTrACS CSV and forecast CSV readers; hourly interpolation; GB/T 19201 grades
* :mod:`.core_wind`, :mod:`.wind` - Holland (1980) wind field with Holland (2008) B, Willoughby et al. (2006)
  Rmax, Lin & Chavas (2012) asymmetry; points, swath and wind-circle radii
* :mod:`.circles` - arrival/leaving of the 7/10/12-level circles per village and town; deadline timeline
* :mod:`.core_rain`, :mod:`.rain` - R-CLIPER rain (Tuleya et al. 2007), hourly grids and station series
* :mod:`.triggers` - index-insurance rule engine with the 台州 rule built in
* :mod:`.products` - the ``typhoon`` CLI stage: writes every product of OUT/typhoon/
* :mod:`.sample` - the synthetic Lekima-like sample track
"""

from .tracks import grade_of, interpolate_track, level_of, read_track

__all__ = ["grade_of", "interpolate_track", "level_of", "read_track"]
