"""Every failure is one clear line, and nothing is lost: the CLI's one error path, atomic
outputs on a full or read-only disk, the run cache after kills, the output-folder lock, and
input-table validation. (`scripts/battery_failures.py` tries the same families end to end.)"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import filelock
import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from conftest import SMALL_RUN, outputs
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas._io import output_error, sweep_partials, write_text_atomic
from atlas.cli import AtlasGroup, cli
from atlas.errors import InputTableError, OutputError, OutputExistsError, RunLockedError
from atlas.export import write_frame
from atlas.validate import read_table
from atlas.workflow import lock
from atlas.workflow.config import load_config
from atlas.workflow.runner import STATE_DIR, run

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def error_lines(res) -> list[str]:
    return [line for line in res.output.splitlines() if line.strip()]


# ---------------------------------------------------------------- one error path

@pytest.mark.parametrize("args, needle", [
    (["regions", "--batch", "9"], "9"),                        # a bad option value
    (["regions", "--level", "village"], "village"),             # Choice
    (["regions", "--bach", "1"], "--batch"),                  # NoSuchOption
    (["run"], "Missing argument"),                            # MissingParameter
    (["frobnicate"], "No such command"),
    (["regions", "--id", "P9-99"], "P9-99"),                  # AtlasError
])
def test_user_errors_are_one_line_with_expected_and_fix(args, needle):
    res = CliRunner().invoke(cli, args)
    lines = error_lines(res)
    assert res.exit_code == 2, res.output
    assert len(lines) == 1 and lines[0].startswith("atlas: error:") and needle in lines[0]
    assert "Expected" in lines[0] and "Fix:" in lines[0] and "Traceback" not in res.output


def test_out_that_is_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x", encoding="utf-8")
    res = CliRunner().invoke(cli, ["run", "x.toml", "--out", str(blocker)])
    assert res.exit_code == 2 and error_lines(res)[-1].startswith("atlas: error:") and "is a file" in res.output


def _group_with(exc: BaseException) -> click.Group:
    @click.group(cls=AtlasGroup)
    @click.option("-v", "--verbose", count=True)
    def group(verbose):
        pass

    @group.command("boom")
    def boom():
        raise exc
    return group


def test_internal_error_is_one_line_and_minus_v_shows_the_traceback():
    group = _group_with(RuntimeError("a bug"))
    res = CliRunner().invoke(group, ["boom"])
    assert res.exit_code == 1 and error_lines(res) == [
        "atlas: error: internal error (RuntimeError: a bug); run with -v for the traceback and report it"]
    res = CliRunner().invoke(group, ["-v", "boom"])
    assert res.exit_code == 1 and "Traceback" in res.output and error_lines(res)[-1].startswith("atlas: error:")


@pytest.mark.parametrize("code, needle", [(errno.ENOSPC, "No space left"), (errno.EROFS, "read-only"),
                                          (errno.EACCES, "Permission denied"), (errno.EISDIR, "is a folder")])
def test_os_errors_on_outputs_are_one_line(code, needle, tmp_path):
    res = CliRunner().invoke(_group_with(OSError(code, os.strerror(code), str(tmp_path / "o.csv"))), ["boom"])
    assert res.exit_code == 2 and len(error_lines(res)) == 1 and needle in res.output


@pytest.mark.parametrize("exc, code", [
    (OSError("IOError: [Errno 28] No space left on device"), errno.ENOSPC),  # pyarrow's wording
    (RuntimeError("sqlite3_exec failed: database or disk is full"), errno.ENOSPC),  # pyogrio/SQLite
    (RuntimeError("Read-only file system"), errno.EROFS),
])
def test_library_wordings_are_recognised(exc, code, tmp_path):
    err = output_error(exc, tmp_path / "x.parquet")
    assert isinstance(err, OutputError)
    assert ("space" if code == errno.ENOSPC else "read-only") in str(err)


def test_an_unrelated_error_is_not_taken_for_a_disk_problem(tmp_path):
    assert output_error(ValueError("columns differ"), tmp_path / "x.csv") is None


def test_quiet_prints_only_errors(tmp_path):
    out = tmp_path / "p.csv"
    res = CliRunner().invoke(cli, ["-q", "regions", "--batch", "1", "--format", "csv", "-o", str(out)])
    assert res.exit_code == 0 and res.stderr == "" and len(pd.read_csv(out)) == 13
    res = CliRunner().invoke(cli, ["-q", "regions", "--batch", "9"])
    assert res.exit_code == 2 and len(error_lines(res)) == 1


def test_help_imports_no_command_module():
    code = ("import sys\nfrom atlas.cli import main\nsys.argv = ['atlas', '--help']\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in sys.modules if m.startswith(('pandas', 'atlas.cli.'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, check=True)
    assert "zonal" in proc.stdout and "compensate" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "['atlas.cli.lazy']"


def test_a_registered_command_without_its_module_fails_in_one_line():
    group = AtlasGroup(name="atlas", lazy_commands={"later": "atlas.cli.not_written_yet:cmd"})
    assert "later" not in group.list_commands(click.Context(group))
    res = CliRunner().invoke(group, ["later"])
    assert res.exit_code == 2 and "not part of this installation" in res.output and len(error_lines(res)) == 1


# ---------------------------------------------------------------- nothing half-written

def _fill(folder: Path) -> None:
    """Write zeros into ``folder`` until its disk is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs (root only); skipped where mounting is not allowed."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if ".part" in p.name]


