"""Raster layers drawn on the web map: sampled onto a Web Mercator image, coloured, PNG.

Leaflet stretches an image overlay linearly between its corner coordinates in Web
Mercator (EPSG:3857), so the image itself must be on a Mercator grid: rows equally
spaced in Mercator *y*, not in latitude. :func:`mercator_frame` lays out such a grid
over a lon/lat box; :func:`sample_layer` finds, for the centre of every image pixel,
the raster cell under it (nearest neighbour, through the raster's own CRS, and through
GCJ-02 when the page is drawn in that datum); :func:`render_overlay` colours the cells
by the layer's classes and encodes a PNG with transparent background. A :class:`Canvas`
holds what every layer drawn on one page shares (pixel centres in WGS84, the clip mask),
so a page with two raster layers computes them once.

Values are sampled, never averaged: the image shows what the raster says at each pixel
centre. Zonal statistics never use these images.
"""

from __future__ import annotations

import base64
import logging
import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.features import geometry_mask
from rasterio.io import MemoryFile
from shapely.geometry.base import BaseGeometry

from atlas.regions import datum as datum_mod
from atlas.rasters.cellarea import areal_scale, band_cell_areas
from atlas.errors import GridError, SiteError
from atlas.rasters.layer import BlockReader, LayerSpec
from atlas.rasters.units import QuantityKind
from atlas.publish.layers import Classes, LayerDef, classify

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6378137.0  # the sphere of EPSG:3857
MAX_LAT = 85.0511287798066  # Web Mercator's latitude limit
M2_PER_KM2 = 1e6


@dataclass(frozen=True)
class MercatorFrame:
    """A north-up image grid in EPSG:3857: top-left corner, pixel size (m) and shape."""

    x0: float
    y0: float
    pixel: float
    width: int
    height: int

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees of the page's datum."""
        west, north = mercator_to_lonlat(np.array([self.x0]), np.array([self.y0]))
        east, south = mercator_to_lonlat(np.array([self.x0 + self.pixel * self.width]),
                                         np.array([self.y0 - self.pixel * self.height]))
        return float(west[0]), float(south[0]), float(east[0]), float(north[0])

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude of every pixel centre, ``(height, width)`` arrays."""
        xs = self.x0 + (np.arange(self.width) + 0.5) * self.pixel
        ys = self.y0 - (np.arange(self.height) + 0.5) * self.pixel
        lon, lat = mercator_to_lonlat(xs, ys)
        return np.broadcast_to(lon, (self.height, self.width)), np.broadcast_to(lat[:, None], (self.height, self.width))


def lonlat_to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spherical Web Mercator forward projection (metres)."""
    lat = np.clip(lat, -MAX_LAT, MAX_LAT)
    return (EARTH_RADIUS_M * np.radians(lon),
            EARTH_RADIUS_M * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)))


