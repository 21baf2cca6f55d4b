"""Shared fixtures: tiny rasters written with rasterio, the real-data folder, and two runs made once per
test run and shared by every xdist worker (the default build, and a small run over three pilots)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from atlas.workflow.runner import STATE_DIR

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def write_tif(path: Path, array: np.ndarray, transform: Affine, crs="EPSG:4326", nodata=None,
              tags: dict | None = None, band_tags: dict | None = None) -> Path:
    """Write a small GeoTIFF (one band per leading axis of a 3-D array)."""
    arr = array if array.ndim == 3 else array[None]
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                       dtype=arr.dtype, crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(arr)
        if tags:
            ds.update_tags(**tags)
        if band_tags:
            ds.update_tags(1, **band_tags)
    return path


def outputs(out: Path) -> dict[str, bytes]:
    """Every output file of a run folder (the step cache excluded) → its bytes."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and STATE_DIR not in p.parts}


@pytest.fixture
def tif(tmp_path):
    """Factory: ``tif(name, array, transform, **kw)`` writes a GeoTIFF into tmp_path."""
    def make(name: str, array: np.ndarray, transform: Affine, **kw) -> Path:
        return write_tif(tmp_path / name, array, transform, **kw)
    return make


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is absent")
    return REALDATA


def _made_once(tmp_path_factory, name: str, make) -> Path:
    """``root / name``, made by ``make(path)`` once per test run. Under pytest-xdist the workers share it
    (a file lock in the run's common temp folder: the first worker makes it, the others wait and reuse it)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path, done = root / name, root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            make(path)
            done.touch()
    return path


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The default site and its tables (``atlas build``), built once per run and shared by the xdist
    workers. Read only: copy it to tmp_path before writing into it."""
    from atlas.workflow.defaults import build

    return _made_once(tmp_path_factory, "built_site", build)


#: A run over three pilots (Shenzhen, Xiamen, Hangzhou) with every step of the graph and the site.
SMALL_RUN = """
[run]
out = "out"
[regions]
ids = ["P1-08", "P1-09", "P2-25"]
[sinks]
draws = 500
[compensation]
scheme = "removals"
price = 50
[outputs]
formats = ["csv", "gpkg", "parquet"]
[site]
publish = true
"""


@dataclass(frozen=True)
class SmallRun:
    """The first run of :data:`SMALL_RUN`: its folder (``run.toml`` and ``out/``), the steps it computed
    (all of them, in order) and its output files (step cache aside) → bytes."""

    folder: Path
    computed: list[str]
    reference: dict[str, bytes]

    def copy_to(self, path: Path) -> Path:
        """A private copy of the folder to run in (the shared one is read only); returns its run.toml."""
        shutil.copytree(self.folder, path)
        return path / "run.toml"


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> SmallRun:
    """:data:`SMALL_RUN`, run once per test run and shared by the xdist workers. Read only: run in a
    :meth:`SmallRun.copy_to` copy."""
    from atlas.workflow.config import load_config
    from atlas.workflow.runner import run

    def make(folder: Path) -> None:
        folder.mkdir()
        (folder / "run.toml").write_text(SMALL_RUN, encoding="utf-8")
        report = run(load_config(folder / "run.toml"))
        (folder / "computed.json").write_text(json.dumps(report.computed), encoding="utf-8")

    folder = _made_once(tmp_path_factory, "small_run", make)
    computed = json.loads((folder / "computed.json").read_text(encoding="utf-8"))
    return SmallRun(folder, computed, outputs(folder / "out"))


# The real-browser fixtures (tests/browser.py): `browser_page` and the session's `chromium_browser`.
from browser import browser_page, chromium_browser  # noqa: E402, F401