@pytest.mark.parametrize("name", ["t.csv", "t.parquet", "t.gpkg", "t.geojson"])
def test_a_full_disk_keeps_the_earlier_file_and_leaves_no_temporary(small_disk, name):
    frame = gpd.GeoDataFrame({"pilot_id": ["a"]}, geometry=[shapely.Point(110, 30)], crs=4326)
    write_frame(frame, small_disk / name)
    before = (small_disk / name).read_bytes()
    _fill(small_disk)
    big = gpd.GeoDataFrame({"pilot_id": [f"id{i}" for i in range(20000)]},
                           geometry=[shapely.Point(110, 30).buffer(1, 64)] * 20000, crs=4326)
    with pytest.raises(OutputError, match="No space left"):
        write_frame(big, small_disk / name, overwrite=True)
    assert (small_disk / name).read_bytes() == before and leftovers(small_disk) == []


def test_injected_enospc_and_erofs_at_the_io_layer(tmp_path, monkeypatch):
    # where no tmpfs can be mounted: the rename of a finished temporary fails as the disk would
    (tmp_path / "keep.csv").write_text("old\n", encoding="utf-8")
    for code, needle in [(errno.ENOSPC, "No space"), (errno.EROFS, "read-only")]:
        def refuse(src, dst, code=code):
            raise OSError(code, os.strerror(code), str(dst))
        monkeypatch.setattr("atlas._io.os.replace", refuse)
        with pytest.raises(OutputError, match=needle):
            write_text_atomic(tmp_path / "keep.csv", "new\n", overwrite=True)
        assert (tmp_path / "keep.csv").read_text(encoding="utf-8") == "old\n" and leftovers(tmp_path) == []


def test_paths_in_the_way(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="is a file"):
        write_text_atomic(tmp_path / "file" / "x.txt", "y")
    with pytest.raises(OutputError, match="is a folder"):
        write_text_atomic(tmp_path, "y", overwrite=True)
    with pytest.raises(OutputExistsError):
        write_text_atomic(tmp_path / "file", "y")


def test_sweep_removes_only_temporaries(tmp_path):
    (tmp_path / "d").mkdir()
    names = [".sinks.ab12cd34.csv.part.csv", ".p.zz99yy88.gpkg.part.gpkg-journal", "d/.x.abcdefgh.html.part.html"]
    for name in names:
        (tmp_path / name).write_text("half", encoding="utf-8")
    for keep in ["sinks.csv", ".hidden", "a.part.csv"]:
        (tmp_path / keep).write_text("keep", encoding="utf-8")
    assert sorted(p.name for p in sweep_partials(tmp_path)) == sorted(Path(n).name for n in names)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [".hidden", "a.part.csv", "sinks.csv"]


