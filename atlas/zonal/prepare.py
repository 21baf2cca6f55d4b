"""Preparing regions and tiles for the engine: checks, antimeridian split, edge pieces, tasks.

Nothing here reads cells: outlines and grids in, :class:`PreparedTile` objects and a task list out.
"""

from __future__ import annotations

import filecmp
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS

from atlas.errors import BoundaryError, CRSMismatchError, GridError
from atlas.rasters.cellarea import GridGeometry, grid_geometry, row_areas
from atlas.rasters.layer import BlockReader, Grid
from atlas.zonal.coverage import EdgePieces, edge_pieces, to_grid
from atlas.zonal.ellipsoid import densify, row_profiles, split_antimeridian

log = logging.getLogger(__name__)

#: Target rows/columns of a processing block when the file's own blocks are smaller.
MIN_BLOCK = 256


@dataclass
class PreparedTile:
    """One raster (a mosaic tile) with the regions' edge pieces on its grid.

    ``row_area`` holds the cell area of every row (geographic and cylindrical grids),
    ``geometry`` says how cells sit on the ellipsoid (:class:`~atlas.rasters.cellarea.GridGeometry`).
    """

    reader: BlockReader
    grid: Grid
    block_shape: tuple[int, int]
    pieces: list[EdgePieces | None]
    geometry: GridGeometry
    row_area: np.ndarray | None

    def __sizeof__(self) -> int:
        """Bytes held, edge pieces included: dask's scheduler weighs moving a tile by this."""
        held = sum(p.nbytes for p in self.pieces if p is not None)
        return object.__sizeof__(self) + held + (self.row_area.nbytes if self.row_area is not None else 0)


@dataclass(frozen=True)
class Task:
    """A unit of work: a run of block rows of one tile."""

    tile: int
    block_rows: tuple[int, int]


