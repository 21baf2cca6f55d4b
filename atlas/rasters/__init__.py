"""Raster layers: product adapters that declare what the values mean.

:func:`open_layer` turns one or more files into ``(readers, spec)``: the readers
deliver blocks of cells, the :class:`~atlas.rasters.layer.LayerSpec` states the quantity
kind and units. Products are recognised from file names (Hansen GFC, ESA WorldCover,
MODIS MCD12, EDGAR, ODIAC) or chosen explicitly; anything else is a *generic* layer
whose kind and units the user must state.
"""

from __future__ import annotations

from pathlib import Path

from atlas.errors import UnitsError
from atlas.rasters import edgar, hansen, modis, odiac, worldcover
from atlas.rasters.layer import ArraySource, BlockReader, Grid, LayerSpec, RasterSource
from atlas.rasters.units import QuantityKind

PRODUCTS = ("hansen", "worldcover", "modis", "edgar", "odiac", "generic")

__all__ = ["ArraySource", "BlockReader", "Grid", "LayerSpec", "PRODUCTS", "QuantityKind", "RasterSource",
           "detect_product", "open_layer"]


def detect_product(path: str | Path) -> str:
    """Guess the product from a file name; ``generic`` when nothing matches."""
    name = Path(path).name.upper()
    if hansen.parse_name(path):
        return "hansen"
    if worldcover.is_worldcover(path):
        return "worldcover"
    if name.startswith(("MCD12C1", "MCD12Q1")):
        return "modis"
    if "EDGAR" in name or (name.endswith(".NC") and "CO2" in name and "FT" in name):
        return "edgar"
    if name.startswith("ODIAC"):
        return "odiac"
    return "generic"


def open_layer(
    paths: str | Path | list[str | Path],
    product: str | None = None,
    kind: str | None = None,
    units: str | None = None,
    name: str | None = None,
    band: int = 1,
    nodata: float | None = None,
    threshold: float | None = None,
    classes: dict[int, str] | None = None,
    groups: dict[str, tuple[int, ...]] | None = None,
) -> tuple[list[BlockReader], LayerSpec]:
    """Open raster file(s) as a layer.

    Parameters
    ----------
    paths : path or list of paths
        One raster, or the tiles of a mosaic.
    product : str, optional
        One of :data:`PRODUCTS`; recognised from the first file name when omitted.
    kind, units : str
        Required for ``generic`` layers (see :mod:`atlas.rasters.units`).
    name : str, optional
        Column stem; product default otherwise.
    band : int
        Band of a generic raster.
    nodata, threshold, classes, groups
        Overrides of the product defaults.

    Raises
    ------
    UnitsError
        A generic layer without kind or units, or units that do not fit the kind.
    """
    files = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not files:
        raise UnitsError("No raster files given", "at least one file")
    product = (product or detect_product(files[0])).lower()
    if product not in PRODUCTS:
        raise UnitsError(f"Unknown product {product!r}", f"one of {PRODUCTS}")
    if product == "hansen":
        readers, spec = hansen.open_tiles(files, threshold or hansen.DEFAULT_THRESHOLD)
    elif product == "worldcover":
        readers, spec = worldcover.open_tiles(files)
    elif product == "modis":
        readers, spec = modis.open_file(files[0])
    elif product == "edgar":
        readers, spec = edgar.open_file(files[0])
    elif product == "odiac":
        readers, spec = odiac.open_files(files)
    else:
        if not kind or not units:
            raise UnitsError(f"No quantity kind or units stated for {Path(files[0]).name}",
                             "both, e.g. kind='flux_density', units='kg CO2 m-2 s-1'",
                             "pass --kind and --units (the engine never guesses what values mean)")
        readers = [RasterSource(f, bands=(band,)) for f in files]
        return readers, LayerSpec(name or "value", kind, units, classes=classes or {}, groups=groups or {},
                                  threshold=threshold, nodata=nodata)
    overrides = {k: v for k, v in {"name": name, "nodata": nodata, "classes": classes, "groups": groups}.items()
                 if v is not None}
    return readers, spec.with_(**overrides) if overrides else spec