# ---------------------------------------------------------------- the run cache

# Kills must land exactly where the test says: a kill sent from outside once a step's line is read
# can arrive after the next (fast) step has already been stored. So each run kills itself (SIGKILL,
# nothing runs after it): from the progress callback, which the cache calls once a step's artifact is
# complete, or right after the site's first page is written. One interpreter imports atlas and forks a
# fresh run for each kill (no threads exist before a fork).
KILLED_RUNS = """
import gc, os, signal, sys
import mapclassify, pyfixest.estimation.api
from atlas.carbon import evaluation, trajectories
from atlas.publish import site
from atlas.workflow.config import load_config
from atlas.workflow.runner import run

# the children are forked from here: the slow imports are paid once, and frozen objects are never
# traversed by a child's garbage collector (which would otherwise copy every page it touches)
gc.freeze()

def killed(run_until_kill):
    pid = os.fork()
    if pid == 0:
        try:
            run_until_kill()
        finally:
            os._exit(3)  # the run ended without being killed
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

def after_step(n):
    seen = []
    def progress(name, reused):
        seen.append("reused" if reused else "done")
        if len(seen) == n:
            print(n, name, *seen, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    run(load_config("run.toml"), progress=progress)

def after_first_page():
    write_page = site._write_page
    def write_then_die(*args):
        write_page(*args)
        os.kill(os.getpid(), signal.SIGKILL)
    site._write_page = write_then_die
    run(load_config("run.toml"))

for n in range(1, int(sys.argv[1]) + 1):
    print("exit", killed(lambda: after_step(n)), flush=True)
print("exit", killed(after_first_page), flush=True)
"""


@pytest.mark.slow
def test_killed_after_every_step_and_inside_the_last_resumes_byte_identical(small_run, tmp_path):
    """One folder, killed (SIGKILL) right after each step in turn: run n reuses what runs 1 … n-1 left,
    finishes step n and is killed. A last run is killed inside the site step, once its first page is
    written; a final run resumes. Every step boundary and a half-written step see a kill and a resume,
    the outputs end byte-identical to an uninterrupted run, and the temporary files a kill may leave
    are gone once a run has been through the folder."""
    names, reference = small_run.computed, small_run.reference
    assert names[-1] == "site"
    folder = tmp_path / "killed"
    out = folder / "out"
    folder.mkdir()
    (folder / "run.toml").write_text(SMALL_RUN, encoding="utf-8")
    driver = subprocess.run([sys.executable, "-c", KILLED_RUNS, str(len(names) - 1)], cwd=folder,
                            env=ENV, capture_output=True, text=True, timeout=600)
    assert driver.returncode == 0, driver.stderr
    lines = [line.split() for line in driver.stdout.splitlines()]
    assert len(lines) == 2 * (len(names) - 1) + 1, driver.stdout
    assert all(int(line[-1]) == -signal.SIGKILL for line in lines if line[0] == "exit"), driver.stdout
    for n in range(1, len(names)):
        _, step, *reported = lines[2 * n - 2]
        # everything before step n came from the killed runs before it; step n itself was computed now
        assert step == names[n - 1] and reported == ["reused"] * (n - 1) + ["done"], f"step {n}: {lines}"
    assert (out / "national.html").is_file()
    assert not list((out / STATE_DIR).glob("site-*.json")), "the site step must not have finished"
    assert outputs(out) != reference

    resumed = run(load_config(folder / "run.toml"))
    assert resumed.computed == ["site"]  # everything before the site was kept
    assert outputs(out) == reference
    assert leftovers(out) == []


def test_cached_frames_keep_their_column_types(small_run, tmp_path):
    """The frames a run computes and the same frames read back from the cache by the next run are equal,
    column types included."""
    path = small_run.copy_to(tmp_path / "copy")
    reused = run(load_config(path))
    assert reused.computed == []
    for step in ("forest", "sinks", "compensation", "targets"):
        for artifact in (path.parent / "out" / STATE_DIR).glob(f"{step}-*.parquet"):
            artifact.unlink()
    computed = run(load_config(path))
    assert computed.computed == ["forest", "sinks", "compensation", "targets"]  # the same content: nothing after
    assert set(computed.tables) == set(reused.tables)
    for name, frame in computed.tables.items():
        pd.testing.assert_frame_equal(frame, reused.tables[name], check_exact=True)


