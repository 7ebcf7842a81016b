"""Incremental ingest: unchanged files cost no embedding, changes re-embed only what changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rag.ingest.pipeline
from rag.errors import IndexMismatchError, IndexNotFoundError
from rag.index.base import open_store
from rag.index.faiss.store import IndexStore
from rag.ingest.pipeline import IngestProgress, ingest, remove
from rag.text.chunking import ChunkSettings
from tests.fakes import HashEmbedder

CHUNKING = ChunkSettings(max_tokens=32, overlap_tokens=8)

FILES = {
    "ha-noi.txt": "Hà Nội\nHà Nội là thủ đô của Việt Nam. Thành phố có nhiều hồ đẹp.\n",
    "hue.md": "# Huế\n\nHuế là cố đô của triều Nguyễn. Sông Hương chảy qua thành phố.\n",
    "sub/da-nang.html": "<title>Đà Nẵng</title><p>Đà Nẵng có cầu Rồng. Biển Mỹ Khê rất đẹp.</p>",
}


@pytest.fixture(autouse=True, params=["faiss", "milvus"])
def store_kind(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with each store as the default of ingest()."""
    monkeypatch.setitem(rag.ingest.pipeline.ingest.__kwdefaults__, "store", request.param)
    return request.param


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def _run(docs: Path, index: Path, embedder: HashEmbedder, **options):  # noqa: ANN202 - an IngestReport
    return ingest([docs], index=index, embedder=embedder, chunking=CHUNKING, **options)


def _sources(docs: Path, *rels: str) -> list[str]:
    return [str(docs / rel) for rel in rels]


def test_first_run_adds_every_file(docs: Path, tmp_path: Path) -> None:
    embedder = HashEmbedder()
    report = _run(docs, tmp_path / "idx", embedder)
    assert report.added == _sources(docs, "ha-noi.txt", "hue.md", "sub/da-nang.html")
    assert (report.updated, report.unchanged, report.removed, report.failed) == ([], [], [], [])
    assert (report.chunks_embedded, report.total_chunks, embedder.passages_embedded) == (3, 3, 3)
    store = open_store(tmp_path / "idx")
    assert [c.title for c in store.chunks()] == ["Hà Nội", "Huế", "Đà Nẵng"]
    assert store.chunking == {"max_tokens": 32, "overlap_tokens": 8}