def processing_block_shape(grid: Grid) -> tuple[int, int]:
    """Whole multiples of the file's block, at least :data:`MIN_BLOCK` cells each way."""
    bh, bw = grid.block_shape
    bh = min(grid.height, bh * max(1, -(-MIN_BLOCK // bh)))
    bw = grid.width if bw >= grid.width else min(grid.width, bw * max(1, -(-MIN_BLOCK // bw)))
    return bh, bw


def check_regions(regions, ids: Sequence[str], validity: bool = True) -> None:
    """Refuse regions without CRS, or with empty or invalid outlines (``validity`` False leaves
    the validity check, the costly one, to :func:`refuse_invalid`)."""
    if regions.crs is None:
        raise CRSMismatchError("The region outlines have no CRS", "outlines with a CRS (e.g. EPSG:4326)",
                               "set it with GeoDataFrame.set_crs")
    empty = [i for i, g in zip(ids, regions) if g is None or g.is_empty]
    if empty:
        raise BoundaryError(f"Empty outlines for regions {empty}", "a non-empty polygon per region",
                            "drop those regions or supply outlines")
    if validity:
        refuse_invalid(shapely.is_valid(np.asarray(regions.values, dtype=object)), ids)
    not_poly = [i for i, g in zip(ids, regions) if g.geom_type not in ("Polygon", "MultiPolygon")]
    if not_poly:
        raise BoundaryError(f"Regions {not_poly} are not polygons", "Polygon or MultiPolygon outlines")


def refuse_invalid(valid: np.ndarray, ids: Sequence[str]) -> None:
    """Refuse the regions whose ``valid`` flag (``shapely.is_valid`` of their outlines) is False."""
    invalid = [i for i, ok in zip(ids, valid) if not ok]
    if invalid:
        raise BoundaryError(f"Invalid outlines for regions {invalid}", "valid polygons",
                            "repair them with shapely.make_valid")


def split_at_antimeridian(regions, ids: Sequence[str]):
    """Lon/lat outlines that cross ±180° split into parts within [−180°, 180°] (RFC 7946)."""
    if not regions.crs.is_geographic:
        return regions
    split = [split_antimeridian(g) for g in regions]
    changed = [i for i, a, b in zip(ids, regions, split) if a is not b]
    if not changed:
        return regions
    log.info("outlines of %s cross the antimeridian: split at ±180° (RFC 7946)", changed)
    return regions.__class__(split, index=regions.index, crs=regions.crs)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygons of a clip result (which may add stray lines or points on the edge)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for part in shapely.get_parts(geom) if part.geom_type in ("Polygon", "MultiPolygon")
             for p in shapely.get_parts(part)]
    return shapely.multipolygons(parts) if parts else shapely.Polygon()


def to_raster_crs(regions, crs: CRS):
    """Outlines in the raster's CRS; densified first so their edges stay the lines drawn."""
    if regions.crs.equals(crs):
        return regions
    log.info("outlines transformed from %s to the raster CRS %s (the raster is not resampled)",
             regions.crs.to_string(), crs.to_string())
    dense = densify(np.asarray(regions.values, dtype=object), regions.crs)
    return regions.__class__(dense, index=regions.index, crs=regions.crs).to_crs(crs)


def prepare_tile(reader: BlockReader, regions, mapper=map, exact: bool = True) -> PreparedTile:
    """Transform outlines to the tile's CRS and grid, clip them, and split their edges.

    ``mapper`` maps the per-region work (``map``, or a thread pool's ``map``). ``exact``
    False gives planar coverage fractions (exactextract's), for comparisons only.
    """
    grid = reader.grid
    grid.check(reader.label)
    regions = to_raster_crs(regions, grid.crs)
    block_shape = processing_block_shape(grid)
    geometry = grid_geometry(grid.crs, grid.transform, grid.width, grid.height)
    profile = row_profiles(grid.crs, grid.transform, grid.height) if exact and geometry.by_row else None
    row_area = row_areas(grid.crs, grid.transform, 0, grid.height) if geometry.by_row else None

    def split(geom: shapely.Geometry) -> EdgePieces | None:
        g = shapely.clip_by_rect(to_grid(geom, grid.transform), 0, 0, grid.width, grid.height)
        return edge_pieces(_polygonal(g), (grid.height, grid.width), block_shape, profile)

    pieces = list(mapper(split, regions))
    return PreparedTile(reader, grid, block_shape, pieces, geometry, row_area)


def plan_tasks(tiles: Sequence[PreparedTile]) -> list[Task]:
    """One task per block row that any region touches, tile by tile, in a fixed order."""
    tasks = []
    for t, tile in enumerate(tiles):
        bh = tile.block_shape[0]
        touched = set()
        for p in tile.pieces:
            if p is not None:
                touched.update(range(p.bounds[0] // bh, -(-p.bounds[2] // bh)))
        tasks.extend(Task(t, (r, r + 1)) for r in sorted(touched))
    return tasks


def _same_file(a: BlockReader, b: BlockReader) -> bool:
    pa, pb = getattr(a, "path", None), getattr(b, "path", None)
    if pa is None or pb is None:
        return False
    try:
        return filecmp.cmp(pa, pb, shallow=False)
    except OSError:
        return False


def check_mosaic(readers: Sequence[BlockReader]) -> tuple[list[BlockReader], list[str]]:
    """Refuse overlapping tiles of one mosaic, naming them; drop exact duplicates with a note.

    Tiles overlap when their extents share a positive area (touching edges do not count).
    Two tiles with the same grid and the same bytes are one tile given twice: the second is
    dropped and a note says so. Returns the tiles kept and the notes.
    """
    kept: list[BlockReader] = []
    notes: list[str] = []
    for reader in readers:
        g = reader.grid
        l0, b0, r0, t0 = g.bounds
        dup = None
        for other in kept:
            h = other.grid
            if not h.crs.equals(g.crs):
                continue
            l1, b1, r1, t1 = h.bounds
            tol_x = 1e-6 * min(abs(g.transform.a), abs(h.transform.a))
            tol_y = 1e-6 * min(abs(g.transform.e), abs(h.transform.e))
            if min(r0, r1) - max(l0, l1) <= tol_x or min(t0, t1) - max(b0, b1) <= tol_y:
                continue
            if (g.width, g.height, tuple(g.transform)) == (h.width, h.height, tuple(h.transform)) \
                    and _same_file(reader, other):
                dup = other
                break
            raise GridError(f"Tiles {other.label} and {reader.label} of one mosaic overlap "
                            f"(extents {h.bounds} and {g.bounds})",
                            "tiles that meet only at their edges (each cell counted once)",
                            "drop one of them, or give them as separate layers")
        if dup is not None:
            notes.append(f"{reader.label} is the same file as {dup.label}: counted once")
            log.warning(notes[-1])
            continue
        kept.append(reader)
    return kept, notes
