"""Shared fixtures: tiny rasters written with rasterio, small polygons, the real-data folder."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The default site and its tables (``atlas build``), built once per run. Read only: copy it to
    tmp_path before writing into it. Under pytest-xdist the workers share one build (a file lock in the
    run's common temp folder; the first worker builds, the others wait and reuse it)."""
    from filelock import FileLock

    from atlas.workflow.defaults import build

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    out, done = root / "built_site", root / "built_site.done"
    with FileLock(str(root / "built_site.lock")):
        if not done.exists():
            build(out)
            done.touch()
    return out


# The real-browser fixtures (tests/browser.py): `browser_page` and the session's `chromium_browser`.
from browser import browser_page, chromium_browser  # noqa: E402, F401
