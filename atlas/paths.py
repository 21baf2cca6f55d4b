"""Where the bundled data (``geodata/``) and layer specs (``layers/``) live.

Lookup order: the ``ATLAS_GEODATA`` / ``ATLAS_LAYERS`` environment variables, the
source checkout next to the package (editable installs), then the copies a regular
``pip install`` places under ``<prefix>/share/pilot-carbon-atlas/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from atlas.errors import RegistryError

_SHARE = "pilot-carbon-atlas"


def _find(folder: str, env: str) -> Path:
    candidates = []
    if os.environ.get(env):
        candidates.append(Path(os.environ[env]))
    candidates.append(Path(__file__).resolve().parent.parent / folder)
    candidates.append(Path(sys.prefix) / "share" / _SHARE / folder)
    for cand in candidates:
        if cand.is_dir():
            return cand
    raise RegistryError(
        f"No {folder}/ folder found (looked in: {', '.join(str(c) for c in candidates)})",
        f"the project's bundled {folder}/ folder",
        f"install the project with `pip install -e .` from its checkout or set {env}",
    )


def geodata_dir() -> Path:
    """Return the folder holding the bundled registry, boundaries and default rasters."""
    return _find("geodata", "ATLAS_GEODATA")


def layers_dir() -> Path:
    """Return the folder holding the map layer specifications (``*.toml``)."""
    return _find("layers", "ATLAS_LAYERS")
