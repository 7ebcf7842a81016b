"""Shared fixtures: the real default models are loaded once per session (model tier)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


def model_cache_dir() -> Path:
    from rag.setup.config import load_settings

    return load_settings().cache_dir


@pytest.fixture(scope="session")
def real_embedder():
    from rag.index.embedding import SentenceTransformerEmbedder
    from rag.setup import models

    folder = models.ensure_embedder(model_cache_dir())
    return SentenceTransformerEmbedder(folder, model_id=models.EMBEDDER_ID)


@pytest.fixture(scope="session")
def real_generator():
    from rag.answer.generate import LlamaCppGenerator
    from rag.setup import models

    path = models.ensure_llm(model_cache_dir())
    return LlamaCppGenerator(path, model_id=models.LLM_ID, n_ctx=4096)


def corpus_assistant(embedder, generator, folder: Path, extra=()):  # noqa: ANN001, ANN201 - real models
    """An assistant over corpus/ plus extra documents, with the real models and the shipped check defaults."""
    from rag.answer.assistant import Assistant
    from rag.answer.prompting import PromptBuilder, PromptTemplates
    from rag.answer.settings import AnswerSettings
    from rag.checks.grounding import GroundingSettings
    from rag.index.faiss.store import IndexStore
    from rag.retrieval.retriever import HybridRetriever
    from rag.text.chunking import ChunkSettings, chunk_document, passage_text
    from rag.text.loaders import load

    store = IndexStore(folder, model_id=embedder.model_id, dim=embedder.dim, chunking={})
    files = [p for p in sorted(CORPUS.iterdir()) if p.suffix in (".txt", ".md") and p.stem != "SOURCES"]
    for doc in [*(load(p, source=f"corpus/{p.name}") for p in files), *extra]:
        chunks = chunk_document(doc, count_tokens=embedder.count_tokens, settings=ChunkSettings())
        store.add(doc, chunks, embedder.embed_passages([passage_text(c) for c in chunks]))
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=4096 - 384)
    return Assistant(
        HybridRetriever(store, embedder),
        generator,
        builder,
        settings=AnswerSettings(prompt_chars=1000, answer_prompt_tokens=700),
        grounding=GroundingSettings(),
    )
