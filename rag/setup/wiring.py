"""Builds concrete components from Settings; used by the CLI and the UI only."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.answer.assistant import Assistant, Retriever
from rag.answer.generate import Generator, LlamaCppGenerator
from rag.answer.openai_generator import OpenAIGenerator
from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.answer.settings import AnswerSettings
from rag.checks.answerability import AnswerabilityModel
from rag.checks.grounding import GroundingSettings
from rag.index.base import Store, StoreOptions, open_store
from rag.index.embedding import Embedder, SentenceTransformerEmbedder
from rag.ingest.files import FileLimits
from rag.ingest.pipeline import IngestReport, ProgressFn, ingest
from rag.retrieval.retriever import HybridRetriever, RetrievalSettings
from rag.setup import models
from rag.setup.config import Settings
from rag.text.chunking import ChunkSettings

log = logging.getLogger(__name__)


def apply_runtime_policy(settings: Settings) -> None:
    """Offline by default (the hub libraries must not even try the network), and OpenMP threads that sleep when idle."""
    if settings.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # the chat never reports usage or checks for updates
    # torch and llama.cpp both use OpenMP; spinning idle threads steal the 2 cores from each
    # other and from any other load (measured: query embedding 974 ms -> 25 ms, decode
    # 0.5-8 -> 19 tok/s under load). Must be set before either library is first imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def chunk_settings(settings: Settings) -> ChunkSettings:
    return ChunkSettings(max_tokens=settings.chunk_max_tokens, overlap_tokens=settings.chunk_overlap_tokens)


def retrieval_settings(settings: Settings) -> RetrievalSettings:
    return RetrievalSettings(
        mode=settings.retrieval,
        fusion=settings.fusion,
        rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight,
        lexical_weight=settings.lexical_weight,
        coverage_weight=settings.coverage_weight,
        candidates=settings.candidates,
        restore_diacritics=bool(settings.restore_diacritics),
    )


def store_options(settings: Settings) -> StoreOptions:
    return StoreOptions(ann_threshold=settings.ann_threshold, nprobe=settings.nprobe, milvus_uri=settings.milvus_uri)


def open_index(settings: Settings) -> Store:
    """The index at settings.index, in the store its manifest names (FAISS or Milvus)."""
    return open_store(settings.index, store_options(settings))


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    if settings.embedder == "default":
        folder = models.ensure_embedder(settings.cache_dir)
        return SentenceTransformerEmbedder(
            folder, model_id=models.EMBEDDER_ID, batch_size=settings.embed_batch_size, threads=settings.threads
        )
    return SentenceTransformerEmbedder(
        settings.embedder, batch_size=settings.embed_batch_size, threads=settings.threads
    )


def build_generator(settings: Settings) -> Generator:
    """The in-process GGUF, or the OpenAI-compatible server at llm_url."""
    if settings.llm_url:
        return build_server_generator(settings)
    if settings.llm == "default":
        path = models.ensure_llm(settings.cache_dir)
        return LlamaCppGenerator(
            path,
            model_id=models.LLM_ID,
            n_ctx=settings.n_ctx,
            n_threads=settings.threads,
            extra_buffers=settings.llm_extra_buffers,
        )
    return LlamaCppGenerator(
        Path(settings.llm), n_ctx=settings.n_ctx, n_threads=settings.threads, extra_buffers=settings.llm_extra_buffers
    )


def build_server_generator(settings: Settings) -> OpenAIGenerator:
    """An OpenAI-compatible server as the LLM; a local GGUF (if any) may share its vocabulary (CJK ban by id)."""
    local = models.llm_path(settings.cache_dir) if settings.llm == "default" else Path(settings.llm)
    return OpenAIGenerator(
        settings.llm_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
        vocab_gguf=local if local.is_file() else None,
    )


def run_ingest(
    settings: Settings,
    paths: list[Path],
    *,
    embedder: SentenceTransformerEmbedder | None = None,
    rebuild: bool = False,
    prune: bool = False,
    progress: ProgressFn | None = None,
) -> IngestReport:
    return ingest(
        paths,
        index=settings.index,
        embedder=embedder or build_embedder(settings),
        chunking=chunk_settings(settings),
        store=settings.store,
        store_options=store_options(settings),
        limits=FileLimits(max_file_bytes=settings.max_file_mb * 2**20 if settings.max_file_mb > 0 else None),
        rebuild=rebuild,
        prune=prune,
        progress=progress,
    )


def build_assistant(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
    with_generator: bool = True,
    wrap_retriever: Callable[[Retriever], Retriever] | None = None,
    store: Store | None = None,
) -> Assistant:
    """Open the index (or use the store given) and wire retriever, generator and prompts together
    (wrap_retriever: e.g. eval filters)."""
    embedder = embedder or build_embedder(settings)
    if store is None:
        store = open_index(settings)
    hybrid = HybridRetriever(store, embedder, retrieval_settings(settings))
    retriever: Retriever = hybrid
    if wrap_retriever is not None:
        retriever = wrap_retriever(retriever)
    if with_generator and generator is None:
        generator = build_generator(settings)
    elif not with_generator:
        generator = None
    builder = None
    if generator is not None:
        templates = PromptTemplates.load(settings.prompts_dir)
        if settings.copy_span != "off":
            templates.fill("answer_copy")  # a prompts folder without it: the error now, not mid-answer
        if settings.quote_first:
            templates.fill("answer_system_quote")
        builder = PromptBuilder(templates, max_prompt_tokens=settings.n_ctx - settings.max_tokens)
    return Assistant(
        retriever,
        generator,
        builder,
        settings=answer_settings(settings),
        grounding=grounding_settings(settings, embedder_id=store.model_id),
        spell=hybrid.dense_query,  # restores marks only when settings.restore_diacritics is on
    )


def answer_settings(settings: Settings) -> AnswerSettings:
    return AnswerSettings(
        k=settings.k,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        max_question_chars=settings.max_question_chars,
        prompt_chars=settings.prompt_chars,
        prompt_spread=bool(settings.prompt_spread),
        prompt_passages=settings.prompt_passages,
        answer_prompt_tokens=settings.answer_prompt_tokens or None,
        passage_order=settings.passage_order,
        reading=settings.reading,
        likelihood_weight=settings.likelihood_weight,
        key_weight=settings.key_weight,
        answer_form=settings.answer_form,
        copy_span=settings.copy_span,
        span_choice=settings.span_choice,
        span_margin=settings.span_margin,
        span_prior=settings.span_prior,
        quote_first=bool(settings.quote_first),
    )


def answerability_retrieval(settings: Settings) -> dict[str, Any]:
    """The retrieval settings the answerability model's signals depend on (recorded when it is fitted)."""
    keys = ("retrieval", "fusion", "dense_weight", "lexical_weight", "coverage_weight", "candidates", "k")
    return {key: getattr(settings, key) for key in (*keys, "restore_diacritics")}


