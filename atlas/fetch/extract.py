"""Make downloaded files usable: unzip EDGAR NetCDF, gunzip ODIAC GeoTIFFs, check that each opens."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import rasterio

from atlas._io import atomic_path
from atlas.errors import FetchError

COPY_BUFFER = 1 << 20  # bytes per read when extracting


def extracted_paths(kind: str, dest: Path) -> list[Path]:
    """What :func:`extract` may have written beside ``dest`` (to remove with a corrupt download)."""
    return [dest.with_suffix("")] if kind == "geotiff.gz" else []


def gunzip(src: Path, refresh: bool) -> Path:
    """``x.tif.gz`` -> ``x.tif`` beside it, written atomically (kept when already there)."""
    dst = src.with_suffix("")
    if dst.exists() and not refresh:
        return dst
    try:
        with gzip.open(src, "rb") as zin, atomic_path(dst, overwrite=True) as tmp, open(tmp, "wb") as out:
            shutil.copyfileobj(zin, out, COPY_BUFFER)
    except (OSError, EOFError) as exc:
        raise FetchError(f"{src.name} is not a valid gzip file ({exc})", "a gzipped GeoTIFF",
                         "run the command again to download it anew") from exc
    return dst


def unzip_netcdf(src: Path, refresh: bool) -> list[Path]:
    """Extract the ``.nc`` members of a zip beside it, atomically (kept when already there)."""
    try:
        with zipfile.ZipFile(src) as zf:
            members = [m for m in zf.infolist() if m.filename.lower().endswith(".nc")]
            if not members:
                raise FetchError(f"{src.name} holds no NetCDF file ({len(zf.infolist())} members)",
                                 "a zip with a .nc file", "check --version and --data-year")
            out = []
            for member in members:
                dst = src.parent / Path(member.filename).name
                if refresh or not dst.exists():
                    with zf.open(member) as zin, atomic_path(dst, overwrite=True) as tmp, open(tmp, "wb") as fout:
                        shutil.copyfileobj(zin, fout, COPY_BUFFER)
                out.append(dst)
            return out
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{src.name} is not a valid zip file ({exc})", "a zip archive",
                         "run the command again to download it anew") from exc


def check_opens(path: Path, kind: str) -> None:
    """Open the file as what it should be; FetchError if it is not."""
    if kind in ("index", "md5"):
        try:
            text = path.read_text(encoding="utf-8")
            if kind == "index":
                json.loads(text)["features"]
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"{path.name} is not a GeoJSON tile grid ({exc})", "the WorldCover grid",
                             "run the command again, or use --mirror") from exc
        return
    try:
        with rasterio.open(path) as ds:
            if ds.count == 0 and not ds.subdatasets:
                raise FetchError(f"{path.name} opens but holds no raster band", "a raster")
    except rasterio.errors.RasterioIOError as exc:
        head = path.read_bytes()[:64] if path.exists() else b""
        hint = " (it looks like a web page: the server sent an error page)" if b"<" in head[:16] else ""
        raise FetchError(f"{path.name} does not open as a raster{hint}: {' '.join(str(exc).split())[:160]}",
                         "a GeoTIFF or NetCDF file", "it was removed; run the command again, use --mirror, "
                         "or download it by hand into the cache folder") from exc


def extract(kind: str, dest: Path, refresh: bool) -> list[Path]:
    """What to open of a downloaded file of ``kind``: the file itself, or what was extracted from it.

    Parameters
    ----------
    kind : str
        ``geotiff``, ``geotiff.gz``, ``netcdf.zip``, ``index`` or ``md5``.
    dest : pathlib.Path
        The downloaded file.
    refresh : bool
        Extract again even when the extracted files exist (the download is new).
    """
    if kind == "netcdf.zip":
        return unzip_netcdf(dest, refresh)
    if kind == "geotiff.gz":
        return [gunzip(dest, refresh)]
    return [dest]