def test_a_damaged_artifact_is_computed_again(small_run, tmp_path):
    path = small_run.copy_to(tmp_path / "copy")
    for artifact in (path.parent / "out" / STATE_DIR).glob("sinks-*.parquet"):
        artifact.write_bytes(artifact.read_bytes()[:64])
    again = run(load_config(path))
    assert "sinks" in again.computed and outputs(path.parent / "out") == small_run.reference


# ---------------------------------------------------------------- one run per folder

def test_a_second_run_on_a_busy_folder_refuses_naming_the_holder(small_run, tmp_path, monkeypatch):
    folder = small_run.copy_to(tmp_path / "copy").parent
    monkeypatch.setattr(lock, "DEFAULT_WAIT", 0.2)  # 3 s by default; the refusal is what is tested
    with lock.output_lock(folder / "out", command="the first run"):
        failure: list[BaseException] = []
        worker = threading.Thread(target=lambda: _capture(failure, lambda: run(load_config(folder / "run.toml"))))
        worker.start()
        worker.join()
    assert isinstance(failure[0], RunLockedError)
    message = str(failure[0])
    assert f"pid {os.getpid()}" in message and os.uname().nodename in message and "the first run" in message


def _capture(sink: list, func) -> None:
    try:
        func()
    except BaseException as exc:  # noqa: BLE001 (handed to the test thread)
        sink.append(exc)


def test_a_second_run_waits_for_a_short_first_one(tmp_path):
    order = []
    with lock.output_lock(tmp_path, wait=0.1):
        def second():
            with lock.output_lock(tmp_path, wait=5):
                order.append("second")
        worker = threading.Thread(target=second)
        worker.start()
        time.sleep(0.3)
        order.append("first done")
    worker.join()
    assert order == ["first done", "second"]


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, caplog):
    state = tmp_path / STATE_DIR
    state.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    holder = {"pid": int(dead.stdout), "host": os.uname().nodename, "started": "before"}
    (state / lock.HOLDER_NAME).write_text(json.dumps(holder), encoding="utf-8")
    (tmp_path / ".sinks_pilots.abcd1234.csv.part.csv").write_text("half", encoding="utf-8")
    caplog.set_level("INFO", logger="atlas")
    with lock.output_lock(tmp_path, wait=0.5):
        assert lock.read_holder(state)["pid"] == os.getpid()
    assert "no longer running" in caplog.text and leftovers(tmp_path) == []
    # where the file system has no flock, the lock is a plain file: a dead holder's is removed
    (state / "soft").write_text("", encoding="utf-8")
    (state / lock.HOLDER_NAME).write_text(json.dumps(holder), encoding="utf-8")
    soft = filelock.SoftFileLock(state / "soft")
    lock._acquire(soft, state, wait=0.2)
    assert soft.is_locked
    soft.release()


# ---------------------------------------------------------------- input tables

def test_table_errors_name_row_and_column(tmp_path):
    # line 1 is the header, so data row 2 is line 3
    path = tmp_path / "sinks.csv"
    path.write_text("pilot_id,net_sink_tco2_per_yr_central,forest_ha\nP1,10,5\nP2,abc,3\nP3,4,-1\nP1,2,1\n",
                    encoding="utf-8")
    with pytest.raises(InputTableError) as err:
        read_table(path, {"net_sink_tco2_per_yr_central": "number", "forest_ha": "number>=0"}, "pilot_id")
    text = str(err.value)
    assert "sinks.csv row 2 (line 3), column net_sink_tco2_per_yr_central: 'abc' is not a number" in text
    assert "row 3 (line 4), column forest_ha: -1 is negative" in text
    assert "rows 1 (line 2) and 4 (line 5), column pilot_id: the id 'P1' appears 2 times" in text
    assert "\n" not in text


