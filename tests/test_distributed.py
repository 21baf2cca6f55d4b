"""A real dask.distributed LocalCluster gives the same numbers as a serial run."""

import ctypes
import ctypes.util

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from atlas.rasters import open_layer
from atlas.zonal import zonal_stats

pytestmark = pytest.mark.slow


def test_mosaic_on_local_cluster_equals_serial(tif):
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(7)
    tiles = []
    for i, left in enumerate((110, 120)):
        data = rng.integers(0, 101, (200, 200), dtype=np.uint8)
        tiles.append(tif(f"Hansen_GFC-2023-v1.11_treecover2000_30N_{left}E.tif", data,
                         Affine(0.05, 0, left, 0, -0.05, 30)))
    readers, spec = open_layer(tiles)
    regions = gpd.GeoDataFrame({"pilot_id": ["a", "b", "c"]}, geometry=[
        shapely.Point(119.5, 25).buffer(2.5),          # straddles the two tiles
        shapely.Point(112, 22).buffer(1.0),
        shapely.box(118, 21, 122, 29),                 # overlaps "a"
    ], crs=4326)
    serial = zonal_stats(regions, readers, spec, workers=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = zonal_stats(regions, readers, spec, client=client)
    assert remote.equals(serial)
    assert serial["treecover2000_ha"].gt(0).all()


def _block_array_is_mmapped() -> bool:
    """Whether a fresh 2 MiB array (one 512 × 512 float64 block) lands in its own mmap."""
    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]

    mallinfo2 = ctypes.CDLL(ctypes.util.find_library("c")).mallinfo2
    mallinfo2.restype = MallInfo2
    before = mallinfo2().hblkhd
    block = np.ones((512, 512))
    grown = mallinfo2().hblkhd - before
    del block
    return grown >= 2 * 2**20


def test_cluster_workers_keep_block_arrays_on_heap(tif):
    # dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_ set, which pins glibc's mmap
    # threshold at 128 KiB: a 2 MiB block array is mmapped. Once the code that started the
    # cluster registers the atlas' worker plugin, the worker has raised the threshold and the
    # same array comes from the heap; zonal tasks themselves change nothing in the process.
    from distributed import Client, LocalCluster

    from atlas.zonal import register_worker_setup

    try:
        ctypes.CDLL(ctypes.util.find_library("c")).mallinfo2
    except (OSError, AttributeError, TypeError):
        pytest.skip("not glibc >= 2.33 (no mallinfo2)")
    data = np.full((100, 100), 50, dtype=np.uint8)
    readers, spec = open_layer([tif("Hansen_GFC-2023-v1.11_treecover2000_30N_110E.tif", data,
                                    Affine(0.05, 0, 110, 0, -0.05, 30))])
    regions = gpd.GeoDataFrame({"pilot_id": ["a"]}, geometry=[shapely.box(111, 26, 114, 29)], crs=4326)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        assert list(client.run(_block_array_is_mmapped).values()) == [True]
        zonal_stats(regions, readers, spec, client=client)
        assert list(client.run(_block_array_is_mmapped).values()) == [True]  # tasks leave malloc alone
        register_worker_setup(client)
        assert list(client.run(_block_array_is_mmapped).values()) == [False]


def test_prepared_tile_reports_its_size_to_dask(tif):
    # The scheduler moves a scattered tile to another worker only when that is cheaper than
    # waiting; it can judge that only if dask.sizeof sees the edge-piece arrays.
    from dask.sizeof import sizeof

    from atlas.zonal import prepare_tile

    data = np.zeros((400, 400), dtype=np.uint8)
    readers, _ = open_layer([tif("Hansen_GFC-2023-v1.11_treecover2000_30N_110E.tif", data,
                                 Affine(0.025, 0, 110, 0, -0.025, 30))])
    regions = gpd.GeoSeries([shapely.Point(115, 25).buffer(3.0, quad_segs=64)], crs=4326)
    tile = prepare_tile(readers[0], regions)
    piece = tile.pieces[0]
    held = sum(a.nbytes for a in (piece.row, piece.col, piece.du, piece.area, piece.block_key, piece.carry))
    assert piece.nbytes == held > 10_000  # a circle of 240 cells across: hundreds of pieces of 8-byte fields
    assert sizeof(tile) >= held + tile.row_area.nbytes
