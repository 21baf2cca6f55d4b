"""Importing the atlas changes nothing in the process: no environment variable, no allocator setting."""

import json
import subprocess
import sys

_PROBE = r"""
import json, os, pkgutil, importlib
# Third-party imports that change the environment themselves (rasterio sets GDAL_/PROJ_CURL_CA_BUNDLE,
# scikit-learn behind mapclassify sets KMP_*): imported first, so only the atlas' own changes count.
import rasterio, sklearn  # noqa: F401
import atlas
before = dict(os.environ)
failed = []
for mod in pkgutil.walk_packages(atlas.__path__, "atlas."):
    if mod.name.endswith(("worker", "__main__")):  # the dask plugin (imports distributed); entry points
        continue
    try:
        importlib.import_module(mod.name)
    except ImportError as exc:  # an optional dependency missing: not this test's business
        failed.append(f"{mod.name}: {exc}")
after = dict(os.environ)
changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
print(json.dumps({"changed": changed, "failed": failed}))
"""


def test_importing_every_atlas_module_leaves_the_environment_alone():
    # In a fresh interpreter without GDAL_CACHEMAX: atlas.rasters.layer used to set it on import.
    env = {k: v for k, v in __import__("os").environ.items() if k != "GDAL_CACHEMAX"}
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["changed"] == []


def test_engine_sets_gdal_cache_only_inside_its_env():
    import os

    import rasterio

    from atlas.rasters.layer import GDAL_CACHEMAX_MB, gdal_env

    if "GDAL_CACHEMAX" in os.environ:
        return
    with gdal_env():
        inside = rasterio.env.getenv().get("GDAL_CACHEMAX")
    assert inside == GDAL_CACHEMAX_MB
    assert "GDAL_CACHEMAX" not in os.environ
