"""`atlas fetch` against a loopback HTTP server serving small files in the products' real formats.

The server (http.server in a thread) lays files out under the publishers' official paths,
answers HEAD and ``Range: bytes=N-`` requests, can ignore ranges, and can be told to drop
the connection part-way through a file. A guard refuses every non-loopback address, so
no test can reach the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import socket
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from conftest import write_tif

from atlas.regions import boundaries, registry
from atlas import fetch
from atlas.cli import cli
from atlas.errors import FetchError
from atlas.rasters import detect_product, edgar, hansen, odiac, open_layer, worldcover

HANSEN = "GFC-2024-v1.12"
HANSEN_TC = f"earthenginepartners-hansen/{HANSEN}/Hansen_{HANSEN}_treecover2000_30N_110E.tif"
HANSEN_LY = f"earthenginepartners-hansen/{HANSEN}/Hansen_{HANSEN}_lossyear_30N_110E.tif"
WC_E114 = "v200/2021/map/ESA_WorldCover_10m_2021_v200_N21E114_Map.tif"
WC_E111 = "v200/2021/map/ESA_WorldCover_10m_2021_v200_N21E111_Map.tif"
WC_GRID = "v100/2020/esa_worldcover_2020_grid.geojson"
EDGAR_ZIP = ("ftp/jrc-opendata/EDGAR/datasets/v80_FT2022_GHG/CO2/TOTALS/emi_nc/"
             "v8.0_FT2022_GHG_CO2_2022_TOTALS_emi_nc.zip")
ODIAC_DIR = "nies_data/10.17595/20170411.001/odiac2023/1km_tiff/2022"
ODIAC_GZ = f"{ODIAC_DIR}/odiac2023_1km_excl_intl_2201.tif.gz"
ODIAC_MD5 = f"{ODIAC_DIR}/odiac2023_1km_checksum_2022.md5.txt"


# --------------------------------------------------------------------------- server


class Loopback:
    """State shared with the handler: served root, request log, fault injection."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.drop_after: dict[str, int] = {}  # path -> bytes to send before dropping (once)
        self.ignore_range = False
        self.lock = threading.Lock()
        self.url = ""

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.drop_after.clear()
            self.ignore_range = False

    def gets(self, path: str | None = None) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[0] == "GET" and (path is None or r[1] == "/" + path)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a drop is an early EOF
    state: Loopback

    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        state = self.state
        path = self.path.split("?", 1)[0]
        rng = self.headers.get("Range")
        with state.lock:
            state.requests.append((self.command, path, rng))
            drop = state.drop_after.pop(path.lstrip("/"), None) if body else None
        file = state.root / path.lstrip("/")
        if not file.is_file():
            self.send_error(404, "Not Found")
            return
        data = file.read_bytes()
        size, start = len(data), 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and not state.ignore_range:
            start = int(m[1])
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("ETag", f'"{hashlib.md5(data).hexdigest()}"')
        self.end_headers()
        if not body:
            return
        payload = data[start:]
        if drop is not None:
            self.wfile.write(payload[:drop])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)


# --------------------------------------------------------------------------- product files


def _hansen_tile(path: Path, layer_value: int) -> None:
    # 10°x10° tile named by its upper-left corner (110E, 30N); 400x400 cells of 0.025°
    arr = np.full((400, 400), layer_value, dtype=np.uint8)
    arr[::7, ::3] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    write_tif(path, arr, Affine(0.025, 0, 110, 0, -0.025, 30))