def test_second_run_embeds_nothing(docs: Path, tmp_path: Path) -> None:
    embedder = HashEmbedder()
    _run(docs, tmp_path / "idx", embedder)
    manifest_before = (tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8")
    report = _run(docs, tmp_path / "idx", embedder)
    assert embedder.passages_embedded == 3
    assert report.unchanged == _sources(docs, "ha-noi.txt", "hue.md", "sub/da-nang.html")
    assert (report.added, report.updated, report.chunks_embedded, report.total_chunks) == ([], [], 0, 3)
    # nothing changed, so nothing was rewritten
    assert (tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8") == manifest_before


def test_changed_file_is_re_embedded_alone(docs: Path, tmp_path: Path) -> None:
    embedder = HashEmbedder()
    _run(docs, tmp_path / "idx", embedder)
    (docs / "hue.md").write_text(
        "# Huế\n\nHuế có Đại Nội. Chùa Thiên Mụ nằm bên sông Hương.\n\nẨm thực Huế rất phong phú.\n",
        encoding="utf-8",
    )
    report = _run(docs, tmp_path / "idx", embedder)
    assert report.updated == _sources(docs, "hue.md")
    assert report.unchanged == _sources(docs, "ha-noi.txt", "sub/da-nang.html")
    assert (report.chunks_embedded, embedder.passages_embedded, report.total_chunks) == (1, 4, 3)
    store = open_store(tmp_path / "idx")
    [chunk] = store.chunks_of(str(docs / "hue.md"))
    assert chunk.text == "# Huế\n\nHuế có Đại Nội. Chùa Thiên Mụ nằm bên sông Hương.\n\nẨm thực Huế rất phong phú."


def test_prune_removes_deleted_file(docs: Path, tmp_path: Path) -> None:
    embedder = HashEmbedder()
    _run(docs, tmp_path / "idx", embedder)
    (docs / "hue.md").unlink()
    kept = _run(docs, tmp_path / "idx", embedder)
    assert (kept.removed, kept.total_chunks) == ([], 3)  # without --prune the document stays
    report = _run(docs, tmp_path / "idx", embedder, prune=True)
    assert report.removed == _sources(docs, "hue.md")
    assert report.total_chunks == 2
    assert sorted(open_store(tmp_path / "idx").documents) == _sources(docs, "ha-noi.txt", "sub/da-nang.html")


def test_bad_file_is_reported_and_the_rest_ingested(docs: Path, tmp_path: Path) -> None:
    (docs / "anh.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    report = _run(docs, tmp_path / "idx", HashEmbedder())
    assert report.failed == [
        (str(docs / "anh.txt"), f"{docs / 'anh.txt'} looks like a binary file, not text: convert it to .txt first")
    ]
    assert report.added == _sources(docs, "ha-noi.txt", "hue.md", "sub/da-nang.html")
    assert report.to_dict()["failed"] == [{"source": str(docs / "anh.txt"), "reason": report.failed[0][1]}]
    assert sorted(open_store(tmp_path / "idx").documents) == report.added


def test_other_embedder_is_refused(docs: Path, tmp_path: Path) -> None:
    _run(docs, tmp_path / "idx", HashEmbedder())
    other = HashEmbedder(model_id="other-embedder")
    with pytest.raises(IndexMismatchError, match="built with hash-embedder .* settings ask for other-embedder"):
        _run(docs, tmp_path / "idx", other)
    assert other.passages_embedded == 0


def test_an_index_keeps_its_chunking_until_rebuilt(
    docs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _run(docs, tmp_path / "idx", HashEmbedder())
    sentences = " ".join(f"Câu thứ {n} nói về phố cổ Hội An và sông Thu Bồn." for n in range(12))
    (docs / "hoi-an.txt").write_text(f"Hội An\n{sentences}\n", encoding="utf-8")
    wider = ChunkSettings(max_tokens=64, overlap_tokens=8)
    with caplog.at_level("WARNING", logger="rag.ingest.pipeline"):
        report = ingest([docs], index=tmp_path / "idx", embedder=HashEmbedder(), chunking=wider)
    assert report.added == _sources(docs, "hoi-an.txt")
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'idx'} keeps its chunking 32/8 tokens (settings ask for 64/8 tokens): "
        f"run `rag ingest --rebuild --index {tmp_path / 'idx'}` to re-chunk"
    ]
    store = open_store(tmp_path / "idx")
    assert store.chunking == {"max_tokens": 32, "overlap_tokens": 8}
    kept = len(store.chunks_of(str(docs / "hoi-an.txt")))
    rebuilt = ingest([docs], index=tmp_path / "idx", embedder=HashEmbedder(), chunking=wider, rebuild=True)
    store = open_store(tmp_path / "idx")
    assert store.chunking == {"max_tokens": 64, "overlap_tokens": 8}
    assert rebuilt.total_chunks == len(store)
    assert len(store.chunks_of(str(docs / "hoi-an.txt"))) < kept


def test_rebuild_with_another_embedder(docs: Path, tmp_path: Path) -> None:
    _run(docs, tmp_path / "idx", HashEmbedder())
    other = HashEmbedder(dim=32, model_id="other-embedder")
    report = _run(docs, tmp_path / "idx", other, rebuild=True)
    assert report.added == _sources(docs, "ha-noi.txt", "hue.md", "sub/da-nang.html")
    assert (report.unchanged, other.passages_embedded) == ([], 3)
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"] == {"model_id": "other-embedder", "dim": 32}
    assert len(open_store(tmp_path / "idx")) == 3


def test_remove(docs: Path, tmp_path: Path) -> None:
    _run(docs, tmp_path / "idx", HashEmbedder())
    hue = str(docs / "hue.md")
    assert remove([hue, "not/indexed.txt"], index=tmp_path / "idx") == [hue]
    store = open_store(tmp_path / "idx")
    assert sorted(store.documents) == _sources(docs, "ha-noi.txt", "sub/da-nang.html")
    assert [c.title for c in store.chunks()] == ["Hà Nội", "Đà Nẵng"]
    assert remove([hue], index=tmp_path / "idx") == []


def test_remove_without_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        remove(["a.txt"], index=tmp_path / "idx")


def test_progress_reports_each_file(docs: Path, tmp_path: Path) -> None:
    calls: list[IngestProgress] = []
    _run(docs, tmp_path / "idx", HashEmbedder(), progress=calls.append)
    assert [(p.files_done, p.files_total, p.chunks_embedded, p.current) for p in calls] == [
        (0, 3, 0, str(docs / "ha-noi.txt")),
        (1, 3, 1, str(docs / "hue.md")),
        (2, 3, 2, str(docs / "sub/da-nang.html")),
        (3, 3, 3, ""),
    ]
    assert [p.elapsed for p in calls] == sorted(p.elapsed for p in calls)


def test_prune_with_relative_dot_root(docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(docs)
    index = tmp_path / "index"
    ingest([Path(".")], index=index, embedder=HashEmbedder(), chunking=CHUNKING)
    (docs / "hue.md").unlink()
    report = ingest([Path(".")], index=index, embedder=HashEmbedder(), chunking=CHUNKING, prune=True)
    assert report.removed == ["hue.md"]
    assert sorted(open_store(index).documents) == ["ha-noi.txt", "sub/da-nang.html"]


@pytest.mark.parametrize("store_kind", ["faiss"])  # the FAISS store's files; the contract suite covers Milvus
def test_rebuild_never_overwrites_the_files_the_live_manifest_uses(docs: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    _run(docs, index, HashEmbedder())
    segments = json.loads((index / "manifest.json").read_text(encoding="utf-8"))["segments"]
    live = [name for segment in segments for name in segment["files"].values()]
    before = {name: (index / name).read_bytes() for name in live}
    seen_during_save: list[dict[str, bytes]] = []
    original_save = IndexStore.save

    def checking_save(self: IndexStore) -> None:
        # what a crash just before the manifest swap would leave: the old files, intact
        seen_during_save.append({name: (index / name).read_bytes() for name in live})
        original_save(self)

    IndexStore.save = checking_save  # type: ignore[method-assign]
    try:
        _run(docs, index, HashEmbedder(), rebuild=True)
    finally:
        IndexStore.save = original_save  # type: ignore[method-assign]
    assert seen_during_save == [before]
    after = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert after["generation"] == 2
    assert [(s["kind"], s["files"]["vectors"]) for s in after["segments"]] == [("base", "vectors-000002.faiss")]


def test_jsonl_records_are_documents_of_their_file(docs: Path, tmp_path: Path) -> None:
    path = docs / "bai.jsonl"
    path.write_text(
        '{"id": "a", "title": "Sông Hồng", "text": "Sông Hồng chảy qua Hà Nội."}\n'
        '{"id": "b", "title": "Sông Hương", "text": "Sông Hương chảy qua Huế."}\n',
        encoding="utf-8",
    )
    embedder = HashEmbedder()
    report = _run(docs, tmp_path / "idx", embedder, prune=True)
    assert report.added == _sources(docs, "bai.jsonl", "ha-noi.txt", "hue.md", "sub/da-nang.html")
    store = open_store(tmp_path / "idx")
    assert sorted(s for s in store.documents if "bai.jsonl" in s) == [f"{path}#a", f"{path}#b"]
    assert [c.title for c in store.chunks_of(f"{path}#b")] == ["Sông Hương"]

    report = _run(docs, tmp_path / "idx", embedder, prune=True)
    assert (report.unchanged, report.removed, embedder.passages_embedded) == (
        _sources(docs, "bai.jsonl", "ha-noi.txt", "hue.md", "sub/da-nang.html"),
        [],
        5,
    )

    path.write_text('{"id": "b", "title": "Sông Hương", "text": "Sông Hương chảy qua thành phố Huế."}\n', "utf-8")
    report = _run(docs, tmp_path / "idx", embedder, prune=True)
    assert (report.updated, report.removed) == ([str(path)], [])
    store = open_store(tmp_path / "idx")
    assert sorted(s for s in store.documents if "bai.jsonl" in s) == [f"{path}#b"]
    assert remove([str(path)], index=tmp_path / "idx") == [f"{path}#b"]