def test_missing_column_suggests_the_close_one(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("pilot,value\na,1\n", encoding="utf-8")
    with pytest.raises(InputTableError, match="no column pilot_id .*rename 'pilot' for 'pilot_id'"):
        read_table(path, {"value": "number"}, "pilot_id")


@pytest.mark.parametrize("encoding, prefix, sep", [("utf-8", "\ufeff", ","), ("gbk", "", ","), ("utf-8", "", ";")])
def test_csv_encodings_and_separators(tmp_path, encoding, prefix, sep):
    path = tmp_path / "t.csv"
    path.write_bytes((prefix + f"编号{sep}面积\n甲{sep}1.5\n乙{sep}\n").encode(encoding))
    frame = read_table(path, {"面积": "number>=0?"}, "编号")
    assert frame["编号"].tolist() == ["甲", "乙"] and frame["面积"].iloc[0] == 1.5 and pd.isna(frame["面积"].iloc[1])


def test_geopackage_layers_and_parquet(tmp_path):
    frame = gpd.GeoDataFrame({"pilot_id": ["a", "b"], "v": [1.0, -2.0]}, geometry=[shapely.Point(0, 0)] * 2,
                             crs=4326)
    frame.to_file(tmp_path / "t.gpkg", layer="one")
    frame.to_file(tmp_path / "t.gpkg", layer="two")
    with pytest.raises(InputTableError, match=r"found 2 layers in .*t\.gpkg \(one, two\)"):
        read_table(tmp_path / "t.gpkg", {"v": "number"}, "pilot_id")
    with pytest.raises(InputTableError, match="t.gpkg row 2, column v: -2.0 is negative"):
        read_table(tmp_path / "t.gpkg", {"v": "number>=0"}, "pilot_id", layer="one")
    frame.to_parquet(tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.parquet", {"v": "number"}, "pilot_id")["v"].tolist() == [1.0, -2.0]


@pytest.mark.parametrize("content, needle", [(b"", "is empty"), (b"\x80\xff" * 64, "neither UTF-8 nor GBK"),
                                             (b"pilot_id,v\n", None)])
def test_empty_and_binary_files(tmp_path, content, needle):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    if needle is None:  # a header and no rows is a valid, empty table
        assert read_table(path, {"v": "number"}, "pilot_id").empty
        return
    with pytest.raises(InputTableError, match=needle):
        read_table(path, {"v": "number"}, "pilot_id")


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), min_size=1, max_size=12),
       bad=st.integers(min_value=0, max_value=11))
def test_one_bad_cell_is_found_where_it_is(tmp_path_factory, values, bad):
    path = tmp_path_factory.mktemp("h") / "t.csv"
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(len(values))], "v": values})
    frame.to_csv(path, index=False)
    pd.testing.assert_series_equal(read_table(path, {"v": "number"}, "id")["v"], frame["v"])  # round trip
    row = bad % len(values)
    frame["v"] = frame["v"].astype(object)
    frame.loc[row, "v"] = "n/a?"
    frame.to_csv(path, index=False)
    with pytest.raises(InputTableError, match=rf"t.csv row {row + 1} \(line {row + 2}\), column v: 'n/a\?'"):
        read_table(path, {"v": "number"}, "id")


def test_a_data_error_while_writing_stays_itself_and_probes_no_disk(tmp_path, monkeypatch):
    # a bad value met while writing is not the machine refusing the write: it is raised as it is,
    # without writing a probe file to look for a full disk (only OSErrors and I/O libraries' errors are)
    import atlas._io as io

    probed = []
    monkeypatch.setattr(io, "_out_of_space", lambda path: probed.append(path) or False)
    with pytest.raises(ValueError, match="bad value"):
        with io.atomic_path(tmp_path / "t.csv") as tmp:
            tmp.write_text("half", encoding="utf-8")
            raise ValueError("bad value")
    assert probed == [] and leftovers(tmp_path) == [] and not (tmp_path / "t.csv").exists()
    with pytest.raises(OSError):
        with io.atomic_path(tmp_path / "u.csv"):
            raise OSError("no errno: the disk is asked")
    assert probed == [tmp_path / "u.csv"]