def mercator_to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spherical Web Mercator inverse projection (degrees)."""
    return np.degrees(x / EARTH_RADIUS_M), np.degrees(2 * np.arctan(np.exp(y / EARTH_RADIUS_M)) - np.pi / 2)


def mercator_frame(west: float, south: float, east: float, north: float, max_side: int = 1600) -> MercatorFrame:
    """Square-pixel Mercator grid covering a lon/lat box, ``max_side`` pixels on its longer side."""
    if not (east > west and north > south):
        raise GridError(f"Overlay box ({west}, {south}, {east}, {north}) is empty",
                        "west < east and south < north", "check the regions' bounds")
    (x0, x1), (y0, y1) = lonlat_to_mercator(np.array([west, east]), np.array([south, north]))
    pixel = max(x1 - x0, y1 - y0) / max_side
    width = max(1, math.ceil((x1 - x0) / pixel))
    height = max(1, math.ceil((y1 - y0) / pixel))
    return MercatorFrame(float(x0), float(y1), float(pixel), width, height)


#: Finest spacing (degrees) of the grid on which GCJ-02 offsets are inverted exactly before
#: being interpolated to pixels. GCJ-02's shortest wave is 1/3° long with an amplitude of
#: about 20 m, so linear interpolation at 1/40° errs by under 0.2 m.
GCJ_GRID_DEG = 1.0 / 40.0
#: Largest second derivative of the GCJ-02 offset along either axis over China, metres per
#: degree² (5,151 found on a 0.002° scan of the formula's waves; rounded up).
GCJ_CURVATURE_M_PER_DEG2 = 5200.0
#: Share of a pixel the interpolated inverse may be off by.
GCJ_PIXEL_TOLERANCE = 0.01


def gcj_grid_spacing(pixel_deg: float, north: float) -> float:
    """Spacing (degrees) of the exact-inverse grid for pixels ``pixel_deg`` of longitude wide.

    Bilinear interpolation errs by at most ``h² (f_xx + f_yy) / 8`` ≤ ``h² · C / 4`` metres at
    spacing ``h`` (``C`` = :data:`GCJ_CURVATURE_M_PER_DEG2`). The spacing is the largest that
    keeps this under :data:`GCJ_PIXEL_TOLERANCE` of the smallest pixel on the ground (at the
    northern edge ``north``), and never finer than :data:`GCJ_GRID_DEG`. A national map's
    0.039° pixels take a 0.14° grid instead of a 0.08° one: a third of the exact inversions.
    """
    pixel_m = pixel_deg * 111_320.0 * math.cos(math.radians(min(abs(north), 85.0)))
    return max(GCJ_GRID_DEG, math.sqrt(4.0 * GCJ_PIXEL_TOLERANCE * pixel_m / GCJ_CURVATURE_M_PER_DEG2))


def _interp_grid(lon: np.ndarray, lat: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 of the GCJ-02 points ``lon`` (columns) × ``lat`` (rows), with the exact inverse
    computed on a grid of ``spacing`` degrees and offsets interpolated bilinearly."""
    glon = np.arange(lon.min(), lon.max() + spacing, spacing)
    glat = np.arange(lat.min(), lat.max() + spacing, spacing)
    mesh_lon, mesh_lat = np.meshgrid(glon, glat)
    wlon, wlat = datum_mod.gcj02_to_wgs84(mesh_lon, mesh_lat)
    dlon, dlat = wlon - mesh_lon, wlat - mesh_lat
    fx = np.clip((lon - glon[0]) / spacing, 0, glon.size - 1.000001)
    fy = np.clip((lat - glat[0]) / spacing, 0, glat.size - 1.000001)
    ix, iy = fx.astype(int), fy.astype(int)
    tx, ty = fx - ix, (fy - iy)[:, None]
    i0, i1 = np.minimum(ix, glon.size - 1), np.minimum(ix + 1, glon.size - 1)
    j0, j1 = np.minimum(iy, glat.size - 1), np.minimum(iy + 1, glat.size - 1)

    def bilinear(grid: np.ndarray) -> np.ndarray:
        # along the rows first, on the coarse grid's few rows, then whole rows picked per pixel
        # row: the same products as gathering the four corners per pixel, at a third of the cost
        along = grid[:, i0] * (1 - tx) + grid[:, i1] * tx
        return along[j0] * (1 - ty) + along[j1] * ty

    return lon[None, :] + bilinear(dlon), lat[:, None] + bilinear(dlat)


