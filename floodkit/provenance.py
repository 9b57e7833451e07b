"""Run provenance: every run has an id and a manifest, and every product names the run that made it.

A run is one pass of the chain for one scenario on one case. Its manifest ``run.json`` (written
beside the stage folders) records the run id, the case and a checksum of each of its input files,
the scenario (observed rain, forecast, design storm / 预演, typhoon; with the issue time), the
stages run and when they finished, the options and the package versions. Each stage folder holds
``stage.json`` naming the run and every file the stage wrote; the self-describing files carry the
run id themselves (NetCDF and JSON: a ``run_id`` attribute/key; GeoPackage: dataset metadata
``floodkit_run_id``; PDF: its Subject; PNG: a text chunk; HTML: a ``<meta>`` tag; XLSX: the
document's identifier). :func:`run_id_of` reads it back from any of them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import secrets
from importlib import metadata
from pathlib import Path

from gis.atomic import write_text
from gis.errors import InputError

MANIFEST = "run.json"
STAGE_MANIFEST = "stage.json"
VERSIONED = ("floodkit", "numpy", "pandas", "xarray", "numba", "scipy", "geopandas", "shapely", "pyproj",
             "rasterio", "rioxarray", "folium", "matplotlib", "networkx", "openpyxl")


class RunMismatch(InputError):
    """Products of two different runs would be combined."""


def new_run_id() -> str:
    """``YYYYMMDDTHHMMSS-xxxxxx``: local time of the start and 6 random hex digits."""
    return f"{_dt.datetime.now():%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def now_iso() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def case_checksums(root: str | Path) -> dict[str, str]:
    """SHA-256 of every file of a case folder (hidden files and caches skipped), by relative path."""
    root = Path(root)
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            out[rel.as_posix()] = sha256(p)
    return out


def changed_inputs(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Relative paths added, removed or changed between two checksum tables."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


# ----------------------------------------------------------------------------- scenario in words
def scenario_label(scenario: dict) -> str:
    """The scenario as officials read it on a map or a briefing, e.g. '设计暴雨 50年一遇 · 预演'."""
    kind = scenario.get("kind")
    if kind == "design_storm":
        rp = scenario.get("return_period_years")
        rp_text = f"{float(rp):g}年一遇" if rp else str(scenario.get("name", ""))
        return f"设计暴雨 {rp_text} · 预演"
    if kind == "typhoon":
        return f"台风 {scenario.get('name', '')} 降雨情景".strip()
    if kind == "event":
        return f"降雨过程 {scenario.get('name', '')}"
    if kind == "rain_data":
        return f"降雨 {scenario.get('name') or '（内存数据）'}"
    if kind == "rain_file":
        return f"降雨 {scenario.get('name', '')}" + ("（含预报）" if scenario.get("nowcast") else "")
    return str(scenario.get("name", "")) or "无降雨情景"


# ----------------------------------------------------------------------------- manifests
def read_manifest(out: str | Path) -> dict | None:
    p = Path(out) / MANIFEST
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(p, f"cannot be read ({exc})", "remove the folder or run into a new --out") from None


def write_manifest(out: str | Path, manifest: dict) -> Path:
    return write_text(Path(out) / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2, default=str))


def read_stage_manifest(folder: str | Path) -> dict | None:
    p = Path(folder) / STAGE_MANIFEST
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# ----------------------------------------------------------------------------- stamping files
def stamp_folder(folder: Path, run_id: str, stage: str) -> list[str]:
    """Put ``run_id`` into every NetCDF, JSON, PNG and HTML file under ``folder`` (the formats whose
    writers don't take it at creation), then write ``stage.json`` listing every file. Returns the
    files' relative paths."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != STAGE_MANIFEST)
    for p in files:
        suffix = p.suffix.lower()
        if suffix in (".nc", ".nc4"):
            import h5py

            with h5py.File(p, "a") as f:
                f.attrs["run_id"] = run_id
        elif suffix == ".json":
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(data, dict):
                data["run_id"] = run_id
                p.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        elif suffix == ".png":
            from PIL import Image
            from PIL.PngImagePlugin import PngInfo

            with Image.open(p) as im:
                im.load()
                info = PngInfo()
                for k, v in (im.text or {}).items():
                    info.add_text(k, v)
                info.add_text("floodkit_run_id", run_id)
                im.save(p, pnginfo=info, dpi=im.info.get("dpi", (72, 72)))
        elif suffix in (".html", ".htm"):
            text = p.read_text(encoding="utf-8")
            if "floodkit-run-id" not in text:
                tag = f'<meta name="floodkit-run-id" content="{run_id}">'
                text = text.replace("<head>", "<head>" + tag, 1) if "<head>" in text else tag + text
                p.write_text(text, encoding="utf-8")
    rel = [p.relative_to(folder).as_posix() for p in files]
    write_text(folder / STAGE_MANIFEST, json.dumps({"run_id": run_id, "stage": stage, "finished_at": now_iso(),
                                                    "files": rel}, ensure_ascii=False, indent=2))
    return rel


def run_id_of(path: str | Path) -> str | None:
    """The run id a product names: from the file itself where its format holds one, else from the
    ``stage.json`` of its folder (CSV). None for a product made outside a floodkit run."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix in (".nc", ".nc4"):
            import h5py

            with h5py.File(p, "r") as f:
                v = f.attrs.get("run_id")
            if v is not None:
                return v.decode() if isinstance(v, bytes) else str(v)
        elif suffix == ".json":
            v = json.loads(p.read_text(encoding="utf-8")).get("run_id")
            if v:
                return str(v)
        elif suffix == ".gpkg":
            # GDAL keeps dataset metadata in the gpkg_metadata table; read it with sqlite, read-only,
            # so that reading leaves no .aux.xml sidecar beside the product
            import re
            import sqlite3

            con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            try:
                rows = con.execute("SELECT metadata FROM gpkg_metadata").fetchall()
            except sqlite3.Error:
                rows = []
            finally:
                con.close()
            for (xml,) in rows:
                m = re.search(r'<MDI key="floodkit_run_id">([^<]+)</MDI>', xml or "")
                if m:
                    return m.group(1)
        elif suffix == ".png":
            from PIL import Image

            with Image.open(p) as im:
                v = (im.text or {}).get("floodkit_run_id")
            if v:
                return str(v)
        elif suffix == ".pdf":
            import re

            m = re.search(rb"floodkit run ([0-9T]+-[0-9a-f]+)", p.read_bytes())
            if m:
                return m.group(1).decode()
        elif suffix in (".html", ".htm"):
            import re

            m = re.search(r'name="floodkit-run-id" content="([^"]+)"', p.read_text(encoding="utf-8", errors="replace"))
            if m:
                return m.group(1)
        elif suffix == ".xlsx":
            from openpyxl import load_workbook

            wb = load_workbook(p, read_only=True)
            v = wb.properties.identifier
            wb.close()
            if v:
                return str(v).removeprefix("floodkit run ")
    except Exception:  # noqa: BLE001 - an unreadable product has no run id; the caller decides
        pass
    for folder in (p.parent, *p.parents[:2]):
        sm = read_stage_manifest(folder)
        if sm is not None:
            return sm.get("run_id")
    return None


def check_same_run(expected: str, found: str | None, what: str, expected_label: str = "",
                   found_label: str = "") -> None:
    """Refuse (exit 2) when a product of another run would be combined with this run's."""
    if found is None or found == expected:
        return
    raise RunMismatch(what, f"belongs to run {found}{found_label}, not to run {expected}{expected_label}",
                      "rerun the stages that make it in this run (python cli.py run CASE --out DIR), "
                      "or give the product explicitly (e.g. --inundation DIR)")
