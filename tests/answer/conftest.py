"""The real OpenAI-compatible server for the model tier: llama-cpp-python's own, over the default GGUF,
started once per session and shared by the generator contract suite and the HTTP-vs-in-process tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    from rag.answer.llama_server import LlamaServer
    from rag.setup import models
    from tests.conftest import model_cache_dir
    from tests.serving import free_port

    path = models.ensure_llm(model_cache_dir())
    with LlamaServer(path, port=free_port(), n_ctx=4096) as url:
        yield url


@pytest.fixture(scope="session")
def http_generator(llama_server: str):  # noqa: ANN201 - an OpenAIGenerator
    from rag.answer.openai_generator import OpenAIGenerator
    from rag.setup import models
    from tests.conftest import model_cache_dir

    return OpenAIGenerator(llama_server, vocab_gguf=models.llm_path(model_cache_dir()), timeout=300)