def _display_to_wgs84(frame: "MercatorFrame", page_datum: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat of the pixel centres of ``frame``, a grid in the page's datum."""
    lon, lat = frame.centres()
    if page_datum == "wgs84":
        return lon, lat
    # The page is drawn in GCJ-02: the pixel at GCJ-02 (lon, lat) shows the place whose
    # WGS84 coordinates are the inverse transform of it.
    cols, rows = lon[0], lat[:, 0]
    spacing = gcj_grid_spacing(float(np.degrees(frame.pixel / EARTH_RADIUS_M)), float(rows.max()))
    if (np.ptp(cols) / spacing + 2) * (np.ptp(rows) / spacing + 2) < cols.size * rows.size:
        return _interp_grid(cols, rows, spacing)
    wlon, wlat = datum_mod.gcj02_to_wgs84(lon, lat)
    return wlon, wlat


def _source_xy(reader: BlockReader, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    crs = reader.grid.crs
    if crs.is_geographic:
        return lon, lat  # lon/lat grids (incl. the MODIS CMG's sphere) are indexed by degrees
    transformer = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    x, y = transformer.transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def _cell_area_m2(reader: BlockReader, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Geodesic area (m²) of the cells at ``rows``, ``cols`` of the reader's own grid."""
    grid = reader.grid
    t = grid.transform
    if grid.crs.is_geographic:
        first = int(rows.min())
        per_row = band_cell_areas(t.f + t.e * np.arange(first, int(rows.max()) + 2), t.a)
        return per_row[rows - first]
    unit = grid.crs.axis_info[0].unit_conversion_factor if grid.crs.axis_info else 1.0
    planar = abs(t.a * t.e) * unit * unit
    x = t.a * (cols + 0.5) + t.c
    y = t.e * (rows + 0.5) + t.f
    return planar / areal_scale(grid.crs, x, y)


def sample_layer(readers: list[BlockReader], spec: LayerSpec, frame: MercatorFrame,
                 page_datum: str = "wgs84") -> np.ndarray:
    """Value of the layer at every pixel centre of ``frame`` (NaN where there is none).

    Class layers give their codes. Amount and flux-density layers give a density in
    the layer's output unit per km² (t CO₂ km⁻² yr⁻¹ for emissions), so that cells of
    different sizes (latitude, tiles) are comparable. Fractions give their raw values.
    """
    return _sample_at(readers, spec, *Canvas(frame, page_datum).wgs84_centres)


def _cell_indices(reader: BlockReader, lon: np.ndarray, lat: np.ndarray, out: np.ndarray):
    """Row and column (float) of the reader's cell under every pixel centre, and which pixels a
    cell of this reader fills (inside its grid, not filled by an earlier reader)."""
    inv = ~reader.grid.transform
    if reader.grid.crs.is_geographic and inv.b == 0 and inv.d == 0 and lon.strides[0] == 0 and lat.strides[1] == 0:
        # a WGS84 page over a north-up lon/lat grid: a column's cell column and a row's cell row are
        # shared, so they are worked out once per column and row (a fifth of the time on a site)
        cols_1 = inv.a * lon[0] + inv.c
        rows_1 = inv.e * lat[:, 0] + inv.f
        inside = ((rows_1 >= 0) & (rows_1 < reader.grid.height))[:, None] & \
                 ((cols_1 >= 0) & (cols_1 < reader.grid.width))[None, :]
        inside &= np.isnan(out)
        return np.broadcast_to(rows_1[:, None], out.shape), np.broadcast_to(cols_1[None, :], out.shape), inside
    x, y = _source_xy(reader, lon, lat)
    cols_f = inv.a * x + inv.b * y + inv.c
    rows_f = inv.d * x + inv.e * y + inv.f
    inside = (cols_f >= 0) & (cols_f < reader.grid.width) & (rows_f >= 0) & (rows_f < reader.grid.height)
    inside &= np.isnan(out)
    return rows_f, cols_f, inside


def _cell_values(reader: BlockReader, spec: LayerSpec, rows: np.ndarray, cols: np.ndarray,
                 limit: int) -> np.ndarray:
    """The layer's values (display units, NaN for no data) in the reader's cells at ``rows``, ``cols``
    (integer arrays of any shapes that broadcast together)."""
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    h, w = int(r1 - r0), int(c1 - c0)
    # read at most about twice the image's resolution; picking cells keeps values intact
    oh, ow = min(h, limit), min(w, limit)
    block = reader.read_sampled((int(r0), int(c0), h, w), (oh, ow)).astype(np.float64)
    # no data, scale and flux units on the block of cells (far fewer than the pixels), then to the pixels
    nodata = spec.nodata if spec.nodata is not None else reader.nodata
    if nodata is not None:
        block[block == nodata] = np.nan
    block = block * spec.scale + spec.offset
    if spec.kind is QuantityKind.FLUX_DENSITY:
        block = block * spec.unit.factor * M2_PER_KM2
    values = block[np.minimum(((rows - r0) * oh) // h, oh - 1), np.minimum(((cols - c0) * ow) // w, ow - 1)]
    if spec.kind is QuantityKind.AMOUNT:
        values = values * spec.unit.factor / (_cell_area_m2(reader, rows, cols) / M2_PER_KM2)
    return values


def _sample_at(readers: list[BlockReader], spec: LayerSpec, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    out = np.full(lon.shape, np.nan)
    limit = 2 * max(lon.shape)
    for reader in readers:
        rows_f, cols_f, inside = _cell_indices(reader, lon, lat, out)
        if not inside.any():
            continue
        if rows_f.strides[1] == 0 and cols_f.strides[0] == 0:
            # one cell row per image row and one cell column per image column: the values of the
            # rectangle of image rows × columns holding the inside pixels come from two index vectors,
            # without gathering the pixels one by one
            hit_r, hit_c = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
            box = slice(hit_r[0], hit_r[-1] + 1), slice(hit_c[0], hit_c[-1] + 1)
            rows = np.floor(rows_f[box[0], 0]).astype(np.int64)[:, None]
            cols = np.floor(cols_f[0, box[1]]).astype(np.int64)[None, :]
            np.copyto(out[box], _cell_values(reader, spec, rows, cols, limit), where=inside[box])
        else:
            rows = np.floor(rows_f[inside]).astype(np.int64)
            cols = np.floor(cols_f[inside]).astype(np.int64)
            out[inside] = _cell_values(reader, spec, rows, cols, limit)
    return out


@dataclass(frozen=True)
class Overlay:
    """A coloured raster image ready for Leaflet.

    Attributes
    ----------
    layer : LayerDef
    data_uri : str
        ``data:image/png;base64,…``.
    bounds : tuple
        (west, south, east, north) in the page's datum.
    classes : Classes
        Colours and labels for the legend.
    """

    layer: LayerDef
    data_uri: str
    bounds: tuple[float, float, float, float]
    classes: Classes


def _rgba(colour: str) -> tuple[int, int, int, int]:
    return (*(int(colour[j:j + 2], 16) for j in (1, 3, 5)), 255)


def png_data_uri(index: np.ndarray, colours: list[str]) -> str:
    """Encode class indices as a palette PNG ``data:`` URI (GDAL's PNG driver): class ``i`` in
    ``colours[i]``, transparent where the index is -1.

    A palette image (one byte a pixel, a tRNS chunk for the transparent entry) encodes about
    seven times faster than RGBA and is no larger.
    """
    if len(colours) > 255:
        raise SiteError(f"An overlay has {len(colours)} classes", "at most 255 classes (a PNG palette)",
                        "use fewer classes in the layer's spec")
    height, width = index.shape
    pixels = np.where(index >= 0, index, len(colours)).astype(np.uint8)
    palette = {i: _rgba(colour) for i, colour in enumerate(colours)}
    palette[len(colours)] = (0, 0, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as mem:
            with mem.open(driver="PNG", width=width, height=height, count=1, dtype="uint8") as ds:
                ds.write(pixels, 1)
                ds.write_colormap(1, palette)
            blob = mem.read()
    return "data:image/png;base64," + base64.b64encode(blob).decode("ascii")


def inside_mask(frame: MercatorFrame, clip: BaseGeometry) -> np.ndarray:
    """True for the pixels of ``frame`` whose centre lies inside ``clip`` (lon/lat, page datum)."""
    projected = shapely.transform(clip, lambda xy: np.column_stack(lonlat_to_mercator(xy[:, 0], xy[:, 1])))
    transform = Affine(frame.pixel, 0, frame.x0, 0, -frame.pixel, frame.y0)
    return geometry_mask([projected], out_shape=(frame.height, frame.width), transform=transform, invert=True)


@dataclass(frozen=True)
class Canvas:
    """The image grid of one page's raster layers, and what they all share.

    Attributes
    ----------
    frame : MercatorFrame
    page_datum : str
        "wgs84", or "gcj02" when the page is drawn on a GCJ-02 basemap.
    clip : shapely geometry, optional
        Outline (lon/lat, page datum) outside which nothing is drawn.
    """

    frame: MercatorFrame
    page_datum: str = "wgs84"
    clip: BaseGeometry | None = None

    @classmethod
    def over(cls, box: tuple[float, float, float, float], page_datum: str = "wgs84", max_side: int = 1600,
             clip: BaseGeometry | None = None) -> "Canvas":
        """A canvas of ``max_side`` pixels on its longer side over ``box`` (west, south, east, north)."""
        return cls(mercator_frame(*box, max_side=max_side), page_datum, clip)

    @cached_property
    def wgs84_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 lon/lat of every pixel centre (read-only ``(height, width)`` arrays)."""
        lon, lat = _display_to_wgs84(self.frame, self.page_datum)
        for array in (lon, lat):
            array.flags.writeable = False  # shared by every layer drawn on the canvas
        return lon, lat

    @cached_property
    def outside(self) -> np.ndarray | None:
        """True for the pixels whose centre lies outside the clip (None without a clip)."""
        if self.clip is None:
            return None
        mask = ~inside_mask(self.frame, self.clip)
        mask.flags.writeable = False
        return mask


def render_overlay(layer: LayerDef, readers: list[BlockReader], spec: LayerSpec, canvas: Canvas) -> Overlay | None:
    """Sample, classify and encode one raster layer on ``canvas``.

    Amount and flux layers show only cells above zero; with a clip on the canvas only pixels
    inside it are drawn. Returns None when no pixel has data (the page then leaves the layer out).
    """
    values = _sample_at(readers, spec, *canvas.wgs84_centres)
    if canvas.outside is not None:
        values[canvas.outside] = np.nan
    if spec.kind in (QuantityKind.AMOUNT, QuantityKind.FLUX_DENSITY):
        values = np.where(values > 0, values, np.nan)
    if layer.scheme == "categories":
        flat = np.where(np.isfinite(values), values, -9999).astype(np.int64).ravel()
    else:
        flat = values.ravel()
    classes = classify(flat, layer)
    index = classes.index.reshape(values.shape)
    if not (index >= 0).any():
        log.info("overlay %s: no data inside %s", layer.id, canvas.frame.lonlat_bounds())
        return None
    return Overlay(layer, png_data_uri(index, classes.colours), canvas.frame.lonlat_bounds(), classes)