def _worldcover_tile(path: Path, left: int, bottom: int) -> None:
    # 3°x3° tile named by its lower-left corner
    arr = np.full((120, 120), 10, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_tif(path, arr, Affine(0.025, 0, left, 0, -0.025, bottom + 3), nodata=0)


def _worldcover_grid(path: Path, tiles: list[str]) -> None:
    feats = []
    for tile in tiles:
        lat, lon = int(tile[1:3]) * (1 if tile[0] == "N" else -1), int(tile[4:7]) * (1 if tile[3] == "E" else -1)
        feats.append({"type": "Feature", "properties": {"ll_tile": tile},
                      "geometry": shapely.geometry.mapping(shapely.box(lon, lat, lon + 3, lat + 3))})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")


def _edgar_zip(path: Path) -> None:
    # v8.0 annual totals: variable 'emissions' in Tonnes per 0.1° cell, lat/lon of cell centres
    from scipy.io import netcdf_file

    buf = io.BytesIO()
    with netcdf_file(buf, "w") as nc:
        lat = np.arange(20.05, 26, 0.1)
        lon = np.arange(110.05, 118, 0.1)
        nc.createDimension("lat", lat.size)
        nc.createDimension("lon", lon.size)
        v = nc.createVariable("lat", "f8", ("lat",))
        v[:], v.units = lat, "degrees_north"
        v = nc.createVariable("lon", "f8", ("lon",))
        v[:], v.units = lon, "degrees_east"
        e = nc.createVariable("emissions", "f4", ("lat", "lon"))
        e[:] = np.ones((lat.size, lon.size), dtype=np.float32)
        e.units = "Tonnes"
        nc.flush()
        raw = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("v8.0_FT2022_GHG_CO2_2022_TOTALS_emi.nc", raw)
        zf.writestr("_README.txt", "EDGAR v8.0 test file")


def _odiac(root: Path) -> None:
    tif = root / "odiac.tmp.tif"
    write_tif(tif, np.ones((60, 80), dtype=np.float32), Affine(1 / 120, 0, 113, 0, -1 / 120, 23))
    gz = root / ODIAC_GZ
    gz.parent.mkdir(parents=True, exist_ok=True)
    gz.write_bytes(gzip.compress(tif.read_bytes()))
    tif.unlink()
    md5 = hashlib.md5(gz.read_bytes()).hexdigest()
    (root / ODIAC_MD5).write_text(f"{md5}  {gz.name}\n{'0' * 32}  odiac2023_1km_excl_intl_2202.tif.gz\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("publishers")
    _hansen_tile(root / HANSEN_TC, 55)
    _hansen_tile(root / HANSEN_LY, 3)
    _worldcover_tile(root / WC_E114, 114, 21)
    _worldcover_tile(root / WC_E111, 111, 21)
    _worldcover_grid(root / WC_GRID, ["N21E111", "N21E114", "N24E114"])
    _edgar_zip(root / EDGAR_ZIP)
    _odiac(root)
    state = Loopback(root)
    handler = type("BoundHandler", (Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def srv(server):
    server.reset()
    yield server
    server.reset()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Refuse any address but the loopback, so no test reaches the internet."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kw):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"test guard: no network access to {host!r}")
        return real(host, *args, **kw)
    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    monkeypatch.delenv(fetch.MIRROR_ENV, raising=False)
    monkeypatch.delenv(fetch.CACHE_ENV, raising=False)


@pytest.fixture(scope="module")
def shenzhen():
    reg = registry.load_registry()
    return registry.select_pilots(boundaries.load_pilot_boundaries(reg), ids=["P1-08"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetcher(srv, cache: Path) -> fetch.Fetcher:
    return fetch.Fetcher(cache, srv.url, progress=False, timeout=10)


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


# --------------------------------------------------------------------------- tile selection


def test_shenzhen_tiles():
    # Shenzhen (P1-08) spans lon 113.75-114.62, lat 22.40-22.86 (WGS84):
    #   Hansen 10° tiles by upper-left corner: lat 20-30 -> 30N, lon 110-120 -> 110E => 30N_110E only.
    #   WorldCover 3° tiles by lower-left corner: lat 21-24 -> N21; lon 111-114 (113.75-114) -> E111 and
    #   lon 114-117 -> E114 => N21E111 and N21E114.
    reg = registry.load_registry()
    sz = registry.select_pilots(boundaries.load_pilot_boundaries(reg), ids=["P1-08"])
    assert fetch.hansen_tiles(sz) == ["30N_110E"]
    assert fetch.worldcover_tiles(sz) == ["N21E111", "N21E114"]
    assert fetch.worldcover_tiles(sz, published={"N21E114"}) == ["N21E114"]


def test_tiles_follow_the_shape_not_its_bounding_box():
    # A thin band from (108, 28.5) to (112, 32.5): its bounding box spans four Hansen tiles, but at
    # lon >= 110 the band lies north of 30.3°N, so the tile 30N_110E (lon 110-120, lat 20-30) is skipped.
    band = shapely.Polygon([(108, 28.5), (108.2, 28.5), (112, 32.3), (112, 32.5), (111.8, 32.5), (108, 28.7)])
    assert sorted(fetch.hansen_tiles([band])) == ["30N_100E", "40N_100E", "40N_110E"]
    # a square that only shares edges with its neighbours selects exactly one tile
    assert fetch.hansen_tiles([shapely.box(110, 20, 120, 30)]) == ["30N_110E"]
    assert hansen.tile_label(0, -180) == "00N_180W" and hansen.tile_label(-10, 20) == "10S_020E"
    assert worldcover.tile_label(-39, -72) == "S39W072"


def test_official_urls():
    sz = [shapely.box(113.8, 22.4, 114.6, 22.8)]
    (tc,) = fetch.hansen_files(sz, release="GFC-2023-v1.11")
    assert tc.url() == ("https://storage.googleapis.com/earthenginepartners-hansen/GFC-2023-v1.11/"
                        "Hansen_GFC-2023-v1.11_treecover2000_30N_110E.tif")
    wc = fetch.worldcover_files(sz, "v100")
    assert wc[-1].url() == ("https://esa-worldcover.s3.eu-central-1.amazonaws.com/v100/2020/map/"
                            "ESA_WorldCover_10m_2020_v100_N21E114_Map.tif")
    (ed,) = fetch.edgar_files(2022)
    assert ed.url() == f"https://jeodpp.jrc.ec.europa.eu/{EDGAR_ZIP}"
    (od,) = fetch.odiac_files(2022, [1])
    assert od.url() == f"https://db.cger.nies.go.jp/{ODIAC_GZ}"
    assert od.url("http://mirror.example/") == f"http://mirror.example/{ODIAC_GZ}"
    assert len(fetch.odiac_files(2022)) == 12
    with pytest.raises(ValueError, match="no year 2023"):
        fetch.odiac_files(2023, release="2023")


# --------------------------------------------------------------------------- dry run


def test_dry_run_lists_tiles_urls_and_sizes(srv, tmp_path):
    res = _run("fetch", "hansen", "--id", "P1-08", "--layer", "treecover2000", "--layer", "gain",
               "--mirror", srv.url, "--cache", str(tmp_path), "--dry-run")
    assert res.exit_code == 0, res.output
    size = (srv.root / HANSEN_TC).stat().st_size
    assert f"{srv.url}/{HANSEN_TC}" in res.stdout
    assert fetch.human_size(size) in res.stdout
    assert "size unknown (HTTP 404" in res.stdout  # no gain tile on the server
    assert "to download" in res.stdout and "none published" in res.stdout
    assert srv.gets() == [] and [r[0] for r in srv.requests] == ["HEAD", "HEAD"]
    assert not any(tmp_path.iterdir())


def test_dry_run_without_network_says_size_unknown(tmp_path):
    res = _run("fetch", "edgar", "--mirror", f"http://127.0.0.1:{_closed_port()}", "--cache", str(tmp_path),
               "--dry-run")
    assert res.exit_code == 0, res.output
    assert "size unknown (connection refused)" in res.stdout and "v8.0_FT2022_GHG_CO2_2022" in res.stdout


# --------------------------------------------------------------------------- downloads


def test_download_lands_in_cache_and_second_run_downloads_nothing(srv, tmp_path, shenzhen):
    files = fetch.plan("hansen", shenzhen, layers=["treecover2000", "lossyear"])
    got = _fetcher(srv, tmp_path).fetch(files)
    tc = tmp_path / "hansen" / HANSEN / f"Hansen_{HANSEN}_treecover2000_30N_110E.tif"
    assert got[0].path == tc and all(f.downloaded for f in got)
    assert tc.read_bytes() == (srv.root / HANSEN_TC).read_bytes()
    manifest = json.loads((tmp_path / fetch.MANIFEST_NAME).read_text())["files"]
    entry = manifest[f"hansen/{HANSEN}/{tc.name}"]
    assert entry["sha256"] == hashlib.sha256(tc.read_bytes()).hexdigest()
    assert entry["checksum"].startswith("none published")
    assert len(srv.gets()) == 2
    _, spec = open_layer([tc])  # the Hansen adapter accepts the name and georeferencing
    assert spec.name == "treecover2000"

    srv.reset()
    again = _fetcher(srv, tmp_path).fetch(files)
    assert srv.requests == [] and not any(f.downloaded for f in again)
    assert not list(tmp_path.rglob("*.part"))


def test_interrupted_download_resumes_with_range(srv, tmp_path, shenzhen):
    files = fetch.plan("hansen", shenzhen)
    size = (srv.root / HANSEN_TC).stat().st_size
    assert size > 150_000
    srv.drop_after[HANSEN_TC] = 150_000
    with pytest.raises(FetchError, match="interrupted after .* resumes from byte"):
        _fetcher(srv, tmp_path).fetch(files)
    part = tmp_path / "hansen" / HANSEN / (files[0].name + ".part")
    kept = part.stat().st_size
    assert 0 < kept <= 150_000 and not (tmp_path / files[0].cache_path).exists()

    (done,) = _fetcher(srv, tmp_path).fetch(files)
    last = srv.gets(HANSEN_TC)[-1]
    assert last[2] == f"bytes={kept}-"
    assert done.path.read_bytes() == (srv.root / HANSEN_TC).read_bytes()
    assert not part.exists() and not part.with_name(part.name + ".json").exists()


def test_server_ignoring_range_gets_a_full_download(srv, tmp_path, shenzhen):
    files = fetch.plan("hansen", shenzhen)
    part = tmp_path / "hansen" / HANSEN / (files[0].name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes of another file")
    srv.ignore_range = True
    (done,) = _fetcher(srv, tmp_path).fetch(files)
    assert srv.gets()[-1][2] == f"bytes={len(b'stale bytes of another file')}-"
    assert done.path.read_bytes() == (srv.root / HANSEN_TC).read_bytes() and not part.exists()


def test_worldcover_uses_the_published_grid(srv, tmp_path, shenzhen):
    got = _fetcher(srv, tmp_path)
    tiles = got.published_worldcover_tiles()
    files = fetch.plan("worldcover", shenzhen, published_tiles=tiles - {"N21E111"})
    (done,) = got.fetch(files)
    assert done.path == tmp_path / "worldcover" / "v200" / "2021" / "ESA_WorldCover_10m_2021_v200_N21E114_Map.tif"
    assert detect_product(done.path) == "worldcover"
    assert {r[1].rsplit("/", 1)[-1] for r in srv.gets()} == {Path(WC_GRID).name, Path(WC_E114).name}


def test_edgar_zip_is_unzipped_and_opens(srv, tmp_path):
    res = _run("fetch", "edgar", "--data-year", "2022", "--id", "P1-08", "--mirror", srv.url,
               "--cache", str(tmp_path), "--no-progress")
    assert res.exit_code == 0, res.output
    nc = tmp_path / "edgar" / "v8.0" / "v8.0_FT2022_GHG_CO2_2022_TOTALS_emi.nc"
    assert nc.is_file() and detect_product(nc) == "edgar"
    assert f"atlas zonal {nc} --id P1-08" in res.stdout
    _, spec = open_layer(nc)
    assert spec.kind == "amount"


def test_odiac_md5_verified_and_gunzipped(srv, tmp_path):
    res = _run("fetch", "odiac", "--data-year", "2022", "--month", "1", "--mirror", srv.url,
               "--cache", str(tmp_path), "--no-progress")
    assert res.exit_code == 0, res.output
    tif = tmp_path / "odiac" / "odiac2023" / "2022" / "odiac2023_1km_excl_intl_2201.tif"
    assert "MD5 published" in res.stdout and f"atlas zonal {tif}" in res.stdout
    with rasterio.open(tif) as ds:
        assert ds.count == 1 and ds.crs.to_epsg() == 4326


def test_checksum_mismatch_raises_and_keeps_nothing(srv, tmp_path):
    (srv.root / ODIAC_MD5).write_text(f"{'f' * 32}  {Path(ODIAC_GZ).name}\n")
    try:
        with pytest.raises(FetchError, match="does not match") as info:
            _fetcher(srv, tmp_path).fetch(fetch.odiac_files(2022, [1]))
    finally:
        _odiac(srv.root)
    assert "md5:" + "f" * 32 in str(info.value)
    folder = tmp_path / "odiac" / "odiac2023" / "2022"
    assert sorted(p.name for p in folder.iterdir()) == [Path(ODIAC_MD5).name]  # only the checksum list


def test_cached_copy_is_verified_against_the_manifest(srv, tmp_path, shenzhen, caplog):
    files = fetch.plan("hansen", shenzhen)
    (first,) = _fetcher(srv, tmp_path).fetch(files)
    first.path.write_bytes(first.path.read_bytes()[:-10] + b"0123456789")  # silent corruption
    srv.reset()
    (second,) = _fetcher(srv, tmp_path).fetch(files)
    assert second.downloaded and len(srv.gets()) == 1
    assert second.path.read_bytes() == (srv.root / HANSEN_TC).read_bytes()
    assert "does not match" in caplog.text


def test_error_page_instead_of_a_raster_is_removed(srv, tmp_path, shenzhen):
    bad = srv.root / f"earthenginepartners-hansen/{HANSEN}/Hansen_{HANSEN}_datamask_30N_110E.tif"
    bad.write_bytes(b"<html><body>quota exceeded</body></html>")
    try:
        with pytest.raises(FetchError, match="web page"):
            _fetcher(srv, tmp_path).fetch(fetch.plan("hansen", shenzhen, layers=["datamask"]))
    finally:
        bad.unlink()
    assert not list((tmp_path / "hansen").rglob("*datamask*"))


# --------------------------------------------------------------------------- failures


def test_http_404_is_a_fetch_error(srv, tmp_path, shenzhen):
    with pytest.raises(FetchError, match="HTTP 404") as info:
        _fetcher(srv, tmp_path).fetch(fetch.plan("hansen", shenzhen, release="GFC-2019-v1.7"))
    assert "--version" in str(info.value) and "by hand into" in str(info.value)
    assert not list(tmp_path.rglob("*.tif*"))


def test_connection_refused_cli_one_line_exit_2(tmp_path):
    port = _closed_port()
    start = time.perf_counter()
    res = _run("fetch", "hansen", "--id", "P1-08", "--mirror", f"http://127.0.0.1:{port}", "--cache",
               str(tmp_path))
    assert res.exit_code == 2
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit))
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("atlas: error: Cannot reach 127.0.0.1") and len(lines) == 2  # selection note
    assert "connection refused" in lines[-1] and "--mirror" in lines[-1] and "by hand" in lines[-1]
    assert time.perf_counter() - start < 10


def test_short_reasons_for_network_failures():
    assert fetch.short_reason(OSError("[Errno -2] Name or service not known")).startswith("DNS lookup failed")
    assert fetch.short_reason(OSError("Failed to resolve 'x' ([Errno -3] Temporary failure in name resolution)")
                              ).startswith("DNS lookup failed")
    assert fetch.short_reason(OSError("[Errno 101] Network is unreachable")) == "network unreachable"
    assert fetch.short_reason(TimeoutError("read timed out")) == "timed out"


def test_usage_errors(tmp_path):
    assert _run("fetch", "edgar", "--layer", "gain", "--cache", str(tmp_path)).exit_code == 2
    res = _run("fetch", "odiac", "--data-year", "1999", "--cache", str(tmp_path), "--dry-run")
    assert res.exit_code == 2 and "2000 to 2022" in res.stderr
    res = _run("fetch", "edgar", "--mirror", "ftp.example.org", "--cache", str(tmp_path), "--dry-run")
    assert res.exit_code == 2 and "http(s) URL" in res.stderr


def test_default_cache_and_mirror_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(fetch.CACHE_ENV, str(tmp_path / "c"))
    monkeypatch.setenv(fetch.MIRROR_ENV, "http://127.0.0.1:1/")
    f = fetch.Fetcher(progress=False)
    assert f.cache == tmp_path / "c" and f.mirror == "http://127.0.0.1:1"


def test_zonal_hint_stacks_twelve_odiac_months(tmp_path):
    files = fetch.odiac_files(2022)
    done = [fetch.FetchedFile(rf, tmp_path / rf.name, [tmp_path / "2022" / rf.name[:-3]], True, "", "")
            for rf in files]
    lines = fetch.zonal_commands(done, ["--province", "广东"])
    vrt = tmp_path / "2022" / "odiac2023_1km_excl_intl_2022.vrt"
    assert lines[1].startswith(f"gdalbuildvrt -separate {vrt} ") and lines[1].count(".tif") == 12
    assert lines[2] == f"atlas zonal {vrt} --province '广东'" and detect_product(vrt) == "odiac"


def test_planned_names_are_the_names_the_adapters_recognise():
    # One pattern per product (atlas.rasters.<product>) names the files fetch asks for and is what
    # the adapters and detect_product recognise.
    sz = [shapely.box(113.8, 22.4, 114.6, 22.8)]
    for rf in fetch.hansen_files(sz, layers=list(fetch.HANSEN_LAYERS)):
        meta = hansen.parse_name(rf.name)
        assert meta is not None and (meta["top"], meta["left"]) == (30, 110) and meta["layer"] in rf.name
        assert detect_product(rf.name) == "hansen"
    for release in worldcover.RELEASES:
        assert all(detect_product(rf.name) == "worldcover" for rf in fetch.worldcover_files(sz, release))
    for release in edgar.RELEASES:
        (rf,) = fetch.edgar_files(None, release)
        assert edgar.is_edgar(rf.name) and edgar.NAME.search(rf.name)["year"] == str(edgar.RELEASES[release][3])
    assert detect_product("v8.0_FT2022_GHG_CO2_2022_TOTALS_emi.nc") == "edgar"  # the member of the zip
    months = fetch.odiac_files(2022, [1, 12])
    assert [odiac.parse_name(rf.name) for rf in months] == [{"release": "2023", "year": 2022, "month": 1},
                                                            {"release": "2023", "year": 2022, "month": 12}]
    assert all(detect_product(rf.name[:-3]) == "odiac" for rf in months)
    assert {fetch.HOSTS[p] for p in fetch.PRODUCTS} == {hansen.HOST, worldcover.HOST, edgar.HOST, odiac.HOST}