def grounding_settings(settings: Settings, *, embedder_id: str | None = None) -> GroundingSettings | None:
    """Thresholds of the answer checks; the answerability model only for the embedder it was fitted with."""
    if not settings.check_answers:
        return None
    model = None if settings.answerability_threshold == 0 else AnswerabilityModel.load()
    why = None if model is None else model.mismatch(embedder_id, answerability_retrieval(settings))
    if why is not None:
        logging.getLogger(__name__).warning(
            "answerability check off: the model was %s; refit with benchmarks/fit_answerability.py", why
        )
        model = None
    return GroundingSettings(
        support_threshold=settings.support_threshold,
        evidence_threshold=settings.evidence_threshold,
        extractive_fallback=bool(settings.extractive_fallback),
        answerability=model,
        answerability_threshold=None if settings.answerability_threshold < 0 else settings.answerability_threshold,
        phrase_support=bool(settings.phrase_support),
        key_threshold=settings.key_threshold,
        extractive_key_threshold=None if settings.extractive_key_threshold < 0 else settings.extractive_key_threshold,
        keep_unchecked=bool(settings.keep_unchecked),
        hedge=bool(settings.hedge),
        evidence_hedge=None if settings.evidence_hedge < 0 else settings.evidence_hedge,
        verify_unanswerable=bool(settings.verify_unanswerable),
        refusal_fallback=bool(settings.refusal_fallback),
    )
