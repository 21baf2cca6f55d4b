"""MODIS IGBP land cover: MCD12C1 (0.05° CMG) and MCD12Q1 (500 m sinusoidal) as GeoTIFF.

IGBP classes (Friedl & Sulla-Menashe, MCD12 user guide): 1-5 forests, 6-7 shrublands,
8 woody savannas (reported apart from forest), 9 savannas, 10 grasslands, 11 wetlands,
12 croplands, 13 urban, 14 cropland/natural mosaic, 15 snow/ice, 16 barren. Water is
0 in MCD12C1 and 17 in MCD12Q1; 255 is fill.

The original granules are HDF4-EOS, which the GDAL inside the rasterio wheels cannot
read: export the band to GeoTIFF first.
"""

from __future__ import annotations

from pathlib import Path

from atlas.errors import RasterReadError
from atlas.rasters.layer import LayerSpec, RasterSource

_IGBP = {1: "evergreen needleleaf forest", 2: "evergreen broadleaf forest",
         3: "deciduous needleleaf forest", 4: "deciduous broadleaf forest", 5: "mixed forest",
         6: "closed shrublands", 7: "open shrublands", 8: "woody savannas", 9: "savannas",
         10: "grasslands", 11: "permanent wetlands", 12: "croplands", 13: "urban and built-up",
         14: "cropland/natural vegetation mosaic", 15: "snow and ice", 16: "barren"}
FOREST_CLASSES = (1, 2, 3, 4, 5)
UNDERCOUNT_CAVEAT = (
    "MODIS IGBP majority-class map: a 0.05° cell counts as forest only where forest is the "
    "dominant class, so sparse and fragmented forest is undercounted (about 0.96 million km² "
    "of forest in mainland China from MCD12C1 2019 against about 2.2 million km² in the 9th "
    "National Forest Inventory)")


def spec(product: str = "MCD12C1") -> LayerSpec:
    """Layer declaration for MCD12C1 (water 0) or MCD12Q1 (water 17)."""
    water = 0 if product.upper() == "MCD12C1" else 17
    classes = {water: "water", **_IGBP}
    return LayerSpec("igbp", "classes", "class", classes=classes, nodata=255,
                     groups={"forest": FOREST_CLASSES, "woody_savanna": (8,)},
                     caveat=UNDERCOUNT_CAVEAT)


def open_file(path: str | Path, product: str | None = None):
    """Open a MODIS land-cover GeoTIFF export; refuse HDF4 with the way out."""
    path = Path(path)
    if path.suffix.lower() in (".hdf", ".hdf4", ".h4"):
        raise RasterReadError(
            f"{path.name} is an HDF4-EOS granule, which the GDAL in the rasterio wheels cannot read",
            "a GeoTIFF export of the land-cover band",
            "export it, e.g. `gdal_translate HDF4_EOS:EOS_GRID:\"FILE\":MCD12Q1:LC_Type1 out.tif` with a "
            "GDAL built with HDF4, or read it with pyhdf, then pass the GeoTIFF")
    name = path.name.upper()
    product = product or ("MCD12Q1" if "MCD12Q1" in name else "MCD12C1")
    return [RasterSource(path)], spec(product)
