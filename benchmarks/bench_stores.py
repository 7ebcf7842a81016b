"""Both stores at scale: write time, disk, resident memory while serving, query latency, recall, `rag remove`.

Synthetic collections: chunk texts are windows of the viwiki distractor articles with the
length distribution of real 300/60-token chunks (mean 900, sd 227 characters, measured on the
MLQA index), 10 chunks per document, random unit 384-d vectors (no embedding), generated in
batches of 10,000 chunks from per-batch seeds. The writer saves every ``--save-every`` chunks
(so it never holds more than that many unsaved chunks), as a long `rag ingest` would if it
committed as it went; the FAISS build ends by merging those saves into one base (``compact_s``), the
state one `rag ingest` commit leaves. Each store and size is built in a child process, then served from another
(so its resident memory is that of serving alone): 100 queries (6-10 consecutive syllables of
the articles, each with its own random vector) through HybridRetriever (dense + BM25 + sentence
coverage, k=10) and dense search alone; dense recall@10 against exact numpy search; then
`rag remove` of one file (load, remove, save), as the CLI does it.

Resident memory is printed whole and split into anonymous memory (the process's own objects)
and file pages (mapped segment files the queries touched; the kernel can drop them). A child
whose resident memory passes ``--memory-cap-mib`` is stopped by a watchdog thread, which prints
how far it got; a larger size of a store that was stopped is not attempted. ``--keep`` leaves
the built folders; ``--reuse`` serves a kept folder of the right size without building it again,
and continues a build that was stopped (its last save is the last good state) instead of restarting.

    flock /tmp/rag-heavy.lock env PYTHONPATH=. python benchmarks/bench_stores.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

VIWIKI = Path("/work/shared/eval/viwiki_corpus/docs.jsonl")
DIM = 384
CHUNKS_PER_DOC = 10
BATCH = 10_000
MEAN_CHARS, SD_CHARS = 900, 227
N_QUERIES = 100
_progress = {"chunks": 0, "step": ""}


def _articles() -> list[str]:
    with VIWIKI.open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def _texts(articles: list[str], batch: int) -> list[str]:
    """BATCH windows of the articles, cut at spaces, of real chunk length."""
    rng = np.random.default_rng([0, batch])
    which = rng.integers(0, len(articles), BATCH)
    lengths = np.clip(rng.normal(MEAN_CHARS, SD_CHARS, BATCH), 200, 2400).astype(int)
    out = []
    for a, length in zip(which.tolist(), lengths.tolist(), strict=True):
        text = articles[a]
        start = int(rng.integers(0, len(text) - length))
        start = text.find(" ", start) + 1
        end = text.rfind(" ", start, start + length)
        out.append(text[start : end if end > start else start + length])
    return out


def _vectors(batch: int, n: int = BATCH) -> np.ndarray:
    rng = np.random.default_rng([1, batch])
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _queries() -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(2)
    words = [w for a in _articles()[:200] for w in a.split()]
    texts = []
    for _ in range(N_QUERIES):
        start, size = int(rng.integers(0, len(words) - 12)), int(rng.integers(6, 11))
        texts.append(" ".join(words[start : start + size]))
    return texts, _vectors(10**6, N_QUERIES)  # a batch no collection reaches


def _memory_mib() -> dict[str, int]:
    """Resident memory of this process, MiB: whole, peak, anonymous, file-backed."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    names = {"rss": "VmRSS", "peak_rss": "VmHWM", "rss_anon": "RssAnon", "rss_file": "RssFile"}
    return {key: round(int(fields[name].split()[0]) / 1024) for key, name in names.items()}


def _watchdog(cap_mib: int) -> None:
    """Stop this process when its resident memory passes cap_mib, printing how far it got."""

    def watch() -> None:
        while True:
            rss = _memory_mib()["rss"]
            if rss > cap_mib:
                stopped = (
                    f"stopped at {_progress['chunks']:,} chunks ({_progress['step']}): {rss:,} MiB > cap {cap_mib:,}"
                )
                print(json.dumps({"stopped": stopped}), flush=True)
                os._exit(0)
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()


