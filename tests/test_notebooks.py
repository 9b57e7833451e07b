"""The analyst's notebooks run top to bottom on the sample case, with their figures inline.

Each notebook is executed in a fresh ``python3`` kernel (which inherits this process's environment,
so it imports floodkit from this checkout). A notebook that plots must show at least one PNG
figure inline, and nothing may mention the Agg backend (``matplotlib.use("Agg")`` in a notebook,
or in library code it calls, stops every later figure from appearing in Jupyter).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
PLOTS = re.compile(r"\bplt\.|\.plot\b|\.plot\.|\.imshow\(|\.hist\(|\.bar\(")
PRIVATE_IMPORT = re.compile(r"^\s*(from|import)\s+(hydro|gis|cli)\b", re.MULTILINE)


def _code(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _texts(output) -> list[str]:
    """Every piece of text an output carries (stream text, tracebacks, text/* data)."""
    out = []
    if output.output_type == "stream":
        out.append(output.get("text", ""))
    if output.output_type == "error":
        out += [output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") and mime != "text/html":
            out.append(value if isinstance(value, str) else "".join(value))
    return out


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_forecast.ipynb", "02_inundation.ipynb",
                                           "03_exposure_and_transfer.ipynb", "04_typhoon.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stripped_and_public(path: Path):
    """Committed without outputs, and written against the public API only (``import floodkit as fk``)."""
    nb = nbformat.read(path, as_version=4)
    for cell in _code(nb):
        assert cell.get("outputs") == [], f"{path.name}: a cell has outputs; strip them before committing"
        assert cell.get("execution_count") is None, f"{path.name}: execution_count must be null"
    source = "\n".join(c.source for c in _code(nb))
    assert "import floodkit as fk" in source
    assert not PRIVATE_IMPORT.findall(source), f"{path.name} imports hydro/gis/cli directly: use floodkit's API"
    assert "matplotlib.use" not in source
    if PLOTS.search(source):
        assert "%matplotlib inline" in source
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "SYNTHETIC" in text, f"{path.name} must say plainly that the sample is synthetic"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = [o for c in _code(nb) for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, "\n".join(f"{o.ename}: {o.evalue}" for o in errors)
    if PLOTS.search("\n".join(c.source for c in _code(nb))):
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert images, f"{path.name} plots but no figure was shown inline"
    agg = [t for o in outputs for t in _texts(o) if "Agg" in t or re.search(r"\bagg\b", t)]
    assert not agg, f"{path.name}: an output mentions the Agg backend: {agg[0][:300]}"
