"""Accumulating one task's blocks: coverage once per block, every band in the same pass.

Per region ``k`` and band ``b`` the sums are (``c`` the share of a cell's ellipsoidal area
inside the region, ``A`` the cell's area in m², ``v`` the value, ``valid`` 0/1):

``area[k]``        Σ c·A (covered area, all cells)
``valid[k, b]``    Σ c·A·valid
``wsum[k, b]``     Σ c·A·v          (flux densities, fractions)
``csum[k, b]``     Σ c·v            (per-cell amounts; also the ``sum`` statistic)
``cover[k, b]``    Σ c·valid        (the ``count`` statistic)
``sq[k, b]``       Σ c·v²           (for ``std``)
``thr[k, b]``      Σ c·A·valid·[v ≥ threshold]
``hist[code]``     Σ c·A·valid·[v = code], an (n, bands) array per class code

The sums of a block are matrix–vector products (values as ``bands × cells`` times the
weights of a region), so a 12-band block costs one pass over its cells per region.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from atlas.rasters.cellarea import projected_cell_areas
from atlas.rasters.layer import LayerSpec
from atlas.rasters.units import QuantityKind
from atlas.zonal.coverage import block_coverage
from atlas.zonal.prepare import PreparedTile, Task

#: The range a fraction layer's values must stay in, by unit slug (after scale and offset).
FRACTION_RANGE = {"pct": (0.0, 100.0), "fraction": (0.0, 1.0)}


@dataclass(frozen=True)
class Options:
    """What to accumulate beyond the always-kept sums.

    ``moments``: coverage-weighted count, sum and sum of squares (``cover``, ``csum``, ``sq``)
    for every kind; ``extrema``: per-region min and max of values in covered cells; ``samples``: keep the
    (value, coverage) pairs of covered cells for quantiles and majority (memory grows with
    the regions' cell count, so only when those statistics are asked for).
    """

    moments: bool = False
    extrema: bool = False
    samples: bool = False


class Accumulator:
    """Running sums per region and band (see the module docstring); added in a fixed order."""

    def __init__(self, n: int, n_bands: int = 1):
        self.area = np.zeros(n)
        shape = (n, n_bands)
        self.valid = np.zeros(shape)
        self.wsum = np.zeros(shape)
        self.csum = np.zeros(shape)
        self.cover = np.zeros(shape)
        self.sq = np.zeros(shape)
        self.thr = np.zeros(shape)
        self.vmin = np.full(shape, np.inf)
        self.vmax = np.full(shape, -np.inf)
        self.hist: dict[int, np.ndarray] = {}
        self.samples: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
        #: Valid values outside the layer's declared range: count, smallest, largest.
        self.out_of_range = [0, np.inf, -np.inf]

    @property
    def n_bands(self) -> int:
        return self.valid.shape[1]

    def add(self, other: Accumulator) -> None:
        for name in ("area", "valid", "wsum", "csum", "cover", "sq", "thr"):
            getattr(self, name).__iadd__(getattr(other, name))
        np.minimum(self.vmin, other.vmin, out=self.vmin)
        np.maximum(self.vmax, other.vmax, out=self.vmax)
        for code, values in other.hist.items():
            if code in self.hist:
                self.hist[code] += values
            else:
                self.hist[code] = values.copy()
        for key, parts in other.samples.items():
            self.samples.setdefault(key, []).extend(parts)
        o = other.out_of_range
        self.out_of_range = [self.out_of_range[0] + o[0], min(self.out_of_range[1], o[1]),
                             max(self.out_of_range[2], o[2])]


@dataclass
class _Block:
    """One decoded block: values ``(bands, h, w)`` (invalid set to 0), valid mask (0/1 or None),
    cell areas ``(h, 1)`` or ``(h, w)``, and what is derived from them once per block."""

    values: np.ndarray
    valid: np.ndarray | None
    area: np.ndarray
    above: np.ndarray | None = None
    squares: np.ndarray | None = None
    full: dict = field(default_factory=dict)


def block_values(raw: np.ndarray, spec: LayerSpec, nodata: float | None,
                 own: bool = False, integer_file: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Values ``(bands, h, w)`` with invalid cells set to 0, and the valid mask (or None).

    ``own``: ``raw`` is the caller's float64 scratch buffer and is changed in place. Otherwise,
    without scale and offset, the values keep the file's type (the caller must not write to them).
    ``integer_file``: the cells were decoded from integers, so none is NaN or infinite.
    """
    if own:
        invalid = None
        if nodata is not None:
            invalid = raw == nodata if not np.isnan(nodata) else np.isnan(raw)
        if not integer_file:
            nan = ~np.isfinite(raw)
            invalid = nan if invalid is None else np.logical_or(invalid, nan, out=invalid)
        if spec.scale != 1.0:
            raw *= spec.scale
        if spec.offset != 0.0:
            raw += spec.offset
        if invalid is not None and invalid.any():
            raw[invalid] = 0.0
            return raw, ~invalid
        return raw, None
    invalid = None
    if nodata is not None:
        invalid = raw == nodata if not np.isnan(nodata) else np.isnan(raw)
    if raw.dtype.kind == "f":
        nan = ~np.isfinite(raw)
        invalid = nan if invalid is None else (invalid | nan)
    # Values stay in the file's type when nothing rescales them: the sums (einsum) convert to
    # float64 on the fly, which saves a block-sized copy per band.
    scaled = spec.scale != 1.0 or spec.offset != 0.0
    values = raw.astype(np.float64) * spec.scale + spec.offset if scaled else raw
    if invalid is not None and invalid.any():
        values = np.where(invalid, values.dtype.type(0), values)
        return values, ~invalid
    return values, None


def _check_range(acc: Accumulator, values: np.ndarray, valid: np.ndarray | None, bounds) -> None:
    lo, hi = bounds
    if values.size == 0:
        return
    if valid is None:
        vmin, vmax = float(values.min()), float(values.max())
        if lo <= vmin and vmax <= hi:
            return
        bad = (values < lo) | (values > hi)
    else:
        bad = ((values < lo) | (values > hi)) & valid
        if not bad.any():
            return
    found = values[bad]
    o = acc.out_of_range
    acc.out_of_range = [o[0] + int(found.size), min(o[1], float(found.min())), max(o[2], float(found.max()))]


def run_task(task: Task, tile: PreparedTile, spec: LayerSpec, n_regions: int,
             options: Options = Options()) -> Accumulator:
    """Process one task's blocks of ``tile``; pure apart from reading cells."""
    reader = tile.reader
    n_bands = reader.n_bands
    acc = Accumulator(n_regions, n_bands)
    grid = tile.grid
    bh, bw = tile.block_shape
    n_bc = -(-grid.width // bw)
    nodata = spec.nodata if spec.nodata is not None else reader.nodata
    bounds = FRACTION_RANGE.get(spec.unit.slug) if spec.kind is QuantityKind.FRACTION else None
    # Class codes stay in the file's type (bincount); other values are summed as float64, which
    # einsum does 3-4× faster than casting float32 or integer cells on the fly.
    buffer = None if spec.kind is QuantityKind.CLASSES else np.empty(n_bands * bh * bw)
    dtype = getattr(reader, "dtype", None)
    integer_file = dtype is not None and np.dtype(dtype).kind in "iub"
    for br in range(*task.block_rows):
        r0 = br * bh
        h = min(bh, grid.height - r0)
        for bc in range(n_bc):
            c0 = bc * bw
            w = min(bw, grid.width - c0)
            window = (r0, c0, h, w)
            covers = []
            for k, p in enumerate(tile.pieces):
                if p is None or r0 >= p.bounds[2] or r0 + h <= p.bounds[0] \
                        or c0 >= p.bounds[3] or c0 + w <= p.bounds[1]:
                    continue
                crop = _crop(p.bounds, window)
                cov = block_coverage(p, window, (br, bc), n_bc, crop)
                if isinstance(cov, float) and cov == 0.0:
                    continue
                covers.append((k, cov, crop))
            if not covers:
                continue
            if buffer is not None:
                # Decoded straight into one float64 buffer per task, reused block after block:
                # a fresh 25 MB array per 12-band block cost more in page faults than the sums.
                out = buffer[:n_bands * h * w].reshape(n_bands, h, w)
                values, valid = block_values(reader.read_stack(window, out=out), spec, nodata, own=True,
                                             integer_file=integer_file)
            else:
                values, valid = block_values(reader.read_stack(window), spec, nodata)
            if bounds is not None:
                _check_range(acc, values, valid, bounds)
            if tile.row_area is not None:
                area = tile.row_area[r0:r0 + h][:, None]
            elif tile.geometry.cell_area is not None:
                area = np.full((h, 1), tile.geometry.cell_area)
            else:
                area = projected_cell_areas(grid.crs, grid.transform, window)
            block = _Block(values, None if valid is None else valid.astype(np.float64), area)
            if spec.threshold is not None:
                above = values >= spec.threshold
                block.above = (above if valid is None else above & valid).astype(np.float64)
            for k, cov, crop in covers:
                _add_region(acc, k, cov, block, spec, options, crop)
    return acc


def _crop(bounds: tuple[int, int, int, int], window: tuple[int, int, int, int]) -> tuple[slice, slice]:
    """Rows and columns of a block inside a piece's cell bounds (outside them its coverage is 0).

    One row more below: a horizontal edge lying on the grid line that bounds the outline from
    below leaves its (cancelling) piece in the row under it.
    """
    r0, c0, h, w = window
    return (slice(max(bounds[0] - r0, 0), min(bounds[2] + 1 - r0, h)),
            slice(max(bounds[1] - c0, 0), min(bounds[3] - c0, w)))


def _dot(cells: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ over cells of ``cells[b] · weights`` per band, by einsum: BLAS would sum in an order that
    depends on its thread count, and serial, threaded and dask runs (whose workers run BLAS on
    one thread) must give bit-identical results."""
    return np.einsum("bij,ij->b", cells, weights, dtype=np.float64, casting="unsafe")


def _sums(cov: np.ndarray | None, block: _Block, spec: LayerSpec, options: Options,
          crop: tuple[slice, slice]) -> dict:
    """Sums of one region over the ``crop`` of one block; ``cov`` None means the region covers the
    whole block (then ``crop`` is the whole block)."""
    rs, cs = crop
    v = block.values[:, rs, cs]
    n_bands, hh, ww = v.shape
    area = block.area[rs, cs] if block.area.shape[1] > 1 else block.area[rs]
    weight = np.broadcast_to(area, (hh, ww)) if cov is None else cov * area
    # a whole block's area from its row areas: summing the broadcast array cost more than its sums
    out = {"area": float(area.sum() * ww) if cov is None and area.shape[1] == 1 else float(weight.sum())}
    m = None if block.valid is None else block.valid[:, rs, cs]
    out["valid"] = _dot(m, weight) if m is not None else np.full(n_bands, out["area"])
    if options.moments:
        if m is not None:
            out["cover"] = _dot(m, np.ones((hh, ww)) if cov is None else cov)
        else:
            out["cover"] = np.full(n_bands, float(hh * ww) if cov is None else float(cov.sum()))
    kind = spec.kind
    if kind is QuantityKind.CLASSES:
        flat_w = np.ascontiguousarray(weight).reshape(-1)
        out["hist"] = [_class_hist(v[b].reshape(-1), None if m is None else m[b].reshape(-1), flat_w)
                       for b in range(n_bands)]
    else:
        if kind is not QuantityKind.AMOUNT:  # per-cell amounts are summed by coverage alone
            out["wsum"] = _dot(v, weight)
        if kind is QuantityKind.AMOUNT or options.moments:
            out["csum"] = v.sum(axis=(1, 2)) if cov is None else _dot(v, cov)
        if block.above is not None:
            out["thr"] = _dot(block.above[:, rs, cs], weight)
        if options.moments:
            if block.squares is None:
                block.squares = np.square(block.values, dtype=np.float64)
            sq = block.squares[:, rs, cs]
            out["sq"] = sq.sum(axis=(1, 2)) if cov is None else _dot(sq, cov)
    if options.extrema or options.samples:
        c = np.ones(hh * ww) if cov is None else cov.reshape(-1)
        inside = c > 0
        sel = v.reshape(n_bands, -1)[:, inside]
        ok = None if m is None else m.reshape(n_bands, -1)[:, inside] > 0
        if options.extrema:
            lo = np.where(ok, sel, np.inf) if ok is not None else sel
            hi = np.where(ok, sel, -np.inf) if ok is not None else sel
            out["vmin"] = lo.min(axis=1, initial=np.inf)
            out["vmax"] = hi.max(axis=1, initial=-np.inf)
        if options.samples:
            cw = c[inside]
            out["samples"] = [(sel[b] if ok is None else sel[b][ok[b]], cw if ok is None else cw[ok[b]])
                              for b in range(n_bands)]
    return out


def _add_region(acc: Accumulator, k: int, cov, block: _Block, spec: LayerSpec, options: Options,
                crop: tuple[slice, slice]) -> None:
    if isinstance(cov, float):  # the whole block is inside: its sums are shared by every such region
        if "sums" not in block.full:
            block.full["sums"] = _sums(None, block, spec, options, (slice(None), slice(None)))
        sums = block.full["sums"]
    else:
        sums = _sums(cov, block, spec, options, crop)
    acc.area[k] += sums["area"]
    acc.valid[k] += sums["valid"]
    for name in ("cover", "wsum", "csum", "thr", "sq"):
        if name in sums:
            getattr(acc, name)[k] += sums[name]
    if "vmin" in sums:
        np.minimum(acc.vmin[k], sums["vmin"], out=acc.vmin[k])
        np.maximum(acc.vmax[k], sums["vmax"], out=acc.vmax[k])
    for b, part in enumerate(sums.get("samples", ())):
        acc.samples.setdefault((k, b), []).append(part)
    n, n_bands = acc.valid.shape
    for b, hist in enumerate(sums.get("hist", ())):
        for code, value in hist.items():
            if code not in acc.hist:
                acc.hist[code] = np.zeros((n, n_bands))
            acc.hist[code][k, b] += value


def _class_hist(codes: np.ndarray, valid: np.ndarray | None, weight: np.ndarray) -> dict[int, float]:
    if valid is not None:
        keep = valid > 0
        codes, weight = codes[keep], weight[keep]
    codes = codes.astype(np.int64)
    if codes.size == 0:
        return {}
    lo = int(codes.min())
    counts = np.bincount(codes - lo, weights=weight)
    nz = np.flatnonzero(counts)
    return {int(c + lo): float(counts[c]) for c in nz}
