"""The run cases of ``scripts/battery_failures.py``: two runs on one folder, a stale lock, Ctrl-C
and kill -9 during a run, a damaged cache, ``-q``, a closed pipe, a fraction layer with
negative values. Run them through that script (``-k concurrency`` and so on)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from battery_failures import (ROOT, Bench, Result, both, case, intact, no_partials, one_line_error, snapshot,
                              succeeded)


def _start(bench: Bench, cfg: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "atlas.cli", "run", str(cfg), *extra], cwd=cfg.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})


def _until(proc: subprocess.Popen, text: str) -> list[str]:
    """stderr lines of ``proc`` up to the first containing ``text``."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            break
    return seen


@case("concurrency")
def two_runs_on_one_folder(bench: Bench) -> tuple[bool, str]:
    cfg = bench.config(bench.folder("twice"))
    first = _start(bench, cfg)
    _until(first, "regions")
    second = bench.atlas("run", cfg, cwd=cfg.parent)
    first_err = first.communicate()[1]
    ok_first = (first.returncode == 0, f"first run exit {first.returncode}: {first_err[-200:]}")
    if second.status == 0:  # it waited for the first to finish: serialised, fine
        return both((True, "the second run waited"), ok_first)
    return both(one_line_error(second, needle="pid"), ok_first, no_partials(cfg.parent))


@case("concurrency")
def stale_lock_of_a_killed_run(bench: Bench) -> tuple[bool, str]:
    cfg = bench.config(bench.folder("stale"), site=False)
    state = cfg.parent / "out" / ".atlas-run"
    state.mkdir(parents=True)
    (state / "lock").write_text("", encoding="utf-8")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (state / "lock.json").write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename,
                                                 "started": "earlier"}), encoding="utf-8")
    (cfg.parent / "out" / ".sinks_pilots.abcd1234.csv.part.csv").write_text("half", encoding="utf-8")
    return both(succeeded(bench.atlas("-q", "run", cfg, cwd=cfg.parent)), no_partials(cfg.parent))


@case("interrupt")
def ctrl_c_during_a_run(bench: Bench) -> tuple[bool, str]:
    cfg = bench.config(bench.folder("sigint"), site=False)
    proc = _start(bench, cfg)
    seen = _until(proc, "zonal_forest")
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate()
    res = Result(proc.returncode, "", "".join(seen) + rest)
    return both(one_line_error(res, needle="interrupted", status=130), no_partials(cfg.parent),
                succeeded(bench.atlas("-q", "run", cfg, cwd=cfg.parent)))


@case("interrupt")
def kill_9_then_resume(bench: Bench) -> tuple[bool, str]:
    cfg = bench.config(bench.folder("sigkill"), site=False)
    proc = _start(bench, cfg)
    _until(proc, "sinks")
    proc.kill()
    proc.communicate()
    again = bench.atlas("-q", "run", cfg, cwd=cfg.parent)
    bench.sinks_csv()
    reference = {k: v for k, v in snapshot(bench.root / "fixtures" / "out").items() if ".atlas-run" not in k}
    resumed = {k: v for k, v in snapshot(cfg.parent / "out").items() if ".atlas-run" not in k}
    same = (resumed == reference, "resumed outputs equal an uninterrupted run" if resumed == reference
            else f"differ: {sorted(k for k in reference if reference[k] != resumed.get(k))[:3]}")
    return both(succeeded(again), same, no_partials(cfg.parent))


@case("cache")
def damaged_cache_artifact(bench: Bench) -> tuple[bool, str]:
    folder = bench.folder("damaged")
    shutil.copytree(bench.sinks_csv().parent / "out", folder / "out")
    cfg = bench.config(folder, site=False)
    before = snapshot(folder / "out" / "data")
    for artifact in (folder / "out" / ".atlas-run").glob("sinks-*.parquet"):
        artifact.write_bytes(artifact.read_bytes()[:100])
    return both(succeeded(bench.atlas("-q", "run", cfg, cwd=folder)), intact(before, folder / "out" / "data"))


@case("quiet")
def quiet_run_prints_nothing_on_stderr(bench: Bench) -> tuple[bool, str]:
    folder = bench.folder("quiet")
    res = bench.atlas("-q", "run", bench.config(folder, site=False), cwd=folder)
    return both(succeeded(res), (res.stderr.strip() == "", f"stderr: {res.stderr.strip()[:120]!r}"),
                (res.stdout.lstrip().startswith("{"), "the summary is on stdout"))


@case("misc")
def output_piped_into_head(bench: Bench) -> tuple[bool, str]:
    proc = subprocess.Popen([sys.executable, "-m", "atlas.cli", "regions", "--format", "csv"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait()
    return (proc.returncode in (0, 1) and not err.strip(), f"exit {proc.returncode}, stderr {err.strip()[-120:]!r}")


@case("numbers")
def negative_values_in_a_fraction_layer(bench: Bench) -> tuple[bool, str]:
    import numpy as np
    import pandas as pd

    values = np.full((20, 20), 0.5, dtype="float32")
    values[::2] = -0.5
    tif = bench.raster(values, "negative_fraction.tif")
    out = bench.folder("fraction") / "z.csv"
    res = bench.atlas("zonal", tif, "--kind", "fraction", "--units", "fraction", "--id", "P1-08", "-o", out)
    if res.status == 0:
        table = pd.read_csv(out).select_dtypes("number")
        return (not (table < 0).any().any(), "no negative area" if not (table < 0).any().any()
                else f"negative values: {table.min().min()}")
    return one_line_error(res)