"""A real dask.distributed LocalCluster gives the same numbers as a serial run."""

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
