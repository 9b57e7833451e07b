"""Atomic writes: an output file appears whole or not at all.

A county office may kill a run mid-way (power, a new forecast). A reader must never find a
half-written NetCDF or CSV, so every product is written to a temporary file beside its target
and moved into place with :func:`os.replace`, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    Examples
    --------
    >>> with atomic_path("out/forecast.nc") as tmp:   # doctest: +SKIP
    ...     ds.to_netcdf(tmp)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f"{target.suffix}.part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # let the writer create it (some drivers refuse to open an existing empty file)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(target: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(target)


# ----------------------------------------------------------------------------- run provenance
# The run that the products being written now belong to. `floodkit`'s pipeline sets it while a
# stage writes (see floodkit/provenance.py); writers of self-describing formats (GeoPackage, PDF,
# XLSX, HTML) read it here so the file itself names its run. gis never imports floodkit.
_RUN_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("floodkit_run_id", default=None)


def current_run_id() -> str | None:
    """The run id of the products being written now, or None outside a floodkit run."""
    return _RUN_ID.get()


@contextlib.contextmanager
def writing_for_run(run_id: str | None) -> Iterator[None]:
    """Within this block, :func:`current_run_id` returns ``run_id``."""
    token = _RUN_ID.set(run_id)
    try:
        yield
    finally:
        _RUN_ID.reset(token)


def gpkg_metadata() -> dict:
    """``dataset_metadata`` for pyogrio when a run is being written (empty otherwise)."""
    rid = current_run_id()
    return {"dataset_metadata": {"floodkit_run_id": rid}} if rid else {}
