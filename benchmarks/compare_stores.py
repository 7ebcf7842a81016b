"""Retrieval quality of the same index in two stores: R@1/5/10 and MRR@10, accented and unaccented.

Build the second store from the first without embedding again, then compare::

    PYTHONPATH=. python -m rag.cli copy-index /work/idx/mlqa-300/index /work/idx/mlqa-300-milvus --store milvus
    flock /tmp/rag-heavy.lock env PYTHONPATH=. python benchmarks/compare_stores.py \\
        /work/shared/eval/mlqa_vi_dev/questions.jsonl /work/idx/mlqa-300/index /work/idx/mlqa-300-milvus

Prints one row per (store, accents) and the largest difference; exits 1 when a metric differs by more than 0.01.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

from rag.cli.main import main as rag_main
from rag.index.base import store_kind

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "retrieve_ms_median")


def _eval(questions: Path, index: Path, strip: bool, out: Path, limit: int | None) -> dict:
    argv = ["eval", str(questions), "--index", str(index), "--retrieve-only", "--json", "--out", str(out)]
    argv += ["--strip-diacritics"] if strip else []
    argv += ["--limit", str(limit)] if limit else []
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = rag_main(argv, stdout=buffer)
    if code:
        raise SystemExit(f"rag eval failed ({code}) on {index}")
    return json.loads(buffer.getvalue().strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("indexes", type=Path, nargs=2)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    rows: dict[tuple[str, bool], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index in args.indexes:
            for strip in (False, True):
                name = f"{store_kind(index)}-{'unaccented' if strip else 'accented'}.jsonl"
                rows[(str(index), strip)] = _eval(args.questions, index, strip, Path(tmp) / name, args.limit)
    print(f"| store | questions | {' | '.join(METRICS)} |")
    print("|---" * (len(METRICS) + 2) + "|")
    for (index, strip), summary in rows.items():
        label = f"{store_kind(Path(index))} ({'unaccented' if strip else 'accented'})"
        print(f"| {label} | {summary['questions']} | {' | '.join(str(summary[m]) for m in METRICS)} |")
    worst = 0.0
    a, b = (str(i) for i in args.indexes)
    for strip in (False, True):
        for metric in METRICS[:-1]:
            worst = max(worst, abs(rows[(a, strip)][metric] - rows[(b, strip)][metric]))
    print(f"largest difference in R@k / MRR@10: {worst:.4f}")
    return 0 if worst <= 0.01 else 1


if __name__ == "__main__":
    sys.exit(main())