def _disk_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def build(kind: str, size: int, folder: Path, save_every: int) -> dict[str, Any]:
    """Write the collection, saving every save_every chunks; continues a build a kill stopped at its last save."""
    from rag.index.base import closing, index_exists, new_store, open_store
    from rag.types import Chunk, Document

    articles = [a for a in _articles() if len(a) > 2500]
    log = folder / "bench-build.json"  # write seconds of the runs before this one, for a resumed build
    earlier = json.loads(log.read_text())["write_s"] if index_exists(folder) and log.is_file() else 0.0
    started = time.perf_counter()
    _progress["step"] = "writing"
    if index_exists(folder):
        store = open_store(folder)
    else:
        store = new_store(folder, kind=kind, model_id="synthetic", dim=DIM, chunking={"max_tokens": 300})
    with closing(store):
        for batch in range(len(store) // BATCH, size // BATCH):
            texts, vectors = _texts(articles, batch), _vectors(batch)
            for d in range(0, BATCH, CHUNKS_PER_DOC):
                n = batch * BATCH + d
                source = f"tai-lieu/{n // CHUNKS_PER_DOC:07d}.txt"
                doc = Document(source=source, title=f"Tài liệu {n // CHUNKS_PER_DOC}", text="", sha256=f"{n:064d}")
                part = texts[d : d + CHUNKS_PER_DOC]
                chunks = [Chunk(f"{source}-{i:05d}", source, doc.title, t, 0, len(t), 200) for i, t in enumerate(part)]
                store.add(doc, chunks, vectors[d : d + len(part)])
                _progress["chunks"] = n + len(part)
            if (batch + 1) * BATCH % save_every == 0 or batch + 1 == size // BATCH:
                store.save()
                elapsed = round(earlier + time.perf_counter() - started, 1)
                log.write_text(json.dumps({"write_s": elapsed, "chunks": len(store)}))
                print(
                    json.dumps({"saved": len(store), "write_s": elapsed, **_memory_mib()}), file=sys.stderr, flush=True
                )
    write_s = round(earlier + time.perf_counter() - started, 1)
    return {
        **compact(kind, size, folder),
        "write_s": write_s,
        "disk_mib": round(_disk_mib(folder), 1),
        "writer_peak_rss_mib": _memory_mib()["peak_rss"],
    }


def compact(kind: str, size: int, folder: Path) -> dict[str, Any]:
    """FAISS: merge the periodic saves' base and deltas into one base, as one `rag ingest` commit leaves it."""
    from rag.index.base import open_store

    if kind != "faiss" or len(json.loads((folder / "manifest.json").read_text())["segments"]) == 1:
        return {}
    _progress.update(chunks=size, step="compacting")
    started = time.perf_counter()
    open_store(folder).save(compact=True)
    return {"compact_s": round(time.perf_counter() - started, 1)}


def serve(kind: str, size: int, folder: Path) -> dict[str, Any]:
    from rag.index.base import closing, open_store
    from rag.ingest.pipeline import remove
    from rag.retrieval.retriever import HybridRetriever

    texts, qvectors = _queries()
    by_text = {t: qvectors[i] for i, t in enumerate(texts)}

    class Fixed:  # the query's own random vector: latency of the store, not of a model
        model_id, dim = "synthetic", DIM

        def embed_query(self, text: str) -> np.ndarray:
            return by_text[text]

    _progress.update(chunks=size, step="serving")
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
    out |= {f"{key}_serving_mib": value for key, value in _memory_mib().items()}
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
    with closing(open_store(folder)) as store:  # now a tombstone too: FAISS scores BM25 on its exact path
        retriever = HybridRetriever(store, Fixed())
        after = []
        for text in texts[:50]:
            t = time.perf_counter()
            retriever.search(text, 10)
            after.append((time.perf_counter() - t) * 1000)
    out["hybrid_p50_after_remove_ms"] = round(statistics.median(after), 1)
    return out


def _exact_top10(queries: np.ndarray, size: int) -> list[list[int]]:
    """Exact top-10 ids per query by numpy over every batch's vectors (one batch in memory at a time)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for batch in range(size // BATCH):
        scores = queries @ _vectors(batch).T  # (n_queries, BATCH)
        ids = np.broadcast_to(np.arange(batch * BATCH, (batch + 1) * BATCH), scores.shape)
        all_scores, all_ids = np.hstack([best_scores, scores]), np.hstack([best_ids, ids])
        top = np.argsort(-all_scores, axis=1, kind="stable")[:, :10]
        best_scores, best_ids = np.take_along_axis(all_scores, top, 1), np.take_along_axis(all_ids, top, 1)
    return best_ids.tolist()


def _child(args: argparse.Namespace) -> int:
    step, kind, size = args.child
    _watchdog(args.memory_cap_mib)
    if step == "build":
        result = build(kind, int(size), args.folder, args.save_every)
    elif step == "compact":
        result = compact(kind, int(size), args.folder)
    else:
        result = serve(kind, int(size), args.folder)
    print(json.dumps(result), flush=True)
    return 0


def _built(folder: Path, size: int) -> bool:
    try:
        return json.loads((folder / "manifest.json").read_text())["n_chunks"] == size
    except (OSError, ValueError, KeyError):
        return False


def _run(args: argparse.Namespace, kind: str, size: int) -> dict[str, Any]:
    folder = args.folder / f"{kind}-{size}"
    row: dict[str, Any] = {"store": kind, "chunks": size}
    steps = ["compact", "serve"] if args.reuse and _built(folder, size) else ["build", "serve"]
    if "build" in steps and not args.reuse:
        shutil.rmtree(folder, ignore_errors=True)
    for step in steps:
        cmd = [sys.executable, __file__, "--folder", str(folder), "--child", step, kind, str(size)]
        cmd += ["--save-every", str(args.save_every), "--memory-cap-mib", str(args.memory_cap_mib)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)  # noqa: S603
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines:
            row[f"{step}_error"] = (done.stderr.strip().splitlines() or ["no output"])[-1]
            break
        row |= json.loads(lines[-1])
        if "stopped" in row:
            row["stopped"] = f"{step}: {row['stopped']}"
            break
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return row


COLUMNS = [
    "store", "chunks", "write_s", "compact_s", "disk_mib", "open_s", "rss_serving_mib", "rss_anon_serving_mib",
    "rss_file_serving_mib", "hybrid_p50_ms", "hybrid_p95_ms", "dense_p50_ms", "dense_p95_ms", "dense_recall@10",
    "rag_remove_s", "hybrid_p50_after_remove_ms", "writer_peak_rss_mib",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--stores", nargs="+", default=["faiss", "milvus"])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench-stores"))
    parser.add_argument("--save-every", type=int, default=100_000)
    parser.add_argument("--memory-cap-mib", type=int, default=4096)
    parser.add_argument("--keep", action="store_true", help="leave the built folders")
    parser.add_argument(
        "--reuse", action="store_true", help="serve a kept folder of the right size; continue a stopped build"
    )
    parser.add_argument("--child", nargs=3, metavar=("STEP", "STORE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    rows, stopped = [], {}
    for size in args.sizes:
        for kind in args.stores:
            if kind in stopped:
                row = {"store": kind, "chunks": size, "stopped": f"not attempted: {stopped[kind]}"}
            else:
                row = _run(args, kind, size)
                if "stopped" in row or any(k.endswith("_error") for k in row):
                    stopped[kind] = f"{size:,} chunks " + str(row.get("stopped") or row.get("build_error"))
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("| " + " | ".join(COLUMNS) + " |")
    print("|---" * len(COLUMNS) + "|")
    for row in rows:
        note = row.get("stopped") or row.get("build_error") or row.get("serve_error") or ""
        print("| " + " | ".join(str(row.get(c, note if c == "write_s" else "")) for c in COLUMNS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
