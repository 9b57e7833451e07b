"""One exception hierarchy for floodkit.

Every error a user can cause derives from :class:`FloodkitError`. Messages are one line and name
the input, the field and the fix, e.g.::

    sections.geojson: section '白鹤' has no cross-section profile; add a `profile` column of station,elevation pairs

The CLI turns any ``FloodkitError`` into that line and exit code 2, with no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class FloodkitError(Exception):
    """Base class of every error floodkit raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, what and how to fix it."""

    source: str  # file name (or a layer / argument name)
    message: str  # what is wrong, naming the feature or column
    fix: str = ""  # what the user should do

    def __str__(self) -> str:
        text = f"{self.source}: {self.message}"
        return f"{text}; {self.fix}" if self.fix else text


class InputError(FloodkitError, ValueError):
    """A malformed or inconsistent input. Carries one or more :class:`Problem`.

    Parameters
    ----------
    source : str or Path
        The file (or argument) at fault; only its name is shown.
    message : str
        What is wrong, naming the feature or column.
    fix : str
        What to do about it.
    """

    def __init__(self, source: str | Path | None = None, message: str = "", fix: str = "",
                 *, problems: list[Problem] | None = None):
        if problems is None:
            src = Path(source).name if isinstance(source, Path) else (source or "input")
            problems = [Problem(str(src), message, fix)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CaseError(InputError):
    """A case folder that fails validation (one problem per line)."""


class CRSError(InputError):
    """A missing, wrong or unconvertible coordinate reference system."""


class SimulationError(FloodkitError, RuntimeError):
    """A numerical run that went wrong (instability, NaN), naming the time and the cell."""


class BackendUnavailable(FloodkitError, RuntimeError):
    """A requested compute backend (e.g. CUDA) is not usable on this machine."""


def collect(problems: list[Problem], error_cls: type[InputError] = CaseError) -> None:
    """Raise ``error_cls`` holding ``problems`` if there are any."""
    if problems:
        raise error_cls(problems=problems)
