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
