"""Exact fraction of each raster cell covered by a polygon, computed block by block.

Method (signed-area accumulation). In grid coordinates (column ``u`` to the right, row
``v`` downward, one unit per cell) every polygon edge is split where it crosses a grid
line, so each piece lies inside one cell. A piece running from ``(ua, va)`` to
``(ub, vb)`` in cell ``(r, c)`` adds ``(ub - ua) * (1 - (va + vb) / 2)`` (the signed area
between the piece and the cell's lower edge) to that cell and ``(ub - ua)`` to every
cell below it in the same column. Summed over a closed, consistently oriented ring this
is exactly the area of the ring inside each cell; holes, with the opposite orientation,
subtract. The "every cell below" part is a cumulative sum down each column, so a block
of the raster needs only the pieces inside it plus one *carry* value per column (the sum
of ``ub - ua`` of all pieces above the block).

On geographic and cylindrical grids the own-cell term is the piece's share of the cell's
*ellipsoidal* area (:mod:`atlas.zonal.ellipsoid`); the carried ``du`` terms need no change,
because a full-height strip of a cell holds the share ``du`` of its area on the ellipsoid
too (the area density depends on latitude only).

Nothing here reads files: geometries in grid coordinates in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine

from atlas.zonal.ellipsoid import mean_below

_EPS = 1e-9


@dataclass(frozen=True)
class EdgePieces:
    """A polygon's edges split at grid lines, sorted by block.

    Attributes
    ----------
    row, col : numpy.ndarray of int64
        Cell of each piece (whole-grid indices).
    du : numpy.ndarray of float64
        Signed width of the piece in cell units (its contribution to cells below).
    area : numpy.ndarray of float64
        Signed area of the piece inside its own cell, in cell units.
    block_key : numpy.ndarray of int64
        ``block_row * n_block_cols + block_col``, sorted ascending.
    carry : numpy.ndarray of float64, shape (n_block_rows, bounds[3] - bounds[1])
        Column carry entering each block row, for the columns the polygon spans
        (columns outside them carry nothing).
    bounds : tuple of int
        ``(row0, col0, row1, col1)`` cell window that the polygon touches (end exclusive).
    """

    row: np.ndarray
    col: np.ndarray
    du: np.ndarray
    area: np.ndarray
    block_key: np.ndarray
    carry: np.ndarray
    bounds: tuple[int, int, int, int]

    @property
    def nbytes(self) -> int:
        """Bytes of the piece arrays."""
        return sum(a.nbytes for a in (self.row, self.col, self.du, self.area, self.block_key, self.carry))


def to_grid(geometry: shapely.Geometry, transform: Affine) -> shapely.Geometry:
    """Map a geometry from raster CRS coordinates to (column, row) grid coordinates."""
    inv = ~transform
    return shapely.transform(geometry, lambda xy: np.column_stack(inv @ (xy[:, 0], xy[:, 1])))


def _ring_edges(geometry: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Return start and end points (n, 2) of every ring edge, rings oriented consistently.

    Exterior rings are oriented counter-clockwise and holes clockwise *in grid
    coordinates* (shapely's convention, with ``v`` playing the role of ``y``).
    """
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    rings = shapely.get_rings(shapely.get_parts(oriented))
    coords, ring_index = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_index[1:] == ring_index[:-1]
    return coords[:-1][same_ring], coords[1:][same_ring]


