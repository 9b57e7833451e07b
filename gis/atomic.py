"""Atomic writes: an output file appears whole or not at all.

A county office may kill a run mid-way (power, a new forecast). A reader must never find a
half-written NetCDF or CSV, so every product is written to a temporary file beside its target
and moved into place with :func:`os.replace`, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
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
