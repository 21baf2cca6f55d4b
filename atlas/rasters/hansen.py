"""Hansen/UMD Global Forest Change tiles (10°×10°, 1 arc-second).

Files are named by the tile's upper-left corner, e.g.
``Hansen_GFC-2023-v1.11_treecover2000_30N_110E.tif`` covers 20-30°N, 110-120°E.
Layers: ``treecover2000`` (percent canopy closure 0-100), ``lossyear`` (0 no loss,
k = loss in 2000 + k), ``gain`` (1 = gain 2000-2012), ``datamask`` (0 no data, 1 land,
2 water). Source: Hansen et al. 2013, Science 342:850, doi:10.1126/science.1244693.
"""

from __future__ import annotations

import re
from pathlib import Path

from atlas.errors import GridError, UnitsError
from atlas.rasters.layer import LayerSpec, RasterSource

# ---- the publisher's catalogue (shared by the adapter below and by ``atlas fetch``)
# Tiles live at <HOST>/<BUCKET>/<release>/Hansen_<release>_<layer>_<30N>_<110E>.tif; the layout and the
# per-layer URL lists (<layer>.txt) are on each release's download page, e.g.
# https://storage.googleapis.com/earthenginepartners-hansen/GFC-2023-v1.11/download.html.
# No checksums are published.
TITLE = "Hansen GFC"
HOST = "https://storage.googleapis.com"
BUCKET = "earthenginepartners-hansen"
LAYERS = ("treecover2000", "lossyear", "gain", "datamask", "first", "last")
DEFAULT_RELEASE = "GFC-2024-v1.12"
TILE_SIZE = 10  # degrees; tiles are aligned on multiples of 10° and named by their upper-left corner
_RELEASE = r"GFC-(?P<year>\d{4})-v(?P<version>\d+\.\d+)"
RELEASE = re.compile(rf"^{_RELEASE}$")
NAME = re.compile(rf"Hansen_{_RELEASE}_(?P<layer>[a-z0-9]+)_"
                  r"(?P<lat>\d{2})(?P<ns>[NS])_(?P<lon>\d{3})(?P<ew>[EW])\.tif$", re.IGNORECASE)
DEFAULT_THRESHOLD = 30.0


def tile_label(top: int, left: int) -> str:
    """``30N_110E`` style label of the tile whose upper-left corner is (``left``, ``top``) degrees."""
    return f"{abs(top):02d}{'N' if top >= 0 else 'S'}_{abs(left):03d}{'E' if left >= 0 else 'W'}"


def file_name(release: str, layer: str, tile: str) -> str:
    """The publisher's name of one tile, e.g. ``Hansen_GFC-2024-v1.12_treecover2000_30N_110E.tif``."""
    return f"Hansen_{release}_{layer}_{tile}.tif"


def remote_path(release: str, layer: str, tile: str) -> str:
    """Path of one tile below :data:`HOST`."""
    return f"{BUCKET}/{release}/{file_name(release, layer, tile)}"


def parse_name(path: str | Path) -> dict | None:
    """Tile metadata from a Hansen file name, or None if it is not one."""
    m = NAME.search(Path(path).name)
    if not m:
        return None
    top = int(m["lat"]) * (1 if m["ns"].upper() == "N" else -1)
    left = int(m["lon"]) * (1 if m["ew"].upper() == "E" else -1)
    return {"year": int(m["year"]), "version": m["version"], "layer": m["layer"].lower(),
            "top": top, "left": left}


def spec_for(layer: str, last_year: int, threshold: float = DEFAULT_THRESHOLD) -> LayerSpec:
    """The layer declaration for one Hansen layer name."""
    if layer == "treecover2000":
        return LayerSpec("treecover2000", "fraction", "percent", threshold=threshold,
                         caveat=f"forest = canopy cover ≥ {threshold:g} % in 2000 (Hansen et al. 2013)")
    if layer == "lossyear":
        n = last_year - 2000
        classes = {0: "no loss", **{k: f"loss in {2000 + k}" for k in range(1, n + 1)}}
        return LayerSpec("lossyear", "classes", "class", classes=classes,
                         groups={"forest_loss": tuple(range(1, n + 1))})
    if layer == "gain":
        return LayerSpec("gain", "classes", "class", classes={0: "no gain", 1: "gain 2000-2012"},
                         groups={"forest_gain": (1,)})
    if layer == "datamask":
        return LayerSpec("datamask", "classes", "class", classes={0: "no data", 1: "land", 2: "water"},
                         groups={"land": (1,), "water": (2,)})
    raise UnitsError(f"Hansen layer {layer!r} is not supported",
                     "treecover2000, lossyear, gain or datamask")


def open_tiles(paths: list[str | Path], threshold: float = DEFAULT_THRESHOLD):
    """Open Hansen tiles of one layer as a mosaic; check names against georeferencing."""
    metas = [parse_name(p) for p in paths]
    bad = [str(p) for p, m in zip(paths, metas) if m is None]
    if bad:
        raise UnitsError(f"Not Hansen GFC file names: {bad}",
                         "names like Hansen_GFC-2023-v1.11_treecover2000_30N_110E.tif",
                         "keep the publisher's names or open them as a generic layer")
    layers = {m["layer"] for m in metas}
    if len(layers) != 1:
        raise UnitsError(f"Hansen tiles of different layers {sorted(layers)} given together",
                         "tiles of one layer per run")
    readers = []
    for path, meta in zip(paths, metas):
        reader = RasterSource(path)
        left, _, _, top = reader.grid.bounds
        if abs(left - meta["left"]) > 1e-6 or abs(top - meta["top"]) > 1e-6:
            raise GridError(f"{reader.label} is named for the corner ({meta['left']}, {meta['top']}) but starts at "
                            f"({left:.6f}, {top:.6f})", "georeferencing that matches the tile name",
                            "re-download the tile")
        readers.append(reader)
    return readers, spec_for(layers.pop(), max(m["year"] for m in metas), threshold)