def _crossings(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parameters ``t`` in (0, 1) where segments a→b cross integer values, and their segment index.

    Each segment's crossings come in the order the segment meets them (``t`` ascending).
    """
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    first = np.floor(lo).astype(np.int64) + 1
    last = np.ceil(hi).astype(np.int64) - 1
    count = np.maximum(last - first + 1, 0)
    seg = np.repeat(np.arange(a.size), count)
    if seg.size == 0:
        return np.empty(0), seg
    starts = np.cumsum(count) - count
    j = np.arange(seg.size) - starts[seg]
    k = np.where(a[seg] <= b[seg], first[seg] + j, last[seg] - j)
    t = (k - a[seg]) / (b[seg] - a[seg])
    return t, seg


def split_edges(p0: np.ndarray, p1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split segments p0→p1 (grid coordinates) at every grid line; return piece ends.

    Each segment's cut parameters are laid out as ``0, x-crossings, y-crossings, 1``; each list
    is already in order, so only segments that cross both kinds of line need sorting (a global
    sort of every cut was most of the time spent preparing an outline).
    """
    tx, sx = _crossings(p0[:, 0], p1[:, 0])
    ty, sy = _crossings(p0[:, 1], p1[:, 1])
    n = len(p0)
    nx, ny = np.bincount(sx, minlength=n), np.bincount(sy, minlength=n)
    size = nx + ny + 2
    start = np.cumsum(size) - size
    t = np.zeros(int(size.sum()))
    t[start + size - 1] = 1.0
    t[start[sx] + 1 + (np.arange(sx.size) - (np.cumsum(nx) - nx)[sx])] = tx
    t[start[sy] + 1 + nx[sy] + (np.arange(sy.size) - (np.cumsum(ny) - ny)[sy])] = ty
    seg = np.repeat(np.arange(n), size)
    mixed = ((nx > 0) & (ny > 0))[seg]
    if mixed.any():
        where = np.flatnonzero(mixed)
        t[where] = t[where][np.lexsort((t[where], seg[where]))]
    pts = p0[seg] + t[:, None] * (p1[seg] - p0[seg])
    keep = (seg[1:] == seg[:-1]) & (t[1:] > t[:-1])
    return pts[:-1][keep], pts[1:][keep]


def edge_pieces(
    grid_geometry: shapely.Geometry,
    shape: tuple[int, int],
    block_shape: tuple[int, int],
    profile: np.ndarray | None = None,
) -> EdgePieces | None:
    """Split a polygon (already in grid coordinates and clipped to the grid) into cell pieces.

    Parameters
    ----------
    grid_geometry : shapely Polygon or MultiPolygon
        Outline in (column, row) coordinates, inside ``[0, width] x [0, height]``.
    shape : (height, width)
        Raster size in cells.
    block_shape : (block_height, block_width)
        Block size used by the reader; pieces are sorted by block.
    profile : numpy.ndarray (height, 6), optional
        Per-row polynomial of the share of a cell's ellipsoidal area below a height
        (:func:`atlas.zonal.ellipsoid.row_profiles`); coverage is then the share of each
        cell's area on the ellipsoid. Without it, the planar share (``1 − y``).

    Returns
    -------
    EdgePieces or None
        ``None`` when the polygon does not reach any cell (empty or zero area).
    """
    if grid_geometry is None or grid_geometry.is_empty or grid_geometry.area <= 0:
        return None
    height, width = shape
    bh, bw = block_shape
    p0, p1 = _ring_edges(grid_geometry)
    a, b = split_edges(p0, p1)
    mid = 0.5 * (a + b)
    col = np.clip(np.floor(mid[:, 0]).astype(np.int64), 0, width - 1)
    row = np.floor(mid[:, 1]).astype(np.int64)
    du = b[:, 0] - a[:, 0]
    keep = (du != 0) & (row < height)
    row, col, du, a, b = row[keep], col[keep], du[keep], a[keep], b[keep]
    row = np.maximum(row, 0)
    # Share of the piece's cell lying below (towards larger row) the piece: planar 1 - mean(v_local),
    # or on the ellipsoid the mean of the row's area profile over the piece.
    if profile is None:
        below = 1.0 - (0.5 * (a[:, 1] + b[:, 1]) - row)
    else:
        below = mean_below(profile[row], a[:, 1] - row, b[:, 1] - row)
    area = du * np.clip(below, 0.0, 1.0)
    n_block_rows = -(-height // bh)
    n_block_cols = -(-width // bw)
    key = (row // bh) * n_block_cols + col // bw
    order = np.argsort(key, kind="stable")
    row, col, du, area, key = row[order], col[order], du[order], area[order], key[order]
    minx, miny, maxx, maxy = grid_geometry.bounds
    bounds = (max(int(np.floor(miny)), 0), max(int(np.floor(minx)), 0),
              min(int(np.ceil(maxy)), height), min(int(np.ceil(maxx)), width))
    # carry[i, c]: sum of du of pieces in column bounds[1] + c above block row i. A running
    # sum one row at a time: numpy's cumsum down axis 0 is several times slower.
    span = bounds[3] - bounds[1]
    flat = (row // bh + 1) * span + (col - bounds[1])
    carry = np.bincount(flat, weights=du, minlength=(n_block_rows + 1) * span)
    carry = carry.reshape(n_block_rows + 1, span)
    _running_sum_down(carry[:n_block_rows])
    carry = carry[:n_block_rows]
    return EdgePieces(row, col, du, area, key, carry, bounds)


def _running_sum_down(a: np.ndarray) -> None:
    """Running sum down the rows of a C-ordered 2-D array, in place.

    Row by row for wide arrays (numpy's cumsum down axis 0 of a wide array is 4× slower than
    a loop of row additions), by cumsum for narrow ones (where the loop's per-call cost
    dominates). Both add in the same order, so the results are identical.
    """
    if a.shape[0] < 2:
        return
    if a.shape[1] < 128:
        np.cumsum(a, axis=0, out=a)
        return
    for i in range(1, a.shape[0]):
        np.add(a[i], a[i - 1], out=a[i])


def block_coverage(
    pieces: EdgePieces,
    window: tuple[int, int, int, int],
    block_index: tuple[int, int],
    n_block_cols: int,
    crop: tuple[slice, slice] | None = None,
) -> np.ndarray | float:
    """Coverage fractions (0..1) of a polygon over one block (or the ``crop`` of it).

    Parameters
    ----------
    pieces : EdgePieces
    window : (row0, col0, height, width)
        The block's cell window.
    block_index : (block_row, block_col)
    n_block_cols : int
    crop : (slice, slice), optional
        Rows and columns of the block (explicit starts and stops) holding the polygon's cell
        bounds: coverage is computed there only (it is 0 outside them).

    Returns
    -------
    numpy.ndarray of float64 (the block's or the crop's shape), or the float 0.0 / 1.0
        A scalar when the whole block is outside or inside the polygon: callers use
        that to skip work.
    """
    row0, col0, h, w = window
    br, bc = block_index
    ra, rb, ca, cb = (0, h, 0, w) if crop is None else (crop[0].start, crop[0].stop, crop[1].start, crop[1].stop)
    hh, ww = rb - ra, cb - ca
    first = pieces.bounds[1]
    lo_c, hi_c = max(col0 + ca, first), min(col0 + cb, pieces.bounds[3])
    carry = np.zeros(ww)
    if hi_c > lo_c:
        carry[lo_c - col0 - ca:hi_c - col0 - ca] = pieces.carry[br, lo_c - first:hi_c - first]
    key = br * n_block_cols + bc
    lo, hi = np.searchsorted(pieces.block_key, [key, key + 1])
    if lo == hi:
        if np.all(np.abs(carry) < _EPS):
            return 0.0
        if np.all(np.abs(carry - 1.0) < _EPS) and (hh, ww) == (h, w):
            return 1.0
        return np.broadcast_to(np.clip(carry, 0.0, 1.0), (hh, ww)).copy()
    r = pieces.row[lo:hi] - row0 - ra
    c = pieces.col[lo:hi] - col0 - ca
    # Only the rectangle of rows and columns holding pieces needs a running sum: above it
    # (and in columns without pieces) coverage is the carry, below it the carry plus the
    # column's total of du.
    r_lo, r_hi = int(r.min()), int(r.max()) + 1
    c_lo, c_hi = int(c.min()), int(c.max()) + 1
    nr, cw = r_hi - r_lo, c_hi - c_lo
    r = r - r_lo
    c = c - c_lo
    down = np.bincount((r + 1) * cw + c, weights=pieces.du[lo:hi], minlength=(nr + 1) * cw)
    down = down.reshape(nr + 1, cw)
    down[0] += carry[c_lo:c_hi]
    _running_sum_down(down)
    cov = np.empty((hh, ww))
    cov[:] = carry
    cov[r_lo:r_hi, c_lo:c_hi] = down[:nr]
    own = np.bincount(r * cw + c, weights=pieces.area[lo:hi], minlength=nr * cw)
    cov[r_lo:r_hi, c_lo:c_hi] += own.reshape(nr, cw)
    cov[r_hi:, c_lo:c_hi] = down[nr]
    # Exterior rings run counter-clockwise with v as "y", so their upper edges (small v)
    # run towards +u and the inside comes out positive; clipping removes rounding noise.
    np.clip(cov, 0.0, 1.0, out=cov)
    return cov
