"""Split a questions JSONL by article into a tuning half and a reporting half (issue 15.6).

Every question of one article (doc_id) lands in the same half, chosen by the parity of the
first byte of sha256(doc_id): stable across runs and machines, independent of file order.
Thresholds are fitted on ``tune.jsonl`` only; README reports ``report.jsonl``. Questions
typed without diacritics are the same files with `rag eval --strip-diacritics`.

    python benchmarks/split_by_article.py ../shared/eval/mlqa_vi_dev/questions.jsonl OUT_DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path


def half(doc_id: str) -> str:
    return "tune" if hashlib.sha256(doc_id.encode("utf-8")).digest()[0] % 2 == 0 else "report"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    lines = [line for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    halves: dict[str, list[str]] = {"tune": [], "report": []}
    for line in lines:
        halves[half(str(json.loads(line)["doc_id"]))].append(line)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, chosen in halves.items():
        (args.out_dir / f"{name}.jsonl").write_text("".join(f"{line}\n" for line in chosen), encoding="utf-8")
        articles = len({json.loads(line)["doc_id"] for line in chosen})
        print(f"{name}: {len(chosen)} questions from {articles} articles")


if __name__ == "__main__":
    main()
