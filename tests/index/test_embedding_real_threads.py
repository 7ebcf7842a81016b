"""Model tier: the real embedder (a Hugging Face fast tokenizer) serves queries and ingest from threads at once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rag.ingest.discovery import discover
from rag.text.loaders import load
from tests.conftest import CORPUS

pytestmark = pytest.mark.models


def test_queries_ingest_and_token_counts_at_once_equal_one_at_a_time(real_embedder) -> None:  # noqa: ANN001
    files, _ = discover([CORPUS])
    texts = [p for path in files for p in load(path).text.split("\n\n") if p.strip()][:48]
    queries = ["Tên thật của An Dương Vương là gì?", "Nước sôi ở bao nhiêu độ?", "Dãy Trường Sơn dài bao nhiêu?"]
    passages = real_embedder.embed_passages(texts)
    vectors = np.stack([real_embedder.embed_query(q) for q in queries])
    counts = [real_embedder.count_tokens(t) for t in texts]
    errors: list[BaseException] = []
    got: dict[str, object] = {}

    def run(name: str, work) -> None:  # noqa: ANN001
        try:
            got[name] = work()
        except BaseException as e:  # noqa: BLE001 - asserted below ("Already borrowed" before the fix)
            errors.append(e)

    jobs = {
        "ingest": lambda: real_embedder.embed_passages(texts),
        "chunking": lambda: [real_embedder.count_tokens(t) for t in texts],
        **{f"tab{i}": (lambda: np.stack([real_embedder.embed_query(q) for q in queries * 3])) for i in range(3)},
    }
    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    np.testing.assert_allclose(got["ingest"], passages, atol=1e-5)
    assert got["chunking"] == counts
    for i in range(3):
        np.testing.assert_allclose(got[f"tab{i}"], np.concatenate([vectors] * 3), atol=1e-5)
