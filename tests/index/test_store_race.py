"""A writer's cleanup never deletes the files a concurrent reader is loading (issue 13)."""

from __future__ import annotations

import threading
from pathlib import Path

from rag.index.faiss import segments as faiss_segments
from rag.index.faiss.store import IndexStore
from rag.types import Chunk, Document
from tests.fakes import HashEmbedder

DIM = 16
EMBEDDER = HashEmbedder(dim=DIM)


def _add(store: IndexStore, n: int) -> None:
    source = f"tai-lieu-{n}.txt"
    text = f"Tài liệu số {n} nói về phở Hà Nội."
    doc = Document(source=source, title=f"Tài liệu {n}", text=text, sha256=f"{n:064d}")
    store.add(
        doc, [Chunk(f"{source}-00000", source, doc.title, text, 0, len(text), 8)], EMBEDDER.embed_passages([text])
    )


def test_reader_loading_while_a_writer_compacts_gets_the_state_it_started_with(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "idx"
    store = IndexStore(path, model_id=EMBEDDER.model_id, dim=DIM, chunking={"max_tokens": 200, "overlap_tokens": 40})
    _add(store, 0)
    store.save()
    old_files = {p.name for p in path.iterdir() if p.name.startswith("chunks-")}
    reading, resume = threading.Event(), threading.Event()
    real_chunk_file = faiss_segments.ChunkFile

    def slow_chunk_file(*args, **kwargs):  # the reader has read the manifest and is half-way through its files
        if threading.current_thread().name == "reader":
            reading.set()
            assert resume.wait(10)
        return real_chunk_file(*args, **kwargs)

    monkeypatch.setattr(faiss_segments, "ChunkFile", slow_chunk_file)
    loaded: list[object] = []
    reader = threading.Thread(target=lambda: loaded.append(_load(path)), name="reader")
    reader.start()
    assert reading.wait(10)
    writer = IndexStore.load(path)
    _add(writer, 1)
    writer.save(compact=True)  # a new base: every file of the reader's generation is unreferenced now
    resume.set()
    reader.join(10)
    (result,) = loaded
    assert isinstance(result, IndexStore), result
    assert sorted(result.documents) == ["tai-lieu-0.txt"]
    assert [c.chunk_id for c in result.chunks()] == ["tai-lieu-0.txt-00000"]
    assert old_files <= {p.name for p in path.iterdir()}  # left for a later save, not deleted under the reader
    _add(writer, 2)
    writer.save(compact=True)  # no reader now: the old generations go
    assert {p.name for p in path.iterdir() if p.name.startswith("chunks-")} == {
        writer._segments[0]["files"]["chunks"]  # noqa: SLF001
    }
    assert sorted(IndexStore.load(path).documents) == ["tai-lieu-0.txt", "tai-lieu-1.txt", "tai-lieu-2.txt"]


def _load(path: Path) -> object:
    try:
        return IndexStore.load(path)
    except Exception as e:  # noqa: BLE001 - the test reports what the reader got
        return e


def test_a_loaded_store_keeps_serving_after_a_writer_deletes_its_files(tmp_path: Path) -> None:
    """Segment files are mapped, never changed in place: a server's store reads its generation after
    another process compacted the index and deleted that generation's files."""
    path = tmp_path / "idx"
    store = IndexStore(path, model_id=EMBEDDER.model_id, dim=DIM, chunking={"max_tokens": 200, "overlap_tokens": 40})
    for n in range(3):
        _add(store, n)
    store.save()
    serving = IndexStore.load(path)
    old_files = {p.name for p in path.iterdir() if p.name.startswith(("chunks-", "lexical-"))}
    writer = IndexStore.load(path)
    writer.remove("tai-lieu-1.txt")
    _add(writer, 3)
    writer.save(compact=True)
    assert old_files.isdisjoint(p.name for p in path.iterdir())  # deleted: no load held the readers lock
    assert [c.chunk_id for c, _ in serving.search_lexical("tài liệu số 1", 1)] == ["tai-lieu-1.txt-00000"]
    assert [c.text for c in serving.chunks_of("tai-lieu-2.txt")] == ["Tài liệu số 2 nói về phở Hà Nội."]
    assert sorted(IndexStore.load(path).documents) == ["tai-lieu-0.txt", "tai-lieu-2.txt", "tai-lieu-3.txt"]
