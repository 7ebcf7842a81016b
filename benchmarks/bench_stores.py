"""Both stores at scale: write time, disk, resident memory while serving, query latency, recall, `rag remove`.

Synthetic collections: chunk texts are windows of the viwiki distractor articles with the
length distribution of real 300/60-token chunks (mean 900, sd 227 characters, measured on the
MLQA index), 10 chunks per document, random unit 384-d vectors (no embedding). Each store and
size is built in a child process, then served from another (so its resident memory is that of
serving alone): 100 queries (6-10 consecutive syllables of the articles, each with its own random
vector) through HybridRetriever (dense + BM25 + sentence coverage, k=10) and dense search
alone; dense recall@10 against exact numpy search; then `rag remove` of one file (load,
remove, save), as the CLI does it.

    flock /tmp/rag-heavy.lock env PYTHONPATH=. python benchmarks/bench_stores.py --sizes 100000 --stores faiss milvus
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

VIWIKI = Path("/work/shared/eval/viwiki_corpus/docs.jsonl")
DIM = 384
CHUNKS_PER_DOC = 10
MEAN_CHARS, SD_CHARS = 900, 227
N_QUERIES = 100


def _articles() -> list[str]:
    with VIWIKI.open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def _texts(n: int, seed: int = 0) -> list[str]:
    """n windows of the articles, cut at spaces, of real chunk length."""
    rng = np.random.default_rng(seed)
    articles = [a for a in _articles() if len(a) > 2500]
    which = rng.integers(0, len(articles), n)
    lengths = np.clip(rng.normal(MEAN_CHARS, SD_CHARS, n), 200, 2400).astype(int)
    out = []
    for a, length in zip(which.tolist(), lengths.tolist(), strict=True):
        text = articles[a]
        start = int(rng.integers(0, len(text) - length))
        start = text.find(" ", start) + 1
        end = text.rfind(" ", start, start + length)
        out.append(text[start : end if end > start else start + length])
    return out


def _vectors(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _queries(seed: int = 2) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    words = [w for a in _articles()[:200] for w in a.split()]
    texts = []
    for _ in range(N_QUERIES):
        start, size = int(rng.integers(0, len(words) - 12)), int(rng.integers(6, 11))
        texts.append(" ".join(words[start : start + size]))
    return texts, _vectors(N_QUERIES, seed=3)


def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _disk_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def build(kind: str, size: int, folder: Path) -> dict[str, Any]:
    from rag.index.base import closing, new_store
    from rag.types import Chunk, Document

    texts, vectors = _texts(size), _vectors(size)
    started = time.perf_counter()
    with closing(new_store(folder, kind=kind, model_id="synthetic", dim=DIM, chunking={"max_tokens": 300})) as store:
        for d in range(0, size, CHUNKS_PER_DOC):
            source = f"tai-lieu/{d // CHUNKS_PER_DOC:07d}.txt"
            doc = Document(source=source, title=f"Tài liệu {d // CHUNKS_PER_DOC}", text="", sha256=f"{d:064d}")
            part = texts[d : d + CHUNKS_PER_DOC]
            chunks = [Chunk(f"{source}-{i:05d}", source, doc.title, t, 0, len(t), 200) for i, t in enumerate(part)]
            store.add(doc, chunks, vectors[d : d + len(part)])
        store.save()
    return {"write_s": round(time.perf_counter() - started, 1), "disk_mib": round(_disk_mib(folder), 1)}


def serve(kind: str, size: int, folder: Path) -> dict[str, Any]:
    from rag.index.base import open_store
    from rag.ingest.pipeline import remove
    from rag.retrieval.retriever import HybridRetriever

    texts, qvectors = _queries()
    by_text = {t: qvectors[i] for i, t in enumerate(texts)}

    class Fixed:  # the query's own random vector: latency of the store, not of a model
        model_id, dim = "synthetic", DIM

        def embed_query(self, text: str) -> np.ndarray:
            return by_text[text]

    started = time.perf_counter()
    store = open_store(folder)
    out: dict[str, Any] = {"open_s": round(time.perf_counter() - started, 2)}
    retriever = HybridRetriever(store, Fixed())
    retriever.search(texts[0], 10)  # first query builds lazy structures
    hybrid, dense, found = [], [], []
    for text, vector in zip(texts, qvectors, strict=True):
        t = time.perf_counter()
        retriever.search(text, 10)
        hybrid.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        hits = store.search(vector, 10)
        dense.append((time.perf_counter() - t) * 1000)
        found.append([int(c.chunk_id.split("/")[1][:7]) * CHUNKS_PER_DOC + int(c.chunk_id[-5:]) for c, _ in hits])
    out["rss_serving_mib"], out["peak_rss_serving_mib"] = (round(x) for x in _rss_mib())
    for name, times in (("hybrid", hybrid), ("dense", dense)):
        out[f"{name}_p50_ms"] = round(statistics.median(times), 1)
        out[f"{name}_p95_ms"] = round(float(np.percentile(times, 95)), 1)
    exact = _exact_top10(qvectors, size)
    out["dense_recall@10"] = round(
        float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])), 3
    )
    release = getattr(store, "close", None)
    if release:
        release()
    del store, retriever
    t = time.perf_counter()
    assert remove([f"tai-lieu/{size // CHUNKS_PER_DOC // 2:07d}.txt"], index=folder)
    out["rag_remove_s"] = round(time.perf_counter() - t, 2)
    return out


def _exact_top10(queries: np.ndarray, size: int) -> list[list[int]]:
    vectors = _vectors(size)
    scores = vectors @ queries.T  # (size, n_queries)
    return [np.argsort(-scores[:, q], kind="stable")[:10].tolist() for q in range(len(queries))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--stores", nargs="+", default=["faiss", "milvus"])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench-stores"))
    parser.add_argument(
        "--candidate-fields",
        nargs="+",
        help="Milvus: lexical fields of the candidate sparse vector (default: all four)",
    )
    parser.add_argument("--child", nargs=3, metavar=("STEP", "STORE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.candidate_fields:
        import rag.index.milvus.store

        rag.index.milvus.store.CANDIDATE_FIELDS = tuple(args.candidate_fields)  # new stores record it
    if args.child:
        step, kind, size = args.child
        result = (build if step == "build" else serve)(kind, int(size), args.folder)
        print(json.dumps(result))
        return 0
    rows = []
    for size in args.sizes:
        for kind in args.stores:
            folder = args.folder / f"{kind}-{size}"
            shutil.rmtree(folder, ignore_errors=True)
            row: dict[str, Any] = {"store": kind, "chunks": size}
            for step in ("build", "serve"):
                cmd = [sys.executable, __file__, "--folder", str(folder), "--child", step, kind, str(size)]
                cmd += ["--candidate-fields", *args.candidate_fields] if args.candidate_fields else []
                done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)  # noqa: S603
                if done.returncode:
                    row[f"{step}_error"] = done.stderr.strip().splitlines()[-1:]
                    break
                row |= json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            rows.append(row)
            shutil.rmtree(folder, ignore_errors=True)
    columns = [
        "store", "chunks", "write_s", "disk_mib", "open_s", "rss_serving_mib", "hybrid_p50_ms", "hybrid_p95_ms",
        "dense_p50_ms", "dense_p95_ms", "dense_recall@10", "rag_remove_s",
    ]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    for row in rows:
        print(
            "| "
            + " | ".join(str(row.get(c, row.get("build_error") or row.get("serve_error", ""))) for c in columns)
            + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
