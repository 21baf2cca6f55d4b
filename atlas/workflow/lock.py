"""One run per output folder at a time.

:func:`output_lock` takes an exclusive lock on ``OUT/.atlas-run/lock`` (through ``filelock``:
``flock`` where the file system has it, which the kernel releases when the holder dies, and a
lock file elsewhere). Beside it, ``OUT/.atlas-run/lock.json`` names the holder (pid, host, start
time) so a refused run can say who holds the folder, and so a lock file left by a killed run
is recognised as stale (same host, pid no longer alive) and taken over.

While it holds the lock, a run removes the temporary files a killed run left behind
(:func:`atlas._io.sweep_partials`): nobody else can be writing them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import filelock

from atlas._io import output_error, sweep_partials, write_text_atomic
from atlas.errors import RunLockedError
from atlas.workflow.cache import STATE_DIR

log = logging.getLogger(__name__)

LOCK_NAME = "lock"
HOLDER_NAME = "lock.json"
#: Seconds a second run waits for the folder before it refuses.
DEFAULT_WAIT = 3.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


def read_holder(state: Path) -> dict | None:
    """The holder record of a folder's lock (pid, host, started), or ``None``."""
    try:
        holder = json.loads((state / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def holder_is_stale(holder: dict | None) -> bool:
    """Whether ``holder`` names a process of this host that no longer runs."""
    if not holder or holder.get("host") != socket.gethostname():
        return False
    pid = holder.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and not _pid_alive(pid)


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another atlas run (it has not said which yet)"
    return (f"atlas run pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('started')}"
            + (f" ({holder.get('command')})" if holder.get("command") else ""))


@contextlib.contextmanager
def output_lock(out: str | os.PathLike, wait: float | None = None, command: str | None = None) -> Iterator[Path]:
    """Hold ``out``'s run lock for the block; yield the state folder.

    Parameters
    ----------
    out : path-like
        The output folder (created if needed).
    wait : float, optional
        Seconds to wait for another run to finish before refusing (default :data:`DEFAULT_WAIT`,
        read at each call).
    command : str, optional
        What is running, recorded for the message a refused run prints.

    Raises
    ------
    RunLockedError
        When another live run still holds the folder after ``wait`` seconds.
    OutputError
        When the folder cannot be created or written (a file in the way, read-only, full).
    """
    state = Path(out) / STATE_DIR
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise (output_error(exc, state / LOCK_NAME) or exc) from exc
    lock = filelock.FileLock(state / LOCK_NAME, thread_local=False)
    try:
        _acquire(lock, state, DEFAULT_WAIT if wait is None else wait)
    except OSError as exc:
        if isinstance(exc, RunLockedError):
            raise
        raise (output_error(exc, state / LOCK_NAME) or exc) from exc
    try:
        previous = read_holder(state)
        if holder_is_stale(previous):
            log.info("took over the lock of %s, which is no longer running", _describe(previous))
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command}
        write_text_atomic(state / HOLDER_NAME, json.dumps(record) + "\n", overwrite=True)
        sweep_partials(out)
        yield state
    finally:
        with contextlib.suppress(OSError):
            if (read_holder(state) or {}).get("pid") == os.getpid():
                (state / HOLDER_NAME).unlink()
        lock.release()


def _acquire(lock: filelock.BaseFileLock, state: Path, wait: float) -> None:
    """Acquire ``lock`` within ``wait`` seconds; take over a lock file whose holder died (for
    file systems without ``flock``, where the lock is a plain file); refuse otherwise."""
    try:
        lock.acquire(timeout=wait)
        return
    except filelock.Timeout:
        holder = read_holder(state)
    if holder_is_stale(holder) and isinstance(lock, filelock.SoftFileLock):
        log.info("removing the stale lock of %s", _describe(holder))
        with contextlib.suppress(FileNotFoundError):
            Path(lock.lock_file).unlink()
        try:
            lock.acquire(timeout=wait)
            return
        except filelock.Timeout:
            holder = read_holder(state)
    out = state.parent
    raise RunLockedError(f"{out} is in use by {_describe(holder)}",
                         "one run per output folder at a time",
                         "wait for that run to finish, or choose another --out")
