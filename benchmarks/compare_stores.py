"""Retrieval quality of the same index in two stores: R@1/5/10 and MRR@10, accented and unaccented.

Build the second store from the first without embedding again, embed the questions once (the
only step that runs the model: under the heavy-work lock), then evaluate both stores with those
vectors (store work only)::

    Q=/work/shared/eval/mlqa_vi_dev/questions.jsonl
    PYTHONPATH=. python -m rag.cli copy-index /work/idx/mlqa-300/index /work/idx/mlqa-300-milvus --store milvus
    flock /tmp/rag-heavy.lock env PYTHONPATH=. python benchmarks/compare_stores.py embed $Q \\
        /work/idx/mlqa-300/index --cache /tmp/q.npz
    PYTHONPATH=. python benchmarks/compare_stores.py compare $Q \\
        /work/idx/mlqa-300/index /work/idx/mlqa-300-milvus --cache /tmp/q.npz

Prints one row per (store, accents) and the largest difference; exits 1 when a metric differs by
more than 0.01. A question whose restored spelling differs between the stores has no cached
vector and stops the comparison (the restorers must agree too).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from rag.cli.main import main as rag_main
from rag.index.base import open_store, store_kind

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10")


class CachedEmbedder:
    """Query vectors computed once by `embed`; a text without one is an error, not a silent re-embedding."""

    def __init__(self, cache: Path) -> None:
        with np.load(cache, allow_pickle=False) as data:
            texts = json.loads(data["texts"].tobytes().decode())
            self._vectors = dict(zip(texts, data["vectors"], strict=True))
            self.model_id, self.dim = str(data["model_id"]), int(data["vectors"].shape[1])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vectors[text]


def embed(questions: Path, index: Path, cache: Path, limit: int | None) -> None:
    from rag.eval.questions import load_questions
    from rag.retrieval.retriever import HybridRetriever
    from rag.setup.config import load_settings
    from rag.setup.wiring import build_embedder, retrieval_settings

    settings = load_settings()
    embedder = build_embedder(settings)
    retriever = HybridRetriever(open_store(index), embedder, retrieval_settings(settings))
    texts = sorted(
        {
            retriever.dense_query(q.question)
            for strip in (False, True)
            for q in load_questions(questions, strip_diacritics=strip, limit=limit)
        }
    )
    vectors = np.stack([embedder.embed_query(t) for t in texts]).astype(np.float32)
    encoded = np.frombuffer(json.dumps(texts, ensure_ascii=False).encode(), dtype=np.uint8)
    with cache.open("wb") as handle:
        np.savez(handle, texts=encoded, vectors=vectors, model_id=np.array(embedder.model_id))
    print(f"{len(texts)} query vectors -> {cache}")


def _eval(questions: Path, index: Path, strip: bool, out: Path, limit: int | None) -> dict:
    argv = ["eval", str(questions), "--index", str(index), "--retrieve-only", "--json", "--out", str(out)]
    argv += ["--limit", str(limit)] if limit else []
    argv += ["--strip-diacritics"] if strip else []
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = rag_main(argv, stdout=buffer)
    if code:
        raise SystemExit(f"rag eval failed ({code}) on {index}")
    return json.loads(buffer.getvalue().strip().splitlines()[-1])


def compare(questions: Path, indexes: list[Path], cache: Path, limit: int | None) -> int:
    import rag.setup.wiring

    cached = CachedEmbedder(cache)
    rag.setup.wiring.build_embedder = lambda settings: cached
    rows: dict[tuple[str, bool], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index in indexes:
            for strip in (False, True):
                name = f"{store_kind(index)}-{'unaccented' if strip else 'accented'}.jsonl"
                rows[(str(index), strip)] = _eval(questions, index, strip, Path(tmp) / name, limit)
    print(f"| store | questions | {' | '.join(METRICS)} | retrieve ms median (store work only) |")
    print("|---" * (len(METRICS) + 3) + "|")
    for (index, strip), summary in rows.items():
        label = f"{store_kind(Path(index))} ({'unaccented' if strip else 'accented'})"
        values = " | ".join(str(summary[m]) for m in METRICS)
        print(f"| {label} | {summary['questions']} | {values} | {summary['retrieve_ms_median']} |")
    a, b = (str(i) for i in indexes)
    worst = max(abs(rows[(a, s)][m] - rows[(b, s)][m]) for s in (False, True) for m in METRICS)
    print(f"largest difference in R@k / MRR@10: {worst:.4f}")
    return 0 if worst <= 0.01 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["embed", "compare"])
    parser.add_argument("questions", type=Path)
    parser.add_argument("indexes", type=Path, nargs="+", help="embed: the index to restore diacritics with")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--limit", type=int, help="the first N questions (a smoke test)")
    args = parser.parse_args(argv)
    if args.step == "embed":
        embed(args.questions, args.indexes[0], args.cache, args.limit)
        return 0
    return compare(args.questions, args.indexes, args.cache, args.limit)


if __name__ == "__main__":
    sys.exit(main())
