"""The ``inundation`` stage of ``cli.py run``: forcing from the forecast, each drop of rain counted once."""

from __future__ import annotations

import numpy as np


def test_floor_rain_and_section_inflows_add_up_to_the_forecast_volume(sample_case, tmp_path):
    """The 2-D valley floor gets rain on the grid and the forecast discharge at the sections. The
    forecast's discharge already holds the floor's own runoff, so without a correction the floor's
    rain is counted twice (~15 % too much water on the sample). Corrected, the water entering the
    2-D model from the catchment of the last section equals the forecast's discharge volume there."""
    from hydro.forecast import ForecastModel, case_subbasin_rain, forecast
    from hydro.inundation.run import _forecast_forcing, floor_share, valley_floor_mask

    case = sample_case
    model = ForecastModel.from_case(case)
    ds, _ = forecast(case, case_subbasin_rain(case, design_storm="50y"), "wet", 24, model)
    path = tmp_path / "forecast.nc"
    ds.to_netcdf(path)
    mask = valley_floor_mask(case)
    share = floor_share(case, mask)
    assert 0.05 < float((share * case.subbasins.set_index("id").geometry.area).sum()
                        / case.subbasins.geometry.area.sum()) < 0.4

    rain, inflows, _, _, notes = _forecast_forcing(case, path, case.dem, share)
    step = 3600.0
    v_inflow = sum(float(h.values.sum()) * step for h in inflows)
    sb = case.subbasins.set_index("id")
    up = sb.index[sb["outlet_section"].isin(["S1", "S2", "S3"])]
    floor_area_up = float((share[up] * sb.geometry.area[up]).sum())
    v_rain = float(np.sum(rain.rate_mm_per_h)) * rain.runoff_coefficient / 1000.0 * floor_area_up
    q_last = ds["discharge"].sel(section="S3").values
    v_last = float(q_last.sum()) * step

    assert 0.3 < notes["runoff_coefficient_on_floor"] < 1.0
    assert abs(v_inflow + v_rain - v_last) / v_last < 0.03, (v_inflow, v_rain, v_last)
    # the uncorrected forcing (whole lateral discharge + gross rain) over-counts by the floor's share
    gross = float(np.sum(rain.rate_mm_per_h)) / 1000.0 * floor_area_up
    v_uncut = sum(float(h.values.sum()) * step / (1 - notes["floor_share_removed_from_inflow"][h.name.split()[-1]])
                  for h in inflows)
    assert (v_uncut + gross - v_last) / v_last > 0.08
