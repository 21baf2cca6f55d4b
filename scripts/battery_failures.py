"""A battery of bad inputs and faults, tried as a careless user and an unlucky machine would.

Each case runs one ``atlas`` command line in a subprocess and is judged by what a user sees:

* the exit status (0 for a correct result, 2 for a failure the user can fix);
* a failure is exactly one line ``atlas: error: …`` (the last line of stderr; progress lines
  before it are fine), with no traceback and no click usage block;
* no temporary file is left behind, and outputs written earlier are intact (the same bytes, or
  a complete newer file after a run that failed part-way).

Full and read-only disks are small tmpfs mounts when the machine allows it (root); otherwise
the write is made to fail with ``ENOSPC`` / ``EROFS`` at the ``atlas._io`` layer.

Usage::

    python3 scripts/battery_failures.py            # all cases; prints "N/M cases handled"
    python3 scripts/battery_failures.py -k disk    # the cases whose name contains "disk"
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTIAL = re.compile(r"^\..+\.[a-z0-9_]{8}(\.[^.]+)?\.part(\.[^.]+)?")
SMALL = """[run]
out = "out"
[regions]
ids = ["P1-08", "P1-09", "P2-25"]
[sinks]
draws = 200
[compensation]
price = 50
[outputs]
formats = ["csv", "gpkg", "parquet"]
[site]
publish = {site}
"""
# Runs a command with every atomic write failing with one errno (when tmpfs cannot be mounted).
INJECT = """import errno, os, sys
import atlas._io as io
real = io.os.replace
def refuse(src, dst):
    raise OSError(errno.{code}, os.strerror(errno.{code}), str(dst))
