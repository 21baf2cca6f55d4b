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
from atlas.rasters.layer import ArraySource, BlockReader, Grid, LayerSpec, RasterSource, SeriesSource
from atlas.rasters.units import QuantityKind

PRODUCTS = ("hansen", "worldcover", "modis", "edgar", "odiac", "generic")

__all__ = ["ArraySource", "BlockReader", "Grid", "LayerSpec", "PRODUCTS", "QuantityKind", "RasterSource",
           "SeriesSource", "detect_product", "open_layer", "parse_bands"]


def parse_bands(text: str | int | list | tuple | None) -> str | tuple[int, ...] | None:
    """``"all"``, ``"1-12"``, ``"1,3,5"``, ``"2"``, an int or a list → ``"all"`` or band numbers.

    Raises
    ------
    UnitsError
        Anything else, with the accepted forms.
    """
    if text is None:
        return None
    if isinstance(text, int):
        return (text,)
    if isinstance(text, (list, tuple)):
        return tuple(int(b) for b in text)
    spec = str(text).strip().lower()
    if spec == "all":
        return "all"
    bands: list[int] = []
    try:
        for part in spec.split(","):
            lo, _, hi = part.partition("-")
            bands.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise UnitsError(f"Band selection {text!r} cannot be read", "'all', a number, a range '1-12' or a "
                         "list '1,3,5'", "e.g. --bands 1-12") from None
    if not bands or min(bands) < 1:
        raise UnitsError(f"Band selection {text!r} names no band", "band numbers from 1")
    return tuple(bands)


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
    bands: str | tuple[int, ...] | list[int] | None = None,
    series: bool = False,
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
    bands : ``"all"``, a range string like ``"1-12"``, or band numbers, optional
        Read these bands as a *stack*: the engine sums every band in one pass and returns
        one row per region and band (with ``time`` when the file has a CF time axis).
        ODIAC files stacked give each month apart (annualised ×12) instead of their sum.
    series : bool
        The files are one band each of a series on one grid (a stack, one file per band).
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
    bands = parse_bands(bands)
    if series and bands is not None:
        raise UnitsError("Both a series of files and a band selection given", "one of them",
                         "use --series for one file per band, --bands for the bands of one file")
    if product == "hansen":
        readers, spec = hansen.open_tiles(files, hansen.DEFAULT_THRESHOLD if threshold is None else threshold)
    elif product == "worldcover":
        readers, spec = worldcover.open_tiles(files)
    elif product == "modis":
        readers, spec = modis.open_file(files[0])
    elif product == "edgar":
        readers, spec = edgar.open_file(files[0])
    elif product == "odiac" and series:
        odiac.check_files(files)
        readers, spec = [SeriesSource(files)], odiac.months_apart()
    elif product == "odiac":
        readers, spec = odiac.open_files(files)
    else:
        if not kind or not units:
            raise UnitsError(f"No quantity kind or units stated for {Path(files[0]).name}",
                             "both, e.g. kind='flux_density', units='kg CO2 m-2 s-1'",
                             "pass --kind and --units (the engine never guesses what values mean)")
        if series:
            readers = [SeriesSource(files, band=band)]
        elif bands is not None:
            readers = [RasterSource(f, bands=bands, stack=True) for f in files]
        else:
            readers = [RasterSource(f, bands=(band,)) for f in files]
        return readers, LayerSpec(name or "value", kind, units, classes=classes or {}, groups=groups or {},
                                  threshold=threshold, nodata=nodata)
    if (series or bands is not None) and not (product == "odiac" and series):
        readers, spec = _stacked(readers, spec, product, bands, series, files)
    overrides = {k: v for k, v in {"name": name, "nodata": nodata, "classes": classes, "groups": groups}.items()
                 if v is not None}
    return readers, spec.with_(**overrides) if overrides else spec


def _stacked(readers: list[BlockReader], spec: LayerSpec, product: str, bands, series: bool, files):
    """A product layer's readers re-opened as a stack (every band apart, one pass)."""
    first = readers[0]
    crs = first.grid.crs
    if series:
        stacked: list[BlockReader] = [SeriesSource(files, crs=crs)]
    else:
        stacked = [RasterSource(r.path, bands=bands, stack=True, crs=crs, label=r.label) for r in readers]
    if product == "odiac" and spec.units.lower().replace(" ", "") == "tc/cell/yr":
        spec = odiac.months_apart().with_(name=spec.name)
    return stacked, spec
