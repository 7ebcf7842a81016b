"""How well an index restores the marks of questions typed without them.

Each question is folded (marks stripped, đ→d), given back its marks by the index's restorer
(``LexicalIndex.restore_diacritics``: the collection's own spellings plus the built-in
question phrases), and compared syllable by syllable with the original, case-folded.

    python benchmarks/restore_accuracy.py QUESTIONS.jsonl --index DIR [--limit N]

Prints the share of syllables restored right, the share of whole questions restored right,
and the share right among the question words ("bao nhiêu", "gì", "ở đâu", …), which
documents rarely contain.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rag.index.restorer  # noqa: E402
from rag.eval.questions import Question, load_questions  # noqa: E402
from rag.index.faiss.store import IndexStore  # noqa: E402
from rag.index.lexical import LexicalIndex  # noqa: E402
from rag.index.restorer import QUESTION_PHRASES  # noqa: E402
from rag.text.vietnamese import fold_diacritics, has_diacritics  # noqa: E402


def measure(lexical: LexicalIndex, questions: list[Question]) -> dict[str, float]:
    """Shares restored right: syllables, whole questions, question-word syllables."""
    question_words = {w for phrase in QUESTION_PHRASES for w in phrase.split()}
    syllables = right = whole = qw = qw_right = 0
    for q in questions:
        want = re.findall(r"\w+", q.question.lower())
        got = re.findall(r"\w+", lexical.restore_diacritics(fold_diacritics(q.question)).lower())
        if len(got) != len(want):
            raise SystemExit(f"restoring changed the words of {q.question!r}: {got}")
        hits = [a == b for a, b in zip(want, got, strict=True)]
        syllables += len(hits)
        right += sum(hits)
        whole += all(hits)
        for word, hit in zip(want, hits, strict=True):
            if word in question_words:
                qw += 1
                qw_right += hit
    return {
        "syllables": right / syllables,
        "questions": whole / len(questions),
        "question words": qw_right / max(qw, 1),
        "n_question_words": qw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    store = IndexStore.load(args.index)
    questions = [q for q in load_questions(args.questions, limit=args.limit) if has_diacritics(q.question)]
    real = rag.index.restorer._question_counts
    rag.index.restorer._question_counts = Counter  # baseline: the collection's spellings alone
    baseline = measure(store.lexical(), questions)
    rag.index.restorer._question_counts = real
    store._view = None  # noqa: SLF001 - a fresh restorer, with the question phrases
    now = measure(store.lexical(), questions)
    print(f"index {args.index}: {len(questions)} questions, {now['n_question_words']} question-word syllables")
    print("restored right            collection only   + question phrases")
    for key in ("syllables", "questions", "question words"):
        print(f"{key:<26}{baseline[key]:>15.3f}{now[key]:>20.3f}")


if __name__ == "__main__":
    main()