io.os.replace = refuse
from atlas.cli import cli
cli(sys.argv[1:], prog_name="atlas")
"""


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


@dataclass
class Case:
    name: str
    family: str
    body: Callable[["Bench"], tuple[bool, str]]


CASES: list[Case] = []


def case(family: str):
    def register(func):
        CASES.append(Case(func.__name__, family, func))
        return func
    return register


@dataclass
class Bench:
    """The workspace: fixtures made once, a fresh folder per case, tmpfs mounts."""

    root: Path
    mounts: list[Path] = field(default_factory=list)
    can_mount: bool | None = None

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def atlas(self, *args: str | Path, cwd: Path | None = None, timeout: float = 300, prelude: str | None = None,
              stdin: str | None = None) -> Result:
        command = [sys.executable, "-c", prelude] if prelude else [sys.executable, "-m", "atlas.cli"]
        proc = subprocess.run([*command, *map(str, args)], cwd=cwd or self.root, capture_output=True, text=True,
                              timeout=timeout, input=stdin, env={**os.environ, "PYTHONPATH": str(ROOT)})
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def config(self, folder: Path, site: bool = True, extra: str = "", out: str | None = None) -> Path:
        text = SMALL.format(site=str(site).lower()) + extra
        if out is not None:
            text = text.replace('out = "out"', f"out = {json.dumps(str(out))}")
        path = folder / "run.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def sinks_csv(self) -> Path:
        """A sinks table written by a real run (made once)."""
        path = self.root / "fixtures" / "sinks.csv"
        if not path.exists():
            folder = self.folder("fixtures")
            res = self.atlas("-q", "run", self.config(folder, site=False), cwd=folder)
            assert res.status == 0, res.stderr
            shutil.copy(folder / "out" / "data" / "sinks_pilots.csv", path)
        return path

    def raster(self, values=None, name: str = "r.tif") -> Path:
        import numpy as np
        import rasterio
        from affine import Affine

        path = self.folder("fixtures") / name
        array = np.full((20, 20), 0.5, dtype="float32") if values is None else values
        with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
                           dtype=array.dtype, crs="EPSG:4326", transform=Affine(0.5, 0, 110, 0, -0.5, 30)) as ds:
            ds.write(array, 1)
        return path

    def mount(self, size: str, read_only: bool = False) -> Path | None:
        """A fresh tmpfs of ``size`` (or None when mounting is not allowed here)."""
        if self.can_mount is False:
            return None
        path = Path(tempfile.mkdtemp(prefix="atlas-battery-mnt-"))
        options = f"size={size}" + (",ro" if read_only else "")
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True).returncode == 0
        self.can_mount = ok
        if not ok:
            path.rmdir()
            return None
        self.mounts.append(path)
        return path

    def unmount_all(self) -> None:
        for path in self.mounts:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
            shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------------------ judging

def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def partials(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if PARTIAL.match(p.name)] if folder.exists() else []


def complete(path: Path) -> bool:
    """Whether ``path`` is a whole file of its format (not cut short)."""
    try:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            import pandas as pd

            return len(pd.read_csv(path)) > 0
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_metadata(path).num_rows >= 0
        if suffix == ".gpkg":
            import pyogrio

            return len(pyogrio.list_layers(path)) > 0
        if suffix in (".json", ".geojson"):
            json.loads(path.read_text(encoding="utf-8"))
            return True
        if suffix == ".html":
            return path.read_text(encoding="utf-8").rstrip().endswith("</html>")
        return path.stat().st_size > 0
    except Exception:
        return False


def one_line_error(res: Result, *, needle: str | None = None, status: int = 2) -> tuple[bool, str]:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    errors = [line for line in lines if line.startswith("atlas: error:")]
    problems = []
    if res.status != status:
        problems.append(f"exit {res.status} (wanted {status})")
    if "Traceback" in res.stderr:
        problems.append("traceback")
    if any(line.startswith(("Usage:", "Try '")) for line in lines):
        problems.append("click usage block")
    if len(errors) != 1 or not last.startswith("atlas: error:"):
        problems.append(f"{len(errors)} error lines, last line {last[:80]!r}")
    if needle and needle.lower() not in last.lower():
        problems.append(f"{needle!r} not in the error")
    return not problems, "; ".join(problems) or last[:160]


def succeeded(res: Result) -> tuple[bool, str]:
    if res.status != 0 or "Traceback" in res.stderr:
        return False, f"exit {res.status}: {res.stderr.strip().splitlines()[-1:] if res.stderr.strip() else ''}"
    return True, "ok"


def both(*checks: tuple[bool, str]) -> tuple[bool, str]:
    bad = [note for ok, note in checks if not ok]
    return (not bad), "; ".join(bad) or checks[0][1]


def no_partials(folder: Path) -> tuple[bool, str]:
    left = partials(folder)
    return (not left), f"temporary files left: {left[:3]}" if left else "no temporary files"


def intact(before: dict[str, str], folder: Path) -> tuple[bool, str]:
    after = snapshot(folder)
    changed = [k for k in before if after.get(k) != before[k]]
    return (not changed), f"earlier outputs changed: {changed[:3]}" if changed else "earlier outputs intact"


def whole(before: dict[str, str], folder: Path) -> tuple[bool, str]:
    """Earlier outputs still there and complete (old bytes or a whole newer file)."""
    broken = [k for k in before if not (folder / k).is_file()
              or (snapshot_one(folder / k) != before[k] and not complete(folder / k))]
    return (not broken), f"earlier outputs broken: {broken[:3]}" if broken else "earlier outputs whole"


def snapshot_one(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ simple cases
# family, name, arguments (``{sinks}``, ``{tif}``, ``{cfg}``, ``{dir}``, ``{file}`` are filled in),
# and what a user must see: "ok", or an error line containing the given text.
SIMPLE = [
    ("usage", "zonal_kind_biomass", "zonal {tif} --kind biomass", "one of"),
    ("usage", "regions_batch_9", "regions --batch 9", "9"),
    ("usage", "regions_level_unknown", "regions --level village", "village"),
    ("usage", "regions_unknown_option", "regions --bach 1", "--batch"),
    ("usage", "unknown_command", "frobnicate", "No such command"),
    ("usage", "run_without_config", "run", "Missing argument"),
    ("usage", "run_out_is_a_file", "run {cfg} --out {file}", "is a file"),
    ("usage", "build_out_is_a_file", "build --out {file}", "is a file"),
    ("usage", "sinks_draws_too_few", "sinks --draws 5", "100"),
    ("usage", "compensate_price_text", "compensate {sinks} --price abc", "price"),
    ("usage", "compensate_missing_file", "compensate {dir}/nope.csv", "does not exist"),
    ("usage", "zonal_missing_raster", "zonal {dir}/nope.tif", "does not exist"),
    ("usage", "build_tiles_google", "build --out {dir}/site --tiles google", "one of"),
    ("usage", "build_workers_zero", "build --out {dir}/site --workers 0", "x>=1"),
    ("usage", "evaluate_without_output", "evaluate", "Missing option"),
    ("usage", "fetch_unknown_product", "fetch landsat", "one of"),
    ("usage", "regions_gpkg_to_stdout", "regions --format gpkg", "-o"),
    ("usage", "output_suffix_xlsx", "sinks --id P1-08 --draws 100 -o {dir}/s.xlsx", "xlsx"),
    ("usage", "verbose_keeps_one_line", "-v regions --batch 9", "9"),
    ("selection", "regions_unknown_province", "regions --province 火星", "火星"),
    ("selection", "regions_unknown_id", "regions --id P9-99", "P9-99"),
    ("config", "config_missing_file", "run {dir}/nope.toml", "nope.toml"),
    ("config", "config_is_a_folder", "run {dir}", ""),
    ("config", "config_syntax_error", "run {dir}/bad.toml", "bad.toml"),
    ("config", "config_unknown_key", "run {dir}/typo.toml", "forrest"),
    ("config", "config_draws_text", "run {dir}/draws.toml", "draws"),
    ("config", "config_binary_file", "run {dir}/binary.toml", "binary.toml"),
    ("input", "zonal_text_file_as_raster", "zonal {dir}/fake.tif --kind amount --units 't CO2/cell/yr'", "fake.tif"),
    ("input", "zonal_empty_raster", "zonal {dir}/empty.tif --kind amount --units 't CO2/cell/yr'", "empty.tif"),
    ("input", "compensate_no_id_column", "compensate {dir}/noid.csv", "pilot_id"),
    ("input", "compensate_text_in_number", "compensate {dir}/text.csv", "not a number"),
    ("input", "compensate_empty_file", "compensate {dir}/empty.csv", "empty.csv"),
    ("input", "compensate_binary_file", "compensate {dir}/binary.csv", "binary.csv"),
    ("input", "compensate_gbk_file", "compensate {dir}/gbk.csv", "ok"),
    ("input", "factors_text_in_number", "sinks --id P1-08 --draws 100 --factors {dir}/factors.csv", "factors.csv"),
    ("output", "output_is_a_folder", "regions --format csv -o {dir}", "directory"),
    ("output", "output_parent_is_a_file", "regions --format csv -o {file}/x.csv", "is a file"),
    ("output", "output_exists", "regions --format csv -o {file}", "already exists"),
    ("output", "unicode_and_spaces_out", "regions --batch 1 --format csv -o '{dir}/输出 folder/p.csv'", "ok"),
    ("quiet", "quiet_error_is_one_line", "-q regions --batch 9", "9"),
]


def _prepare(bench: Bench, folder: Path) -> dict[str, str]:
    """The files the simple cases name, made in ``folder``."""
    import pandas as pd

    (folder / "file.txt").write_text("a file, not a folder\n", encoding="utf-8")
    (folder / "bad.toml").write_text("[sinks\n", encoding="utf-8")
    (folder / "typo.toml").write_text("[forrest]\npaths = []\n", encoding="utf-8")
    (folder / "draws.toml").write_text("[sinks]\ndraws = 'many'\n", encoding="utf-8")
    (folder / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (folder / "fake.tif").write_text("not a raster\n", encoding="utf-8")
    (folder / "empty.tif").write_bytes(b"")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "binary.csv").write_bytes(bytes(range(256)) * 4)
    sinks = pd.read_csv(bench.sinks_csv())
    sinks.drop(columns="pilot_id").to_csv(folder / "noid.csv", index=False)
    text = sinks.astype({"sink_tco2_per_yr_central": object})
    text.loc[1, "sink_tco2_per_yr_central"] = "abc"
    text.to_csv(folder / "text.csv", index=False)
    sinks.to_csv(folder / "gbk.csv", index=False, encoding="gbk")
    factors = pd.read_csv(ROOT / "geodata" / "sink_factors.csv", dtype=str, keep_default_na=False)
    factors.loc[0, "value"] = "abc"
    factors.to_csv(folder / "factors.csv", index=False)
    return {"sinks": str(bench.sinks_csv()), "tif": str(bench.raster()), "cfg": str(bench.config(folder)),
            "dir": str(folder), "file": str(folder / "file.txt")}


def _simple(family: str, name: str, line: str, want: str) -> None:
    def body(bench: Bench) -> tuple[bool, str]:
        folder = bench.folder(name)
        names = _prepare(bench, folder)
        args = [part.format(**names) for part in shlex.split(line)]
        before = snapshot(folder)
        res = bench.atlas(*args, cwd=folder)
        verdict = succeeded(res) if want == "ok" else one_line_error(res, needle=want or None)
        return both(verdict, no_partials(folder), intact(before, folder))
    CASES.append(Case(name, family, body))


for _row in SIMPLE:
    _simple(*_row)



# ------------------------------------------------------------------------------ machine faults

def _fault_folder(bench: Bench, name: str, size: str, fill: bool, read_only: bool = False):
    """A folder on a small tmpfs (filled up when ``fill``), or a plain folder and a prelude that
    makes every atomic write fail with ENOSPC / EROFS when mounting is not allowed."""
    mount = bench.mount(size, read_only=read_only)
    if mount is None:
        return bench.folder(name), INJECT.format(code="EROFS" if read_only else "ENOSPC")
    if fill:
        with open(mount / "filler", "wb") as handle:
            with __import__("contextlib").suppress(OSError):
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
    return mount, None


def _fault_case(family, name, size, fill, read_only, line, needle):
    def body(bench: Bench) -> tuple[bool, str]:
        folder, prelude = _fault_folder(bench, name, size, fill, read_only)
        names = {"mnt": str(folder), "cfg": str(bench.config(bench.folder(name)))}
        res = bench.atlas(*[a.format(**names) for a in shlex.split(line)], cwd=bench.folder(name), prelude=prelude)
        return both(one_line_error(res, needle=needle), no_partials(folder))
    CASES.append(Case(name, family, body))


for _row in [("disk", "run_on_a_full_disk", "2m", True, False, "run {cfg} --out {mnt}/out", "space"),
             ("disk", "gpkg_on_a_full_disk", "2m", True, False, "regions --format gpkg -o {mnt}/p.gpkg", "space"),
             ("disk", "parquet_on_a_full_disk", "2m", True, False,
              "sinks --id P1-08 --draws 100 -o {mnt}/s.parquet", "space"),
             ("disk", "csv_on_a_full_disk", "2m", True, False, "regions --format csv -o {mnt}/p.csv", "space"),
             ("disk", "run_on_a_read_only_disk", "2m", False, True, "run {cfg} --out {mnt}/out", "read-only"),
             ("disk", "csv_on_a_read_only_disk", "2m", False, True, "regions --format csv -o {mnt}/p.csv",
              "read-only")]:
    _fault_case(*_row)


@case("disk")
def disk_fills_in_the_middle_of_a_run(bench: Bench) -> tuple[bool, str]:
    """A complete run, then a re-run with a new price on a disk with ~1 MB left: it fails with
    one line, keeps every earlier file whole, and a run after space is freed completes."""
    mount = bench.mount("40m")
    if mount is None:
        return True, "skipped: cannot mount a tmpfs here (the injected cases cover the message)"
    cfg = bench.config(bench.folder("middle"), out=mount / "out")
    first = bench.atlas("-q", "run", cfg)
    if first.status != 0:
        return False, f"first run failed: {first.stderr[-200:]}"
    before = {k: v for k, v in snapshot(mount / "out").items() if not k.startswith(".atlas-run")}
    free = shutil.disk_usage(mount).free
    (mount / "filler").write_bytes(b"\0" * max(0, free - 1_200_000))
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("price = 50", "price = 80"), encoding="utf-8")
    res = bench.atlas("run", cfg)
    verdict = both(one_line_error(res, needle="space"), no_partials(mount), whole(before, mount / "out"))
    (mount / "filler").unlink()
    again = bench.atlas("-q", "run", cfg)
    return both(verdict, succeeded(again), no_partials(mount))

# The run cases (concurrency, interrupts, cache, quiet, pipes, numbers) live beside this file.
sys.modules.setdefault("battery_failures", sys.modules[__name__])
sys.path.insert(0, str(Path(__file__).resolve().parent))
import battery_failures_runs  # noqa: E402, F401  (registers its cases)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", help="Only the cases whose name or family contains this text.")
    parser.add_argument("--keep", action="store_true", help="Keep the workspace folder.")
    args = parser.parse_args(argv)
    chosen = [c for c in CASES if not args.k or args.k in c.name or args.k in c.family]
    bench = Bench(Path(tempfile.mkdtemp(prefix="atlas-battery-")))
    handled = 0
    started = time.perf_counter()
    try:
        for item in chosen:
            t0 = time.perf_counter()
            try:
                ok, note = item.body(bench)
            except Exception as exc:  # a broken case is a failed case, not a crash of the battery
                ok, note = False, f"case crashed: {type(exc).__name__}: {exc}"
            handled += ok
            print(f"{'ok  ' if ok else 'FAIL'} {item.family:<11} {item.name:<44} {time.perf_counter() - t0:5.1f}s  "
                  f"{' '.join(note.split())}", flush=True)
    finally:
        bench.unmount_all()
        if not args.keep:
            shutil.rmtree(bench.root, ignore_errors=True)
    print(f"{handled}/{len(chosen)} cases handled ({time.perf_counter() - started:.0f} s)")
    return 0 if handled == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
