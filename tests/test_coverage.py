"""Exact coverage fractions, checked by hand and against shapely intersections."""

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.zonal.coverage import block_coverage, edge_pieces


def assemble(geom, shape, block, cropped=False):
    """Coverage of a whole grid, assembled block by block (as the engine reads it). ``cropped``
    computes each block only over the outline's cell bounds, as the engine does."""
    from atlas.zonal.accumulate import _crop

    pieces = edge_pieces(geom, shape, block)
    out = np.zeros(shape)
    if pieces is None:
        return out
    n_bc = -(-shape[1] // block[1])
    for br in range(-(-shape[0] // block[0])):
        for bc in range(n_bc):
            r0, c0 = br * block[0], bc * block[1]
            h, w = min(block[0], shape[0] - r0), min(block[1], shape[1] - c0)
            if not cropped:
                out[r0:r0 + h, c0:c0 + w] = block_coverage(pieces, (r0, c0, h, w), (br, bc), n_bc)
                continue
            b = pieces.bounds
            if r0 >= b[2] or r0 + h <= b[0] or c0 >= b[3] or c0 + w <= b[1]:
                continue
            rs, cs = _crop(b, (r0, c0, h, w))
            cov = block_coverage(pieces, (r0, c0, h, w), (br, bc), n_bc, (rs, cs))
            out[r0 + rs.start:r0 + rs.stop, c0 + cs.start:c0 + cs.stop] = cov
    return out


def reference(geom, shape):
    return np.array([[shapely.box(c, r, c + 1, r + 1).intersection(geom).area for c in range(shape[1])]
                     for r in range(shape[0])])


def test_square_offset_by_half_cell():
    # A 2×2 square from (0.5, 0.5) to (2.5, 2.5) on a 3×3 grid: corner cells are a quarter
    # inside, edge cells half, the centre cell whole. Total 4 × 0.25 + 4 × 0.5 + 1 = 4 = its area.
    cov = assemble(shapely.box(0.5, 0.5, 2.5, 2.5), (3, 3), (2, 2))
    np.testing.assert_allclose(cov, [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]], atol=1e-12)


def test_triangle_cut_on_diagonals():
    # Triangle (0,0)-(3,0)-(0,3) in (column, row) space: the hypotenuse halves the cells on
    # the anti-diagonal (0.5 each) and leaves the three cells above it whole: 3 + 3 × 0.5 = 4.5.
    cov = assemble(shapely.Polygon([(0, 0), (3, 0), (0, 3)]), (3, 3), (2, 2))
    np.testing.assert_allclose(cov, [[1, 1, 0.5], [1, 0.5, 0], [0.5, 0, 0]], atol=1e-12)


def test_hole_subtracts():
    ring = shapely.box(0, 0, 4, 4).difference(shapely.box(1, 1, 3, 3))
    cov = assemble(ring, (4, 4), (3, 3))
    assert cov[1:3, 1:3].sum() == pytest.approx(0)
    assert cov.sum() == pytest.approx(12)


def test_forty_percent_cell_counts_forty_percent():
    # The outline covers x in [0, 1.4): the second column's cells are 40 % inside.
    cov = assemble(shapely.box(0, 0, 1.4, 2), (2, 3), (2, 3))
    np.testing.assert_allclose(cov[:, 1], [0.4, 0.4], atol=1e-12)


def test_outside_returns_none():
    assert edge_pieces(shapely.Polygon(), (3, 3), (3, 3)) is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), bh=st.integers(1, 9), bw=st.integers(1, 9))
def test_matches_shapely_for_random_polygons(seed, bh, bw):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 12, (25, 2))
    geom = shapely.concave_hull(shapely.MultiPoint(pts), ratio=0.4)
    if geom.geom_type != "Polygon" or geom.area == 0:
        return
    cov = assemble(geom, (12, 12), (bh, bw))
    np.testing.assert_allclose(cov, reference(geom, (12, 12)), atol=1e-9)


@pytest.mark.parametrize("geom", [
    shapely.box(1, 1, 4, 3),                # edges on grid lines: the bottom edge's piece lies below the bounds
    shapely.box(0.5, 1.25, 6.75, 5.5),
    shapely.Polygon([(0.2, 0.3), (6.9, 2.1), (3.3, 7.8)]),
])
def test_cropped_blocks_equal_whole_blocks(geom):
    # Computing coverage only inside the outline's cell bounds gives the same cells as whole blocks
    # (outside the bounds coverage is 0), including a box that only partly covers its blocks.
    shape, block = (8, 8), (3, 5)
    np.testing.assert_array_equal(assemble(geom, shape, block, cropped=True), assemble(geom, shape, block))
