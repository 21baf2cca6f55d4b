"""Pilot-Region Carbon Atlas.

The pipeline, in the order of its modules: :mod:`atlas.registry` and
:mod:`atlas.boundaries` (which regions, where) → :mod:`atlas.rasters` (layers with
declared quantity kinds) → :mod:`atlas.zonal` (exact per-region statistics) →
sinks and compensation → maps → :mod:`atlas.cli`.

The library logs through :mod:`logging` but never configures logging; the CLI does.
"""

from atlas.errors import AtlasError

__all__ = ["AtlasError", "__version__"]
__version__ = "0.1.0"
