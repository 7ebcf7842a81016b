"""What both stores do with an index folder: atomic writes, the writer lock, the readers lock.

Writers write to a temporary name, fsync and rename. The writer lock (``.lock``) keeps a second
writer out at once, naming the holder; the readers lock (``.readers``) is shared by every load
while it reads the manifest and its files, so a writer deletes old files only when no load is
reading them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.errors import IndexCorruptError, IndexLockedError, IndexNotFoundError

MANIFEST = "manifest.json"
LOCK_FILE = ".lock"
READERS_FILE = ".readers"


def require_index(path: Path) -> None:
    """IndexNotFoundError naming the fix when no index exists at path."""
    if not (Path(path) / MANIFEST).is_file():
        raise IndexNotFoundError(f"no index at {path}: build it with `rag ingest <folder> --index {path}`")


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise IndexCorruptError(f"segment file {path} is missing: run `rag ingest --rebuild`")
    try:
        return json.loads(path.read_bytes())
    except ValueError as e:
        raise IndexCorruptError(f"segment file {path} is damaged ({e}): run `rag ingest --rebuild`") from e


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """write() to a temporary name, fsync, rename; the directory is fsynced with the manifest."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    fsync_file(tmp)
    os.replace(tmp, path)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Exclusive lock on an index folder (created if needed) while one process writes it.

    A second writer fails at once (it does not wait) with IndexLockedError naming the lock file
    and the holder's pid, command line and start time, which the holder writes into the lock file.
    The lock is an flock: the kernel releases it when the holder exits, even on kill -9.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / LOCK_FILE
    with open(lock_path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise IndexLockedError(
                f"another process is writing {path} (lock {lock_path} held by {holder}): "
                "wait for it to finish (or stop it) and retry"
            ) from e
        try:
            handle.seek(0)
            handle.truncate()
            command = " ".join(_own_command_line())
            handle.write(f"pid {os.getpid()}, `{command}`, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Shared lock on the index's readers file while a load reads the manifest and its files."""
    try:
        handle = open(path / READERS_FILE, "a+b")  # noqa: SIM115 - closed below
    except OSError:  # a read-only copy of an index: no writer can be cleaning it up either
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def no_readers(path: Path) -> Iterator[bool]:
    """Exclusive lock on the readers file if no load holds it now (True), without waiting (False)."""
    with open(path / READERS_FILE, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _own_command_line() -> list[str]:
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    return args[:8] + (["..."] if len(args) > 8 else [])
