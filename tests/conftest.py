"""Shared fixtures: tiny rasters written with rasterio, small polygons, the real-data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

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


# The real-browser harness (tests/chromium.py): the session-scoped `chromium` fixture.
from chromium import chromium  # noqa: E402, F401
