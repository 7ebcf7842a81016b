"""Files uploaded in the browser: a safe, readable name, kept next to earlier uploads, never over them.

A name from the browser may hold a path (``../../etc/passwd``, ``C:\\x\\a.txt``), control
characters, NUL or 300 characters; what lands on disk is its last component, cleaned, at most
200 UTF-8 bytes, Vietnamese letters kept (NFC). A second upload under a name already taken by
other content is kept as ``name (2).ext``; the same content again is recognised, not copied.
The copy goes to a hidden temporary file first and appears under its name only when complete.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.text.loaders import file_sha256

MAX_NAME_BYTES = 200  # room under the 255-byte file name limit for " (NN)" and the temp prefix
FALLBACK_STEM = "tai-lieu"
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")  # direction overrides: "fdp.exe" shown as "exe.pdf"
_WINDOWS_UNSAFE = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class StoredUpload:
    path: Path
    renamed: bool  # kept under another name than asked, because that name holds other content
    existed: bool  # the same content was already there: nothing was copied


def safe_upload_name(name: str) -> str:
    """A file name that stays inside the uploads folder and reads like the original."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cc")  # NUL, newlines, escapes
    name = _WINDOWS_UNSAFE.sub("_", _BIDI.sub("", name))
    name = _SPACES.sub(" ", name).strip(" .")  # no hidden files, no "." or ".."
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix) > 16 or " " in suffix:
        stem, suffix = name, ""
    stem = stem.strip(" .") or FALLBACK_STEM
    suffix = f".{suffix}" if suffix else ""
    return _truncate(stem, MAX_NAME_BYTES - len(suffix.encode("utf-8"))) + suffix


def _truncate(text: str, max_bytes: int) -> str:
    """The longest prefix of text within max_bytes of UTF-8, cut between characters."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore").rstrip(" .") or FALLBACK_STEM


def store_upload(source: Path, folder: Path, *, name: str | None = None) -> StoredUpload:
    """Copy source into folder under its safe name (or ``stem (n).ext``), atomically, never replacing a file."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = safe_upload_name(name if name is not None else source.name)
    digest = file_sha256(source)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        for n in range(1, 10_000):
            target = folder / _numbered(wanted, n)
            if target.exists():
                if target.is_file() and file_sha256(target) == digest:
                    return StoredUpload(target, renamed=n > 1, existed=True)
                continue
            if _publish(Path(temp), target):
                return StoredUpload(target, renamed=n > 1, existed=False)
        raise FileExistsError(f"{folder / wanted}: 9999 other files already use this name")
    finally:
        Path(temp).unlink(missing_ok=True)


def _numbered(name: str, n: int) -> str:
    if n == 1:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    mark = f" ({n})"
    stem = _truncate(stem, MAX_NAME_BYTES - len(mark) - len(suffix.encode("utf-8")) - 1)
    return f"{stem}{mark}{'.' + suffix if suffix else ''}"


def _publish(temp: Path, target: Path) -> bool:
    """Give the complete temp file its name, unless another writer took the name first (False)."""
    try:
        os.link(temp, target)  # atomic and never replaces: fails when target exists
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: claim the name, then move the copy onto it
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return False
        os.replace(temp, target)
        return True
