"""One SentenceTransformerEmbedder for chat queries and upload ingest at once (a threaded fake model)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rag.index.embedding import SentenceTransformerEmbedder
from tests.fakes import HashEmbedder


class BorrowCheckingTokenizer:
    """Raises like a Hugging Face fast tokenizer used by two threads at once (Rust RefCell "Already borrowed")."""

    def __init__(self) -> None:
        self._borrowed = False

    def __call__(self, texts, **options):  # noqa: ANN001, ANN003, ANN204 - mimics transformers' tokenizer call
        if self._borrowed:
            raise RuntimeError("Already borrowed")
        self._borrowed = True
        try:
            time.sleep(0.001)
            if isinstance(texts, str):
                return {"input_ids": texts.split()}
            return {"input_ids": [t.split() for t in texts]}
        finally:
            self._borrowed = False


class FakeSentenceTransformer:
    """encode() tokenizes through the shared tokenizer, then hashes words (HashEmbedder) into unit vectors."""

    prompts = {"query": "query: ", "passage": "passage: "}
    max_seq_length = 512

    def __init__(self) -> None:
        self.tokenizer = BorrowCheckingTokenizer()
        self._hash = HashEmbedder(dim=16)

    def get_embedding_dimension(self) -> int:
        return 16

    def encode(self, texts, **options):  # noqa: ANN001, ANN003, ANN201
        self.tokenizer(list(texts))
        return np.stack([self._hash.embed_query(t) for t in texts])


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> SentenceTransformerEmbedder:
    monkeypatch.setattr(SentenceTransformerEmbedder, "_build", lambda self: FakeSentenceTransformer())
    return SentenceTransformerEmbedder("fake/e5-like", batch_size=4)


def test_queries_and_ingest_share_one_embedder_without_already_borrowed(embedder: SentenceTransformerEmbedder) -> None:
    passages = [f"đoạn văn số {n} về Hà Nội và sông Hồng" + " dài" * (n % 7) for n in range(40)]
    queries = [f"câu hỏi {n} về Huế" for n in range(15)]
    expected_passages = embedder.embed_passages(passages)
    expected_queries = [embedder.embed_query(q) for q in queries]
    errors: list[BaseException] = []
    got: dict[str, object] = {}

    def run(name: str, work) -> None:  # noqa: ANN001
        try:
            got[name] = work()
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    jobs = {
        "ingest": lambda: embedder.embed_passages(passages),
        "chunking": lambda: [embedder.count_tokens(p) for p in passages],
        **{f"tab{t}": (lambda: [embedder.embed_query(q) for q in queries]) for t in range(3)},
    }
    threads = [threading.Thread(target=run, args=(name, work)) for name, work in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    np.testing.assert_array_equal(got["ingest"], expected_passages)
    assert got["chunking"] == [len(p.split()) for p in passages]
    for t in range(3):
        np.testing.assert_array_equal(np.stack(got[f"tab{t}"]), np.stack(expected_queries))


def test_passages_keep_their_order_across_batches(embedder: SentenceTransformerEmbedder) -> None:
    texts = ["ngắn", "một đoạn dài hơn nhiều", "vừa phải thôi", "a", "Hà Nội là thủ đô của Việt Nam"]
    together = embedder.embed_passages(texts)
    one_by_one = np.stack([embedder.embed_passages([t])[0] for t in texts])
    np.testing.assert_array_equal(together, one_by_one)
    assert together.dtype == np.float32 and together.shape == (5, 16)
