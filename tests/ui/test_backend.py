"""The Backend shared by every tab: questions and page loads never wait for an upload's ingest (threaded fakes)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from rag.ui.backend import Backend

from rag.setup.config import Settings
from tests.fakes import HashEmbedder, ThreadedGenerator

HANOI = "Hà Nội là thủ đô của Việt Nam từ năm 1976."
HUE = "Huế là cố đô của triều Nguyễn, bên bờ sông Hương."
UPLOAD = "Đà Lạt có hồ Xuân Hương và nhiều đồi thông."


class GatedEmbedder(HashEmbedder):
    """Embeds passages holding `gate_word` only once `release` is set (an upload that takes a while)."""

    def __init__(self, gate_word: str) -> None:
        super().__init__()
        self.gate_word = gate_word
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed_passages(self, texts) -> np.ndarray:  # noqa: ANN001
        if any(self.gate_word in t for t in texts):
            self.entered.set()
            assert self.release.wait(timeout=20), "test never released the upload"
        return super().embed_passages(texts)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ha-noi.txt").write_text(HANOI, encoding="utf-8")
    (corpus / "hue.txt").write_text(HUE, encoding="utf-8")
    return Settings(
        index=tmp_path / "index",
        corpus=corpus,
        uploads=tmp_path / "uploads",
        cache_dir=tmp_path / "cache",
        check_answers=0,
        k=1,
    )


def _backend(settings: Settings, embedder: HashEmbedder) -> Backend:
    replies = {"Thủ đô": f"{HANOI} [1]", "Đà Lạt": f"{UPLOAD} [1]"}
    backend = Backend(settings, embedder=embedder, generator=ThreadedGenerator(replies))
    backend.ingest_corpus()
    return backend


def test_questions_and_page_loads_go_on_while_an_upload_is_indexed(settings: Settings, tmp_path: Path) -> None:
    embedder = GatedEmbedder("Xuân Hương")
    backend = _backend(settings, embedder)
    upload = tmp_path / "da-lat.txt"
    upload.write_text(UPLOAD, encoding="utf-8")
    worker = threading.Thread(target=backend.ingest_uploads, args=([upload],))
    worker.start()
    assert embedder.entered.wait(timeout=10)  # the upload is being embedded now

    answered: list[str] = []
    asking = threading.Thread(target=lambda: answered.append(backend.assistant().ask("Thủ đô của Việt Nam?").text))
    asking.start()
    asking.join(timeout=5)
    try:
        assert answered == [f"{HANOI} [1]"]  # answered from the previous index, not after the upload
        labels = [label for label, _ in backend.documents()]  # the page load's document list
        assert len(labels) == 2 and all("da-lat" not in label for label in labels)
    finally:
        embedder.release.set()
        worker.join(timeout=10)
    sources = [source for _, source in backend.documents()]
    assert len(sources) == 3 and any(s.endswith("da-lat.txt") for s in sources)  # swapped in when complete
    assert backend.assistant().ask("Đà Lạt có hồ nào?").citations[0].chunk.text == UPLOAD


def test_an_upload_under_a_taken_name_is_indexed_beside_the_first(settings: Settings, tmp_path: Path) -> None:
    backend = _backend(settings, HashEmbedder())
    for n, text in enumerate((HANOI, UPLOAD)):
        folder = tmp_path / f"browser{n}"
        folder.mkdir()
        (folder / "ghi chú.txt").write_text(text, encoding="utf-8")
        _, stored = backend.ingest_uploads([folder / "ghi chú.txt"])
        assert [(s.path.name, s.renamed) for s in stored] == [("ghi chú.txt" if n == 0 else "ghi chú (2).txt", n == 1)]
    kept = sorted(p.name for p in settings.uploads.iterdir())
    assert kept == ["ghi chú (2).txt", "ghi chú.txt"]
    assert (settings.uploads / "ghi chú.txt").read_text(encoding="utf-8") == HANOI
    names = sorted(Path(source).name for _, source in backend.documents())
    assert names == ["ghi chú (2).txt", "ghi chú.txt", "ha-noi.txt", "hue.txt"]


def test_a_tab_stopped_mid_answer_frees_the_model_at_once(settings: Settings) -> None:
    from rag.ui.actions import _run
    from rag.ui.render import Turn

    long_reply = " ".join(f"Điều thứ {n} về thủ đô Hà Nội [1]." for n in range(60))
    generator = ThreadedGenerator({"Thủ đô": long_reply}, delay=0.01)
    backend = Backend(settings, embedder=HashEmbedder(), generator=generator)
    backend.ingest_corpus()
    question = "Thủ đô của Việt Nam?"
    outputs = _run([Turn(question, question)], backend.assistant().stream(question, max_tokens=400))
    next(outputs), next(outputs)
    outputs.close()  # what Gradio does on Stop, or when the tab goes away
    assert generator.lock.acquire(timeout=0.5)
    generator.lock.release()
    assert generator.produced[0] < 20  # of the 400 tokens it would have generated
