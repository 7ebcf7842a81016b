#!/usr/bin/env python
"""Measure the pipeline on the sample corpus with the real default models; nothing is hard-coded.

Sections: ingestion, embedding throughput (raw model vs pipeline), incremental re-ingest,
retrieval latency, LLM speed (raw llama-cpp-python vs inside the Assistant), prompt sizes.
Uses a temporary index directory; indexes/default is never touched.

    python benchmarks/bench_pipeline.py [--questions N] [--repeats R] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from rag.answer.assistant import check_question
from rag.answer.cite import clean_markers
from rag.answer.llama_cpu import current_path, model_params_override
from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.index.faiss.store import IndexStore
from rag.ingest.discovery import discover
from rag.ingest.pipeline import IngestReport
from rag.retrieval.retriever import DenseRetriever
from rag.setup import models, wiring
from rag.setup.config import Settings, load_settings
from rag.text.chunking import chunk_document, passage_text
from rag.text.loaders import load
from rag.types import Answer, Message

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
LLM_MAX_TOKENS = 128  # for the raw call and the assistant alike, so both produce the same completion

# (question, file in corpus/ that holds the answer). Interleaved by document, so the first
# N questions sent to the LLM cover different documents.
QUESTIONS: list[tuple[str, str]] = [
    ("Dãy Trường Sơn dài khoảng bao nhiêu ki-lô-mét?", "day-truong-son.md"),
    # Second question = the fixed prompt of section 5: its answer runs to the 128-token cap, so decode
    # speed is measured over many tokens.
    ("Kể lại truyền thuyết về nỏ thần và sự sụp đổ của nước Âu Lạc.", "an-duong-vuong.md"),
    ("Góc liên kết của phân tử nước là bao nhiêu độ?", "nuoc.md"),
    (
        "Hội nghị tổng kết công tác tuyên giáo năm 2016 của Đảng bộ Khối các cơ quan Trung ương diễn ra ngày nào?",
        "tuyen-giao-khoi-trung-uong-2016.txt",
    ),
    (
        "Năm 2021 Ban Tuyên giáo tham mưu mở bao nhiêu lớp bồi dưỡng đối tượng kết nạp Đảng?",
        "tuyen-giao-dang-uy-khoi-tinh-2021.txt",
    ),
    ("Trường Sơn Bắc và Trường Sơn Nam được ngăn cách bởi đâu?", "day-truong-son.md"),
    ("An Dương Vương giao cho tướng nào xây thành Cổ Loa?", "an-duong-vuong.md"),
    ("Nước có khối lượng riêng lớn nhất ở nhiệt độ nào?", "nuoc.md"),
    ("Ai là Trưởng Ban Tuyên giáo Đảng ủy Khối dự hội nghị tổng kết năm 2016?", "tuyen-giao-khoi-trung-uong-2016.txt"),
    ("Trang thông tin điện tử Đảng ủy Khối thu hút bao nhiêu lượt truy cập?", "tuyen-giao-dang-uy-khoi-tinh-2021.txt"),
    ("Đỉnh núi cao nhất của Trường Sơn Nam là đỉnh nào?", "day-truong-son.md"),
    ("Tên thật của An Dương Vương là gì?", "an-duong-vuong.md"),
    ("Bao nhiêu phần trăm lượng nước trên Trái Đất là nước ngọt?", "nuoc.md"),
    (
        "Năm 2016 có bao nhiêu cán bộ, đảng viên được học tập, quán triệt nghị quyết?",
        "tuyen-giao-khoi-trung-uong-2016.txt",
    ),
    (
        "Bao nhiêu tập thể và cá nhân được khen thưởng vì học tập và làm theo Bác giai đoạn 2016 - 2020?",
        "tuyen-giao-dang-uy-khoi-tinh-2021.txt",
    ),
    ("Động Phong Nha nằm trong khối núi nào?", "day-truong-son.md"),
    ("Thẻ ngọc An Dương hành bảo được tìm thấy ở thành phố nào?", "an-duong-vuong.md"),
    ("Vì sao nước đá nổi trên mặt nước?", "nuoc.md"),
    ("Đảng bộ Khối các cơ quan Trung ương được thành lập ngày nào?", "tuyen-giao-khoi-trung-uong-2016.txt"),
    ("Tỉnh Trà Vinh được tái lập vào năm nào?", "tuyen-giao-dang-uy-khoi-tinh-2021.txt"),
]


# ---------------------------------------------------------------- output
class Report:
    """Collects results for --json and prints labelled lines as they are measured otherwise."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.data: dict[str, Any] = {}

    def section(self, key: str, title: str) -> dict[str, Any]:
        self.data[key] = {}
        if not self.as_json:
            print(f"\n== {title}", flush=True)
        return self.data[key]

    def put(self, bucket: dict[str, Any], key: str, label: str, value: Any, unit: str = "") -> None:
        if isinstance(value, float):
            bucket[key] = round(value, 4) if math.isfinite(value) else None  # JSON has no NaN
        else:
            bucket[key] = value
        if not self.as_json:
            shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
            print(f"  {label:<50} {shown} {unit}".rstrip(), flush=True)

    def note(self, text: str) -> None:
        """Progress and explanations: stdout in text mode, stderr in JSON mode."""
        print(("  " if not self.as_json else "") + text, file=sys.stderr if self.as_json else sys.stdout, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median_run(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Median wall time of `repeats` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        seconds, result = timed(fn)
        times.append(seconds)
    return statistics.median(times), result


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _busy() -> str:
    """A description of CPU contention at start, or '' when the machine looks idle."""
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        return ""
    cores = os.cpu_count() or 1
    return f"1-minute load average {load1:.2f} on {cores} cores" if load1 > 0.5 * cores else ""


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# ---------------------------------------------------------------- sections
def header(rep: Report, settings: Settings, args: argparse.Namespace) -> None:
    h = rep.section("header", "Machine and models")
    rep.put(h, "date", "date", dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    rep.put(h, "cpu_count", "CPU count (os.cpu_count)", os.cpu_count())
    rep.put(h, "cpu_model", "CPU model", cpu_model())
    rep.put(h, "platform", "platform", platform.platform())
    rep.put(h, "python", "python", platform.python_version())
    for dist in ("torch", "sentence-transformers", "llama_cpp_python", "faiss-cpu"):
        rep.put(h, dist, dist, version(dist))
    rep.put(h, "embedder_id", "embedder", models.EMBEDDER_ID if settings.embedder == "default" else settings.embedder)
    rep.put(h, "llm_id", "LLM", models.LLM_ID if settings.llm == "default" else settings.llm)
    rep.put(h, "threads", "threads setting (0 = all cores)", settings.threads)
    rep.put(h, "k", "passages per question (k)", settings.k)
    rep.put(h, "retrieval", "assistant's retrieval mode", settings.retrieval)
    rep.put(h, "n_ctx", "LLM context", settings.n_ctx, "tokens")
    rep.put(
        h,
        "chunk_max_tokens",
        "chunk size / overlap",
        f"{settings.chunk_max_tokens} / {settings.chunk_overlap_tokens}",
        "embedder tokens",
    )
    rep.put(h, "embed_batch_size", "embedding batch size", settings.embed_batch_size)
    rep.put(h, "llm_max_tokens", "max_tokens of every LLM call here", LLM_MAX_TOKENS, "tokens")
    rep.put(h, "repeats", "repeats of ingest/encode timings (median)", args.repeats)
    for var in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY"):  # both change CPU timings a lot under contention
        rep.put(h, var, f"env {var}", os.environ.get(var, "(unset)"))
    rep.put(h, "load_average_start", "load average at start (1/5/15 min)", load_average())
    busy = _busy()
    h["busy_warning"] = busy or None
    if busy:
        rep.note(f"warning: {busy}; other processes share the CPU, so times below are pessimistic")


def bench_ingest(rep: Report, settings: Settings, embedder: Any, args: argparse.Namespace) -> dict[str, Any]:
    files, _ = discover([CORPUS])

    def rebuild() -> IngestReport:
        return wiring.run_ingest(settings, [CORPUS], embedder=embedder, rebuild=True)  # -> rag.ingest.ingest

    s = rep.section(
        "ingest", "1. Ingestion (rag.ingest.ingest via wiring.run_ingest, rebuild into a temp index, model loaded)"
    )
    seconds, report = median_run(args.repeats, rebuild)
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed}")
    rep.put(s, "files", "files", len(files))
    rep.put(s, "chars", "characters", sum(len(load(f).text) for f in files))
    rep.put(s, "chunks", "chunks", report.total_chunks)
    rep.put(s, "seconds", "ingest time", seconds, "s")
    rep.put(s, "chunks_per_s", "ingest throughput", report.total_chunks / seconds, "chunks/s")
    return {"seconds": seconds, "chunks": report.total_chunks}


def bench_embedding(
    rep: Report, settings: Settings, embedder: Any, ingest_result: dict[str, Any], args: argparse.Namespace
) -> None:
    chunks = open_store(settings).chunks()
    model = embedder._load()  # the raw SentenceTransformer
    prefix = (getattr(model, "prompts", {}) or {}).get("passage", "")
    texts = [prefix + passage_text(c) for c in chunks]
    lengths = model.tokenizer(texts, add_special_tokens=True, truncation=True, max_length=model.max_seq_length)
    tokens = sum(len(ids) for ids in lengths["input_ids"])
    batch = settings.embed_batch_size

    def encode() -> Any:
        return model.encode(
            texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    raw_s, _ = median_run(args.repeats, encode)

    # Where the rest of the pipeline time goes: loading + chunking (token counting) measured alone.
    files, _ = discover([CORPUS])
    chunking = wiring.chunk_settings(settings)

    def load_and_chunk() -> int:
        return sum(len(chunk_document(load(f), count_tokens=embedder.count_tokens, settings=chunking)) for f in files)

    chunk_s, _ = median_run(args.repeats, load_and_chunk)

    s = rep.section("embedding", "2. Embedding throughput: raw SentenceTransformer.encode vs whole ingest pipeline")
    n = len(texts)
    rep.put(s, "passages", "passages (same texts the pipeline embeds)", n)
    rep.put(s, "passage_tokens", "passage tokens (with prefix + special tokens)", tokens)
    rep.put(s, "mean_tokens_per_passage", "mean tokens per passage", tokens / n)
    rep.put(s, "batch_size", "batch size", batch)
    rep.put(s, "raw_seconds", "raw encode time", raw_s, "s")
    rep.put(s, "raw_chunks_per_s", "raw encode throughput", n / raw_s, "chunks/s")
    rep.put(s, "raw_tokens_per_s", "raw encode throughput", tokens / raw_s, "tokens/s")
    pipe_s = ingest_result["seconds"]
    rep.put(s, "pipeline_seconds", "whole ingest pipeline time", pipe_s, "s")
    rep.put(s, "pipeline_chunks_per_s", "whole ingest pipeline throughput", n / pipe_s, "chunks/s")
    rep.put(s, "pipeline_tokens_per_s", "whole ingest pipeline throughput", tokens / pipe_s, "tokens/s")
    rep.put(s, "pipeline_over_raw", "ratio pipeline/raw (time)", pipe_s / raw_s, "x")
    rep.put(s, "load_and_chunk_seconds", "of the pipeline: load + chunk alone", chunk_s, "s")
    rest = pipe_s - raw_s - chunk_s  # by difference, so as noisy as the two medians it comes from
    rep.put(s, "other_seconds", "of the pipeline: rest (hash, FAISS, save), by difference", rest, "s")


def bench_incremental(rep: Report, settings: Settings, embedder: Any, args: argparse.Namespace) -> None:
    def again() -> IngestReport:
        return wiring.run_ingest(settings, [CORPUS], embedder=embedder)

    seconds, report = median_run(args.repeats, again)
    s = rep.section("incremental", "3. Incremental re-ingest of unchanged files")
    rep.put(s, "unchanged_files", "files unchanged", len(report.unchanged))
    rep.put(s, "chunks_embedded", "chunks embedded", report.chunks_embedded)
    rep.put(s, "seconds", "re-ingest time", seconds, "s")


def latency_run(retriever: Any, k: int) -> tuple[list[float], int]:
    """Per-question search latency (ms) and how many questions find their source document in the top k."""
    retriever.search("khởi động", k)  # warm-up, not timed
    times_ms, found = [], 0
    for question, expected in QUESTIONS:
        seconds, hits = timed(lambda q=question: retriever.search(q, k))
        times_ms.append(seconds * 1000)
        found += any(Path(h.chunk.source).name == expected for h in hits)
    return times_ms, found


def bench_retrieval(rep: Report, settings: Settings, embedder: Any) -> None:
    k = settings.k
    dense_ms, dense_found = latency_run(DenseRetriever(open_store(settings), embedder), k)
    # What the assistant actually uses (settings.retrieval, hybrid by default): for comparison.
    product = wiring.build_assistant(settings, embedder=embedder, with_generator=False).retriever
    product_ms, product_found = latency_run(product, k)
    s = rep.section("retrieval", f"4. Retrieval latency: DenseRetriever.search, k={k}, query embedding included")
    rep.put(s, "questions", "questions", len(QUESTIONS))
    rep.put(s, "median_ms", "median latency", statistics.median(dense_ms), "ms")
    rep.put(s, "p95_ms", "p95 latency (nearest rank)", nearest_rank(dense_ms, 0.95), "ms")
    rep.put(s, "max_ms", "max latency", max(dense_ms), "ms")
    rep.put(s, "expected_doc_in_top_k", f"expected document in top {k}", f"{dense_found}/{len(QUESTIONS)}")
    name = f"{type(product).__name__} ({settings.retrieval})"
    rep.put(s, "product_retriever", "assistant's retriever, for comparison", name)
    rep.put(s, "product_median_ms", "  median latency", statistics.median(product_ms), "ms")
    rep.put(s, "product_p95_ms", "  p95 latency (nearest rank)", nearest_rank(product_ms, 0.95), "ms")
    rep.put(s, "product_expected_doc_in_top_k", f"  expected document in top {k}", f"{product_found}/{len(QUESTIONS)}")


def open_store(settings: Settings) -> IndexStore:
    return IndexStore.load(settings.index, ann_threshold=settings.ann_threshold, nprobe=settings.nprobe)


def render_prompt(formatter: Any, messages: list[Message]) -> str:
    return formatter(messages=[{"role": m.role, "content": m.content} for m in messages]).prompt


def bench_llm(rep: Report, settings: Settings, embedder: Any, n_questions: int) -> None:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm_settings = settings.replace(max_tokens=LLM_MAX_TOKENS)
    gguf = models.ensure_llm(settings.cache_dir) if settings.llm == "default" else Path(settings.llm)
    questions = [q for q, _ in QUESTIONS[:n_questions]]
    warm_q, fixed_q = (check_question(q, max_chars=settings.max_question_chars) for q in questions[:2])

    # Bring the GGUF into the page cache, so neither side below pays for disk reads.
    cache_s, _ = timed(lambda: _read_through(gguf))
    threads = settings.threads or os.cpu_count() or 1
    rep.note(f"(LLM section: {len(questions)} assistant answers + 2 raw calls; about 20-30 s each on 2 cores)")

    # The assistant as the CLI builds it; its LLM is loaded lazily, on its first answer below.
    assistant = wiring.build_assistant(llm_settings, embedder=embedder)

    # ---- raw llama-cpp-python: same parameters as LlamaCppGenerator, prompt rendered from the GGUF's template
    # the same CPU path as the assistant's generator: on a Xeon with AMX, extra weight buffers off (llama.cpp#20824)
    cpu = current_path(settings.llm_extra_buffers)

    def load() -> Llama:
        with model_params_override(use_extra_bufts=cpu.extra_buffers):
            return Llama(
                model_path=str(gguf),
                n_ctx=settings.n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                seed=0,
                verbose=False,
            )

    load_s, llm = timed(load)
    eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
    formatter = Jinja2ChatFormatter(template=llm.metadata["tokenizer.chat_template"], eos_token=eos, bos_token="")
    templates = PromptTemplates.load(settings.prompts_dir)
    builder = PromptBuilder(templates, max_prompt_tokens=llm_settings.n_ctx - llm_settings.max_tokens)  # as wiring

    def count(messages: list[Message]) -> int:
        return len(llm.tokenize(render_prompt(formatter, messages).encode("utf-8"), add_bos=False, special=True))

    def prompt_for(question: str) -> tuple[str, int]:
        # The passages the assistant itself retrieves for this question (its generator stays unloaded).
        hits = list(assistant.ask(question, retrieve_only=True).retrieved)
        prompt = builder.build(question, hits, count)
        return render_prompt(formatter, prompt.messages), len(prompt.hits)

    # Warm-up with the first question's prompt (1 token), as the assistant's warm-up answer does below:
    # both sides then hold the same KV-cache prefix (system prompt) when the timed prompt comes.
    list(llm.create_completion(prompt_for(warm_q)[0], max_tokens=1, temperature=0.0, stream=True))
    fixed_prompt, fixed_passages = prompt_for(fixed_q)
    prompt_tokens = len(llm.tokenize(fixed_prompt.encode("utf-8"), add_bos=False, special=True))
    start = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    finish = None
    for chunk in llm.create_completion(
        fixed_prompt,
        max_tokens=LLM_MAX_TOKENS,
        temperature=0.0,
        top_k=1,
        top_p=1.0,
        min_p=0.0,
        repeat_penalty=1.0,
        stream=True,
    ):
        if first is None:
            first = time.perf_counter() - start
        choice = chunk["choices"][0]
        pieces.append(choice["text"])
        finish = choice["finish_reason"] or finish
    raw_total = time.perf_counter() - start
    # Tokens in the KV cache after the call = prompt + evaluated completion tokens; the last token
    # of a length-capped completion is sampled but never evaluated.
    raw_completion = llm.n_tokens - prompt_tokens + (1 if finish == "length" else 0)
    raw_text = "".join(pieces).strip()
    raw_ttft = first if first is not None else raw_total
    raw_decode = raw_completion / (raw_total - raw_ttft) if raw_total > raw_ttft else float("nan")
    llm.close()  # frees the model and KV cache before the assistant loads its own

    # ---- the assistant, as the CLI built it above
    answers: list[tuple[str, Answer, float]] = []
    fixed_answer: Answer | None = None
    fixed_visible_ms = 0.0
    for i, question in enumerate(questions):
        start = time.perf_counter()
        visible: float | None = None
        for event in assistant.stream(question):
            if isinstance(event, Answer):
                answers.append((question, event, (time.perf_counter() - start) * 1000))
            elif visible is None:
                visible = (time.perf_counter() - start) * 1000
        if i == 1:
            fixed_answer, fixed_visible_ms = answers[-1][1], visible or answers[-1][2]
    assert fixed_answer is not None and fixed_answer.timings.first_token_ms is not None

    s = rep.section("llm", f"5. LLM on a fixed prompt ({fixed_q!r}), temperature 0, max_tokens {LLM_MAX_TOKENS}")
    rep.put(s, "gguf_page_cache_seconds", "read GGUF once into the page cache", cache_s, "s")
    rep.put(s, "raw_load_seconds", "raw: Llama() load", load_s, "s")
    rep.put(s, "prompt_tokens", "prompt tokens", prompt_tokens)
    rep.put(s, "raw_completion_tokens", "raw: completion tokens", raw_completion)
    rep.put(s, "raw_ttft_ms", "raw: time to first token", raw_ttft * 1000, "ms")
    rep.put(
        s, "raw_prefill_tokens_per_s", "raw: prompt tokens / time to first token", prompt_tokens / raw_ttft, "tokens/s"
    )
    rep.put(s, "raw_decode_tokens_per_s", "raw: decode", raw_decode, "tokens/s")
    rep.put(s, "raw_total_ms", "raw: total", raw_total * 1000, "ms")
    a = fixed_answer
    assert a.timings.first_token_ms is not None
    a_decode_s = (a.timings.total_ms - a.timings.first_token_ms) / 1000
    a_decode = a.usage.completion_tokens / a_decode_s if a_decode_s > 0 else float("nan")
    rep.put(s, "assistant_prompt_tokens", "assistant: prompt tokens", a.usage.prompt_tokens)
    rep.put(s, "assistant_completion_tokens", "assistant: completion tokens", a.usage.completion_tokens)
    rep.put(s, "assistant_retrieve_ms", "assistant: retrieval", a.timings.retrieve_ms, "ms")
    rep.put(s, "assistant_ttft_ms", "assistant: time to first token", a.timings.first_token_ms, "ms")
    rep.put(s, "assistant_first_visible_ms", "assistant: first text yielded to the caller", fixed_visible_ms, "ms")
    rep.put(s, "assistant_decode_tokens_per_s", "assistant: decode", a_decode, "tokens/s")
    rep.put(s, "assistant_total_ms", "assistant: total", a.timings.total_ms, "ms")
    rep.put(
        s, "ttft_ratio", "ratio assistant/raw: time to first token", a.timings.first_token_ms / (raw_ttft * 1000), "x"
    )
    rep.put(s, "decode_ratio", "ratio assistant/raw: decode tokens/s", a_decode / raw_decode, "x")
    rep.put(s, "same_prompt", "same prompt tokens (raw vs assistant)", _yes(prompt_tokens == a.usage.prompt_tokens))
    rep.put(
        s,
        "same_text",
        "same completion text (raw vs assistant raw text)",
        _yes(clean_markers(raw_text, fixed_passages)[0] == a.text),
    )
    if not rep.as_json:
        rep.note(f"raw answer:       {raw_text[:160]!r}")
        rep.note(f"assistant answer: {a.text[:160]!r}")

    s = rep.section("answers", f"6. Prompt and completion tokens over {len(answers)} questions (assistant)")
    prompt_counts = [ans.usage.prompt_tokens for _, ans, _ in answers]
    completion_counts = [ans.usage.completion_tokens for _, ans, _ in answers]
    rep.put(s, "questions", "questions", len(answers))
    rep.put(s, "prompt_tokens_mean", "prompt tokens per answer, mean", statistics.fmean(prompt_counts), "tokens")
    rep.put(s, "prompt_tokens_max", "prompt tokens per answer, max", max(prompt_counts), "tokens")
    rep.put(
        s, "completion_tokens_mean", "completion tokens per answer, mean", statistics.fmean(completion_counts), "tokens"
    )
    rep.put(s, "completion_tokens_max", "completion tokens per answer, max", max(completion_counts), "tokens")
    rep.put(
        s,
        "capped",
        f"answers stopped by the {LLM_MAX_TOKENS}-token cap",
        sum(c >= LLM_MAX_TOKENS for c in completion_counts),
    )
    rep.put(
        s,
        "cited",
        "answers with at least one valid citation",
        f"{sum(bool(ans.citations) for _, ans, _ in answers)}/{len(answers)}",
    )
    rows = []
    for i, (question, ans, wall_ms) in enumerate(answers):
        row = {
            "question": question,
            "prompt_tokens": ans.usage.prompt_tokens,
            "completion_tokens": ans.usage.completion_tokens,
            "ttft_ms": round(ans.timings.first_token_ms or 0.0, 1),
            "total_ms": round(wall_ms, 1),
            "answer": ans.text,
            "note": "first call: includes LLM load, cold KV cache" if i == 0 else "",
        }
        rows.append(row)
        if not rep.as_json:
            rep.note(
                f"[{i + 1}] prompt {row['prompt_tokens']:>5} tok, completion {row['completion_tokens']:>4} tok, "
                f"TTFT {row['ttft_ms'] / 1000:6.1f} s, total {row['total_ms'] / 1000:6.1f} s  {question[:60]}"
                + (f"  ({row['note']})" if row["note"] else "")
            )
            rep.note(f"    -> {ans.text[:150]!r}")
    s["per_question"] = rows


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _read_through(path: Path) -> int:
    total = 0
    with path.open("rb") as handle:
        while block := handle.read(8 << 20):
            total += len(block)
    return total


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--questions", type=int, default=5, help="questions answered by the LLM in section 6 (2-20, default 5)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per ingest/encode timing, median kept (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    if not 2 <= args.questions <= len(QUESTIONS):
        parser.error(f"--questions must be between 2 and {len(QUESTIONS)} (the first is the warm-up)")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    base = load_settings()
    wiring.apply_runtime_policy(base)
    rep = Report(args.json)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        settings = base.replace(index=Path(tmp) / "index")
        header(rep, settings, args)
        embedder = wiring.build_embedder(settings)
        load_s, _ = timed(embedder._load)
        rep.put(rep.data["header"], "embedder_load_seconds", "embedding model load", load_s, "s")
        ingest_result = bench_ingest(rep, settings, embedder, args)
        bench_embedding(rep, settings, embedder, ingest_result, args)
        bench_incremental(rep, settings, embedder, args)
        bench_retrieval(rep, settings, embedder)
        bench_llm(rep, settings, embedder, args.questions)
    end = rep.section("end", "Run")
    rep.put(end, "load_average_end", "load average at end (1/5/15 min)", load_average())
    rep.put(end, "wall_seconds", "benchmark wall time", time.perf_counter() - started, "s")
    if args.json:
        json.dump(rep.data, sys.stdout, ensure_ascii=False, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
