"""The default GGUF behind llama-cpp-python's own server (a real OpenAI-compatible server) as the LLM.

Beyond the contract each generator keeps (test_generator_contract.py): the same prompt gives the
same text and the same prompt size in-process and over HTTP, and `rag ask` about corpus/ gives the
same checked, cited answer. The server fixtures are in tests/answer/conftest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rag.answer.openai_generator import OpenAIGenerator
from rag.types import Message
from tests.conftest import CORPUS, model_cache_dir
from tests.fakes import run_cli

pytestmark = pytest.mark.models

MESSAGES = [
    Message("system", "Bạn là trợ lý. Chỉ trả lời bằng tiếng Việt, một câu."),
    Message("user", "Hà Nội là thủ đô của nước nào?"),
]
QUESTION = "Ban Tuyên giáo Đảng ủy Khối đã mở bao nhiêu lớp bồi dưỡng đối tượng kết nạp Đảng?"


def test_server_is_recognised_and_bans_cjk_by_logit_bias(http_generator: OpenAIGenerator, real_generator) -> None:  # noqa: ANN001
    info = http_generator.info()
    assert (info.flavour, info.exact_counts) == ("llama-cpp-python", True)
    assert http_generator.accepts_grammar() is True
    real_generator.count_prompt_tokens(MESSAGES)  # loads the model and its CJK scan
    assert info.ban is not None
    assert sorted(int(i) for i in info.ban) == sorted(int(i) for i in real_generator._cjk_ids)
    assert info.language_guard == f"logit_bias bans {len(info.ban)} CJK tokens"


def test_prompt_size_equals_the_in_process_count(http_generator: OpenAIGenerator, real_generator) -> None:  # noqa: ANN001
    longer = [*MESSAGES, Message("assistant", "Việt Nam."), Message("user", "Còn Huế thì sao? Trả lời ngắn.")]
    for messages in (MESSAGES, longer):
        assert http_generator.count_prompt_tokens(messages) == real_generator.count_prompt_tokens(messages)


def test_same_text_over_http_as_in_process(http_generator: OpenAIGenerator, real_generator) -> None:  # noqa: ANN001
    local_call, remote_call = (
        real_generator.stream(MESSAGES, max_tokens=48),
        http_generator.stream(MESSAGES, max_tokens=48),
    )
    local, remote = local_call.text(), remote_call.text()
    assert remote == local
    assert remote_call.usage.completion_tokens == local_call.usage.completion_tokens
    assert remote_call.usage.prompt_tokens == local_call.usage.prompt_tokens


def test_rag_ask_about_the_corpus_gives_the_same_checked_answer(
    llama_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("RAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_CACHE_DIR", str(model_cache_dir()))
    monkeypatch.chdir(tmp_path)
    assert run_cli("ingest", str(CORPUS), "--index", "idx")[0] == 0
    runs = {}
    for name, extra in (("in-process", []), ("server", ["--llm-url", llama_server])):
        code, out, err = run_cli("ask", QUESTION, "--json", "--index", "idx", *extra)
        assert (code, err) == (0, ""), name
        runs[name] = json.loads(out)
    local, remote = runs["in-process"], runs["server"]
    assert local["citations"] and local["answer"]  # a cited answer to compare
    for key in ("answer", "outcome", "refusal_reason", "sentences", "invalid_markers"):
        assert remote[key] == local[key], key
    assert [(c["marker"], c["chunk_id"]) for c in remote["citations"]] == [
        (c["marker"], c["chunk_id"]) for c in local["citations"]
    ]
    assert remote["usage"] == local["usage"]
