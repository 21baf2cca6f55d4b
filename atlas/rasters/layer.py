"""A raster layer: where the cells come from, and what their values mean.

:class:`LayerSpec` is the declaration (name, quantity kind, units, classes, nodata);
:class:`RasterSource` and :class:`ArraySource` deliver blocks of cells. The zonal
engine only ever sees these two things, never a path.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from atlas.errors import GridError, RasterReadError, UnitsError
from atlas.rasters.filemeta import band_times, check_vrt_sources
from atlas.rasters.units import QuantityKind, Unit, parse_unit

log = logging.getLogger(__name__)

#: GDAL block cache (MB) while the engine reads: it reads every block once, so GDAL's default
#: (5 % of RAM, 1.2 GB on a 24 GB machine) only inflates memory. Applied through
#: :func:`gdal_env` around the work, never on import; a ``GDAL_CACHEMAX`` the user set wins.
GDAL_CACHEMAX_MB = 128


def gdal_env():
    """A :class:`rasterio.Env` with the engine's GDAL options (see :data:`GDAL_CACHEMAX_MB`)."""
    options = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": GDAL_CACHEMAX_MB}
    return rasterio.Env(**options)


@dataclass(frozen=True)
class LayerSpec:
    """What a raster's values mean.

    Parameters
    ----------
    name : str
        Column stem in outputs (``emissions`` → ``emissions_tco2_per_yr``).
    kind : QuantityKind or str
        ``amount``, ``flux_density``, ``fraction`` or ``classes``.
    units : str
        Raster units, checked against ``kind`` (see :mod:`atlas.rasters.units`).
    classes : mapping of int to str, optional
        Code → meaning, for ``classes`` layers.
    groups : mapping of str to tuple of int, optional
        Named sets of codes reported as one area (``forest`` → IGBP 1-5).
    threshold : float, optional
        For ``fraction`` layers: cells whose cover is at least this (in the raster's
        units, e.g. 30 percent) count fully as ``{name}_ge{threshold}_ha``.
    nodata : float, optional
        Overrides the file's nodata value.
    scale, offset : float
        Applied to raw values before anything else (packed integers).
    caveat : str
        A sentence carried into outputs and maps (e.g. majority-class undercount).
    """

    name: str
    kind: QuantityKind | str
    units: str
    classes: Mapping[int, str] = field(default_factory=dict)
    groups: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    threshold: float | None = None
    nodata: float | None = None
    scale: float = 1.0
    offset: float = 0.0
    caveat: str = ""

    def __post_init__(self) -> None:
        try:
            kind = QuantityKind(self.kind)
        except ValueError:
            raise UnitsError(f"Layer {self.name!r} has unknown quantity kind {self.kind!r}",
                             f"one of {[k.value for k in QuantityKind]}",
                             "declare what the values are (e.g. --kind flux_density --units 'kg CO2 m-2 s-1')"
                             ) from None
        object.__setattr__(self, "kind", kind)
        parse_unit(self.units, kind)  # raises on mismatch
        if not self.name.isidentifier():
            raise UnitsError(f"Layer name {self.name!r} cannot be a column stem",
                             "letters, digits and underscores", "rename the layer")
        if self.threshold is not None and kind is not QuantityKind.FRACTION:
            raise UnitsError(f"Layer {self.name!r} has a cover threshold but is a {kind.value}",
                             "a threshold only on fraction/percent layers")

    @property
    def unit(self) -> Unit:
        """The parsed :class:`~atlas.rasters.units.Unit`."""
        return parse_unit(self.units, self.kind)

    def with_(self, **changes) -> LayerSpec:
        """A copy with some fields changed (specs are immutable)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Grid:
    """Georeferencing of a raster: size, transform, CRS, block size."""

    width: int
    height: int
    transform: Affine
    crs: CRS
    block_shape: tuple[int, int]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        x0, y0 = self.transform.c, self.transform.f
        x1 = x0 + self.transform.a * self.width
        y1 = y0 + self.transform.e * self.height
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    def check(self, label: str) -> None:
        """Refuse rotated or degenerate grids with a clear message."""
        t = self.transform
        if t.b != 0 or t.d != 0:
            raise GridError(f"{label} has a rotated grid (transform terms b={t.b}, d={t.d})",
                            "a north-up (or south-up) grid without rotation",
                            "warp it first, e.g. `gdalwarp -t_srs EPSG:4326 in.tif out.tif`")
        if self.width <= 0 or self.height <= 0 or t.a == 0 or t.e == 0:
            raise GridError(f"{label} has an empty grid ({self.width}×{self.height})", "at least one cell")


class BlockReader:
    """Interface of everything the engine reads cells from.

    A reader delivers one band (:meth:`read`) or, when :attr:`n_bands` > 1, a stack of
    bands on one grid read together (:meth:`read_stack`): the engine then computes coverage
    once per block and sums every band in the same pass. ``band_labels`` name the bands
    in results, ``band_times`` (ISO dates, or None) give their time coordinate.
    """

    label: str
    grid: Grid
    nodata: float | None
    band_labels: tuple[str, ...] = ("1",)
    band_times: tuple[str, ...] | None = None

    @property
    def n_bands(self) -> int:
        """Bands delivered by :meth:`read_stack`."""
        return len(self.band_labels)

    def read(self, window: tuple[int, int, int, int]) -> np.ndarray:
        """Return the cells of ``(row0, col0, height, width)`` as a 2-D array."""
        raise NotImplementedError

    def read_stack(self, window: tuple[int, int, int, int], out: np.ndarray | None = None) -> np.ndarray:
        """Return the cells of every band of ``window``, ``(n_bands, height, width)``.

        With ``out`` (a C-contiguous array of that shape, any numeric type) the cells are
        written into it, converted to its type, and ``out`` is returned: the engine reuses one
        float64 buffer per thread instead of allocating and converting every block.
        """
        return _into(self.read(window)[None], out)

    def read_sampled(self, window: tuple[int, int, int, int], out_shape: tuple[int, int]) -> np.ndarray:
        """Return ``window`` sampled down to ``out_shape`` by picking cells (nearest neighbour).

        For display only (map overlays): values are original cells, never averages.
        The default reads the whole window; file sources let GDAL pick the cells.
        """
        data = self.read(window)
        rows = np.minimum((np.arange(out_shape[0]) + 0.5) * data.shape[0] / out_shape[0], data.shape[0] - 1)
        cols = np.minimum((np.arange(out_shape[1]) + 0.5) * data.shape[1] / out_shape[1], data.shape[1] - 1)
        return data[rows.astype(int)][:, cols.astype(int)]


class ArraySource(BlockReader):
    """Cells held in memory (tests, arrays computed elsewhere)."""

    def __init__(self, array: np.ndarray, transform: Affine, crs: CRS | str | int,
                 nodata: float | None = None, block_shape: tuple[int, int] = (256, 256),
                 label: str = "array", band_labels: tuple[str, ...] | None = None,
                 band_times: tuple[str, ...] | None = None):
        if array.ndim not in (2, 3):
            raise GridError(f"Array source has {array.ndim} dimensions", "a 2-D array (or bands × rows × columns)")
        self.array = array
        self.nodata = nodata
        self.label = label
        n = 1 if array.ndim == 2 else array.shape[0]
        self.band_labels = tuple(band_labels) if band_labels else tuple(str(b) for b in range(1, n + 1))
        self.band_times = tuple(band_times) if band_times else None
        self.grid = Grid(array.shape[-1], array.shape[-2], Affine(*tuple(transform)[:6]), CRS.from_user_input(crs),
                         block_shape)
        self.grid.check(label)

    def read(self, window: tuple[int, int, int, int]) -> np.ndarray:
        r, c, h, w = window
        return self.array[r:r + h, c:c + w] if self.array.ndim == 2 else self.array[0, r:r + h, c:c + w]

    def read_stack(self, window: tuple[int, int, int, int], out: np.ndarray | None = None) -> np.ndarray:
        r, c, h, w = window
        data = self.array[None, r:r + h, c:c + w] if self.array.ndim == 2 else self.array[:, r:r + h, c:c + w]
        return _into(data, out)


class RasterSource(BlockReader):
    """A raster file (GeoTIFF, COG, VRT, NetCDF subdataset…) read through rasterio.

    ``crs`` overrides the file's CRS: only product adapters use it, for products whose
    documentation fixes the grid (EDGAR NetCDF files carry no grid mapping). Each thread
    gets its own dataset handle. ``bands`` lists the bands read (``"all"`` for every band);
    by default several bands are summed cell by cell into one (e.g. twelve monthly bands
    into one year); with ``stack=True`` they are kept apart (:meth:`read_stack`), labelled
    by band number and, for NetCDF variables with a time dimension, by their date decoded
    from the CF ``units`` of the time coordinate. The object pickles to its path, so it can
    be shipped to dask workers.
    """

    def __init__(self, path: str | Path, bands: tuple[int, ...] | str = (1,), label: str | None = None,
                 crs: CRS | str | int | None = None, stack: bool = False):
        self.path = str(path)
        self.label = label or Path(self.path).name
        self._local = threading.local()
        if self.path.lower().endswith(".vrt"):
            check_vrt_sources(self.path)
        with self._open() as ds:
            if ds.crs is None and crs is None:
                raise GridError(f"{self.label} has no coordinate reference system",
                                "a raster with a CRS", "assign one, e.g. `gdal_edit.py -a_srs EPSG:4326`")
            self.bands = tuple(range(1, ds.count + 1)) if bands == "all" else tuple(int(b) for b in bands)
            missing = [b for b in self.bands if b < 1 or b > ds.count]
            if missing or not self.bands:
                raise RasterReadError(f"{self.label} has {ds.count} band(s); bands {missing or '[]'} do not exist",
                                      f"band numbers 1..{ds.count}")
            block = ds.block_shapes[self.bands[0] - 1]
            self.dtype = np.dtype(ds.dtypes[self.bands[0] - 1])
            self.nodata = ds.nodata
            self.tags = ds.tags()
            self.stack = bool(stack)
            if self.stack:
                self.band_labels = tuple(str(b) for b in self.bands)
                self.band_times = band_times(ds, self.bands)
            self.grid = Grid(ds.width, ds.height, ds.transform, CRS.from_user_input(crs or ds.crs), tuple(block))
        self.grid.check(self.label)

    def _open(self):
        try:
            return rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as exc:
            raise RasterReadError(f"Cannot open raster {self.path}: {exc}",
                                  "a readable GeoTIFF, COG, VRT or NetCDF file",
                                  "check the path and that the file is complete (re-download it)") from exc

    def _dataset(self):
        ds = getattr(self._local, "ds", None)
        if ds is None:
            ds = self._local.ds = self._open()
        return ds

    def _read_window(self, window: tuple[int, int, int, int], what: str = "block", **kw) -> np.ndarray:
        """``rasterio``'s read of the bands over ``window`` (row, col, height, width); a decoding
        failure becomes one :class:`RasterReadError` naming the file and the window."""
        r, c, h, w = window
        try:
            return self._dataset().read(self.bands, window=Window(c, r, w, h), **kw)
        except rasterio.errors.RasterioError as exc:
            raise RasterReadError(f"{self.label}: {what} at row {r}, column {c} cannot be decoded ({exc})",
                                  "an intact raster file", "the file is corrupt: re-download or rebuild it"
                                  ) from exc

    def read(self, window: tuple[int, int, int, int]) -> np.ndarray:
        data = self._read_window(window)
        if len(self.bands) == 1:
            return data[0]
        return _sum_bands(data, self.nodata)

    def read_stack(self, window: tuple[int, int, int, int], out: np.ndarray | None = None) -> np.ndarray:
        if not self.stack and len(self.bands) > 1:  # bands summed into one
            return _into(self.read(window)[None], out)
        return self._read_window(window, out=out)  # with ``out``, GDAL converts while decoding (no extra pass)

    def read_sampled(self, window: tuple[int, int, int, int], out_shape: tuple[int, int]) -> np.ndarray:
        data = self._read_window(window, "window", out_shape=(len(self.bands), *out_shape),
                                 resampling=Resampling.nearest)
        return data[0] if len(self.bands) == 1 else _sum_bands(data, self.nodata)

    def close(self) -> None:
        ds = getattr(self._local, "ds", None)
        if ds is not None:
            ds.close()
            self._local.ds = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_local")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()


class SeriesSource(BlockReader):
    """Files on one grid read together as a stack of bands (a time series, one file per step).

    Parameters
    ----------
    paths : sequence of paths
        One file per band, in order; band ``band`` of each is read.
    labels : sequence of str, optional
        Band labels (default: the file names without suffix).

    Raises
    ------
    GridError
        A file on another grid (size, transform or CRS) than the first, named.
    """

    def __init__(self, paths, band: int = 1, labels=None, crs: CRS | str | int | None = None):
        self.sources = [RasterSource(p, bands=(band,), crs=crs) for p in paths]
        if not self.sources:
            raise GridError("No files in the series", "at least one file")
        first = self.sources[0]
        for src in self.sources[1:]:
            g, h = src.grid, first.grid
            if (g.width, g.height, tuple(g.transform)[:6]) != (h.width, h.height, tuple(h.transform)[:6]) \
                    or not g.crs.equals(h.crs):
                raise GridError(f"{src.label} is on another grid ({g.width}×{g.height}, {tuple(g.transform)[:6]}) "
                                f"than {first.label} ({h.width}×{h.height}, {tuple(h.transform)[:6]})",
                                "every file of a series on the same grid",
                                "warp them to one grid first, or run them separately")
            if src.nodata != first.nodata and not (src.nodata is not None and first.nodata is not None
                                                   and np.isnan(src.nodata) and np.isnan(first.nodata)):
                raise GridError(f"{src.label} has nodata {src.nodata}, {first.label} {first.nodata}",
                                "one nodata value across the series", "pass --nodata to state it")
        self.label = f"{first.label} … ({len(self.sources)} files)"
        self.grid = first.grid
        self.nodata = first.nodata
        self.dtype = first.dtype
        self.tags = first.tags
        self.band_labels = tuple(labels) if labels else tuple(Path(s.path).stem for s in self.sources)
        self.band_times = None
        self.stack = True

    def read(self, window: tuple[int, int, int, int]) -> np.ndarray:
        return self.sources[0].read(window)

    def read_stack(self, window: tuple[int, int, int, int], out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            return np.stack([s.read(window) for s in self.sources])
        for i, s in enumerate(self.sources):
            s.read_stack(window, out=out[i:i + 1])
        return out

    def close(self) -> None:
        for s in self.sources:
            s.close()


def _into(data: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``data``, or ``data`` copied (and converted) into ``out``."""
    if out is None:
        return data
    np.copyto(out, data, casting="unsafe")
    return out


def _sum_bands(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Sum bands cell by cell; a cell is nodata if any band is."""
    out = data.astype(np.float64).sum(axis=0)
    if nodata is not None:
        bad = np.any(data == nodata, axis=0)
        out[bad] = nodata
    return out
