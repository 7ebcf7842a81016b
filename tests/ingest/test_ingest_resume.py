"""Interrupted ingests: the index on disk stays the last complete state and the next run resumes
without embedding the finished files again (crash, Ctrl-C, kill -9); one writer at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.errors import IndexLockedError
from rag.index.base import open_store, release
from rag.index.faiss.store import IndexStore
from rag.index.files import writer_lock
from rag.ingest.journal import JOURNAL
from rag.ingest.pipeline import ingest
from rag.text.chunking import ChunkSettings
from tests.fakes import HashEmbedder

REPO = Path(__file__).resolve().parents[2]
CHUNKING = ChunkSettings(max_tokens=32, overlap_tokens=8)
PLACES = [
    "Hà Nội",
    "Huế",
    "Đà Nẵng",
    "Hội An",
    "Đà Lạt",
    "Nha Trang",
    "Cần Thơ",
    "Hạ Long",
    "Sa Pa",
    "Vũng Tàu",
    "Phú Quốc",
    "Ninh Bình",
]


def _write_docs(root: Path, start: int, stop: int) -> list[str]:
    root.mkdir(exist_ok=True)
    sources = []
    for i in range(start, stop):
        path = root / f"{i:02d}.txt"
        path.write_text(f"{PLACES[i]}\n{PLACES[i]} có món đặc sản số {i} rất ngon.\n", encoding="utf-8")
        sources.append(str(path))
    return sources


def _journal_lines(index: Path) -> int:
    try:
        return (index / JOURNAL).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _wait_for(condition, process: subprocess.Popen, timeout: float = 15.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the ingest ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the ingest made no progress")
        time.sleep(0.02)


class _FailingEmbedder(HashEmbedder):
    """Raises `error` on the embedding call number `at` (1-based)."""

    def __init__(self, at: int, error: BaseException) -> None:
        super().__init__()
        self._at, self._error = at, error

    def embed_passages(self, texts):  # noqa: ANN001, ANN201
        if self.passage_calls + 1 == self._at:
            self.passage_calls += 1
            raise self._error
        return super().embed_passages(texts)


@pytest.mark.parametrize("kind", ["faiss", "milvus"])
def test_crash_keeps_the_index_and_the_next_run_resumes(tmp_path: Path, kind: str) -> None:
    docs, index = tmp_path / "docs", tmp_path / "idx"
    first = _write_docs(docs, 0, 2)
    ingest([docs], index=index, embedder=HashEmbedder(), chunking=CHUNKING, store=kind)
    manifest = (index / "manifest.json").read_bytes()
    added = _write_docs(docs, 2, 8)
    with pytest.raises(RuntimeError, match="out of memory"):
        ingest([docs], index=index, embedder=_FailingEmbedder(4, RuntimeError("out of memory")), chunking=CHUNKING)
    assert (index / "manifest.json").read_bytes() == manifest  # the last complete state, untouched
    assert sorted(open_store(index).documents) == first
    assert _journal_lines(index) == 1 + 3  # header + the three files embedded before the crash
    embedder = HashEmbedder()
    report = ingest([docs], index=index, embedder=embedder, chunking=CHUNKING)
    assert (report.added, report.resumed, report.unchanged) == (added, added[:3], first)
    assert (embedder.passages_embedded, report.chunks_embedded) == (3, 3)
    assert sorted(open_store(index).documents) == first + added
    assert len(open_store(index).search_lexical("đặc sản", 20)) == 8  # rows of the crashed run are not doubled
    assert not (index / JOURNAL).exists()  # committed: nothing left to resume


def test_ctrl_c_commits_the_finished_files(tmp_path: Path) -> None:
    docs, index = tmp_path / "docs", tmp_path / "idx"
    sources = _write_docs(docs, 0, 6)
    report = ingest(
        [docs], index=index, embedder=_FailingEmbedder(3, KeyboardInterrupt()), chunking=CHUNKING, prune=True
    )
    assert (report.interrupted, report.added, report.removed) == (True, sources[:2], [])
    assert sorted(IndexStore.load(index).documents) == sources[:2]
    assert not (index / JOURNAL).exists()
    embedder = HashEmbedder()
    report = ingest([docs], index=index, embedder=embedder, chunking=CHUNKING)
    assert (report.interrupted, report.added, report.unchanged) == (False, sources[2:], sources[:2])
    assert embedder.passages_embedded == 4


def test_ctrl_c_during_a_files_commit_waits_for_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs, index = tmp_path / "docs", tmp_path / "idx"
    sources = _write_docs(docs, 0, 4)
    real_add = IndexStore.add
    calls: list[str] = []

    def add(self: IndexStore, doc, chunks, vectors, **options) -> None:  # noqa: ANN001
        calls.append(doc.source)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C half-way through adding the second file
        real_add(self, doc, chunks, vectors, **options)

    monkeypatch.setattr(IndexStore, "add", add)
    report = ingest([docs], index=index, embedder=HashEmbedder(), chunking=CHUNKING)
    assert (report.interrupted, report.added, calls) == (True, sources[:2], sources[:2])
    store = IndexStore.load(index)
    assert (sorted(store.documents), len(store)) == (sources[:2], 2)


@pytest.mark.parametrize("kind", ["faiss", "milvus"])
def test_kill_9_mid_ingest_then_resume_and_query(tmp_path: Path, kind: str) -> None:
    docs, index = tmp_path / "docs", tmp_path / "idx"
    first = _write_docs(docs, 0, 2)
    ingest([docs], index=index, embedder=HashEmbedder(), chunking=CHUNKING, store=kind)
    complete = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    added = _write_docs(docs, 2, 12)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.slow_ingest", str(docs), str(index), kind],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for(lambda: _journal_lines(index) >= 1 + 3, process)  # three files checkpointed
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL
    finished = _journal_lines(index) - 1
    assert 3 <= finished < len(added)
    store = open_store(index)  # loads, and is exactly the state before the killed run
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == complete
    assert (sorted(store.documents), len(store)) == (first, 2)
    assert len(store.search(HashEmbedder().embed_query("món đặc sản"), 20)) == 2  # the killed run's rows are unseen
    release(store)  # Milvus Lite: one process holds the file at a time
    embedder = HashEmbedder()
    report = ingest([docs], index=index, embedder=embedder, chunking=CHUNKING)  # the lock died with the process
    assert (report.added, report.resumed) == (added, added[:finished])
    assert embedder.passages_embedded == len(added) - finished  # finished files were not embedded again
    store = open_store(index)
    assert len(store) == 12 and len(store.search(embedder.embed_query("món đặc sản"), 20)) == 12
    for i in (2, 11):  # one file finished before the kill, one after
        [(chunk, _)] = store.search(embedder.embed_query(f"{PLACES[i]} có món đặc sản số {i}"), 1)
        assert chunk.text == f"{PLACES[i]}\n{PLACES[i]} có món đặc sản số {i} rất ngon."


def test_ctrl_c_in_the_cli_exits_130_and_says_how_to_resume(tmp_path: Path) -> None:
    sources = _write_docs(tmp_path / "docs", 0, 12)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.slow_ingest", "--cli", "ingest", "docs", "--index", "idx"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: _journal_lines(tmp_path / "idx") >= 1 + 2, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert err.endswith(
        "rag: interrupted; the index holds the files finished so far. "
        "Run `rag ingest docs --index idx` again to resume\n"
    )
    done = int(out.split(" added")[0].split(": ")[1])
    assert 2 <= done < 12
    assert (
        sorted(IndexStore.load(tmp_path / "idx").documents) == [s.replace(f"{tmp_path}/", "") for s in sources][:done]
    )


def test_a_second_writer_fails_fast_naming_the_lock_and_its_holder(tmp_path: Path) -> None:
    docs, index = tmp_path / "docs", tmp_path / "idx"
    sources = _write_docs(docs, 0, 2)
    embedder = HashEmbedder()
    with writer_lock(index):
        with pytest.raises(IndexLockedError) as info:
            ingest([docs], index=index, embedder=embedder, chunking=CHUNKING)
    message = str(info.value)
    assert message.startswith(
        f"another process is writing {index} (lock {index / '.lock'} held by pid {os.getpid()}, `"
    )
    assert message.endswith("): wait for it to finish (or stop it) and retry")
    assert embedder.passage_calls == 0
    assert (index / ".lock").read_text(encoding="utf-8") == ""  # released and cleared
    assert ingest([docs], index=index, embedder=embedder, chunking=CHUNKING).added == sources
