"""Which files an ingest reads: supported files under the given paths, and every path it could
not read with the reason (broken or looping symbolic links, folders it may not list).

Symbolic links to folders are followed, each real folder is walked once, and a link that leads
back into a folder being walked is reported as a loop instead of being followed forever.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from rag.text.loaders import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)

# Files a corpus folder often holds that are about the corpus, not part of it.
SKIPPED_NAMES = frozenset({"license", "readme.md", "sources.md"})


def discover(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Supported files under the given files/folders (sorted, each once) and (path, reason) for each
    path that could not be read. Hidden files and folders and unsupported file types inside
    folders are passed over silently; a file named explicitly with an unsupported type is reported."""
    found: set[Path] = set()
    problems: list[tuple[Path, str]] = []
    for path in paths:
        problem = _link_problem(path)
        if problem:
            problems.append((path, problem))
        elif path.is_dir():
            _walk(path, found, problems, visited=set(), ancestors=())
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.add(path)
            else:
                problems.append((path, f"unsupported file type {path.suffix or '(none)'}"))
        elif path.exists():
            problems.append((path, "not a regular file or folder"))
        else:
            problems.append((path, "no such file or folder"))
    return sorted(found), problems


def _walk(
    folder: Path,
    found: set[Path],
    problems: list[tuple[Path, str]],
    *,
    visited: set[tuple[int, int]],
    ancestors: tuple[tuple[tuple[int, int], Path], ...],
) -> None:
    try:
        st = folder.stat()
    except OSError as e:
        problems.append((folder, _os_reason(e)))
        return
    key = (st.st_dev, st.st_ino)
    for ancestor_key, ancestor in ancestors:
        if ancestor_key == key:
            problems.append((folder, f"symbolic link loop: leads back to {ancestor}; not followed"))
            return
    if key in visited:
        log.info("skipped %s: the same folder was already walked under another name", folder)
        return
    visited.add(key)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        problems.append((folder, f"cannot list folder: {_os_reason(e)}"))
        return
    inner = (*ancestors, (key, folder))
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        supported = path.suffix.lower() in SUPPORTED_SUFFIXES and entry.name.lower() not in SKIPPED_NAMES
        if entry.is_symlink():
            problem = _link_problem(path)
            if problem:
                if supported or not path.suffix:  # a broken link to a folder or to a document
                    problems.append((path, problem))
                continue
        try:
            is_dir = entry.is_dir()
        except OSError as e:
            problems.append((path, _os_reason(e)))
            continue
        if is_dir:
            _walk(path, found, problems, visited=visited, ancestors=inner)
        elif supported:
            found.add(path)


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be followed (broken, or a loop of links), or None."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop: the link points (through other links) back to itself"
        if e.errno == errno.ENOENT:
            return f"broken symbolic link to {os.readlink(path)}"
        return _os_reason(e)
    return None


def _os_reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied: give your user read access (chmod +r) or move it out of the folder"
    return error.strerror or str(error)
