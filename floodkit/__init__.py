"""floodkit: flash-flood and typhoon decision support, as a Python API.

    import floodkit as fk
    case = fk.load_case("data_samples/dongguanxi")
    fc = fk.forecast(case, design_storm="50y")        # xarray Dataset: discharge, stage, velocity (time, section)
    flood = fk.inundate(case, fc)                     # xarray Dataset: max depth, speed, arrival, duration, snapshots
    exp = fk.expose(case, flood)                      # GeoDataFrames: households, villages, towns
    plan = fk.plan(case, exp, flood)                  # plan: parties, routes, shelters, summary
    fk.webmap(case, fc, flood, exp, plan)             # folium map, shown inline
    run = fk.run(case, design_storm="50y")            # every stage, in memory; run.save("out/x") writes the files
    fk.use_cjk_font()                                 # matplotlib draws Chinese labels with the bundled font

Every stage is a function from products to products in memory; writing files is separate
(``Run.save``). Every saved product names the run that made it (``run.json``, see
:mod:`floodkit.provenance`).
"""

from floodkit.api import (
    briefings,
    event_names,
    expose,
    forecast,
    inundate,
    load_case,
    plan,
    results,
    typhoon,
    use_cjk_font,
    warnings,
    webmap,
)
from floodkit.pipeline import RUNNABLE as STAGES
from floodkit.pipeline import Run, open_run, run
from floodkit.provenance import run_id_of

__all__ = ["STAGES", "Run", "briefings", "event_names", "expose", "forecast", "inundate", "load_case", "open_run",
           "plan", "results", "run", "run_id_of", "typhoon", "use_cjk_font", "warnings", "webmap"]
__version__ = "0.2.0"
