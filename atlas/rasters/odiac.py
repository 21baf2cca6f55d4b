"""ODIAC fossil-fuel CO2 (1 km GeoTIFF, tonnes of carbon per cell per month).

A year is the sum of its twelve monthly files (or bands); a single month is annualised
(×12) with a caveat. Source: Oda & Maksyutov, ODIAC, doi:10.17595/20170411.001.
"""

from __future__ import annotations

from pathlib import Path

import rasterio

from atlas.errors import UnitsError
from atlas.rasters.layer import LayerSpec, RasterSource


def open_files(paths: list[str | Path]):
    """One file with 12 bands, 12 monthly files, or one month (annualised)."""
    if len(paths) == 1:
        reader = RasterSource(paths[0])
        with rasterio.open(paths[0]) as ds:
            count = ds.count
        if count == 12:
            return [RasterSource(paths[0], bands=tuple(range(1, 13)))], \
                LayerSpec("emissions", "amount", "t C/cell/yr", caveat="ODIAC: sum of 12 monthly bands")
        return [reader], LayerSpec("emissions", "amount", "t C/cell/month",
                                   caveat="ODIAC: one month annualised ×12")
    if len(paths) == 12:
        raise UnitsError("Twelve separate ODIAC monthly files given",
                         "one 12-band file or a single month",
                         "stack them first: `gdalbuildvrt -separate year.vrt odiac*_YYMM.tif`, then pass the VRT")
    raise UnitsError(f"{len(paths)} ODIAC files given", "one file (a month, or 12 bands)")
