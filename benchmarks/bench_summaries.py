"""Summary quality and speed on 18 Vietnamese documents with hand-written key facts.

For each document of benchmarks/data/summaries/facts.json (the five of corpus/ and thirteen viwiki
articles, seven of them 24-35 KB; the nine of split "tune" used for tuning) the document is
chunked as `rag ingest` does and summarised by rag.answer.summarize with the real default
models; printed per document and per split (tune / test) and overall:

* recall: share of the key facts found in the summary (matching rule in facts.json);
* length: summary words (markers left out) / document words, and sentences;
* overlap: the largest share of content words two summary sentences have in common;
* cited / supported: share of summary sentences carrying a marker / backed by the passage it
  cites (the summary re-checked with rag.checks.grounding.ground_summary; a joined line
  "A [3]; b [5]." as its two halves, each against its own passage); joined: such lines;
* vietnamese: the summary reads as Vietnamese; seconds: wall time of the summary (with the
  embedding of a long document's units when SummarySettings.centrality_weight is on).

The test half's missed facts are printed only with --show-test (so tuning never reads them);
--json writes every row, summaries included.

    PYTHONPATH=. flock /tmp/rag-heavy.lock python benchmarks/bench_summaries.py [--compress] [--fuse]
        [--only ID ...] [--split tune|test] [--json OUT.jsonl] [--show-test] [--set NAME=VALUE ...]

The default summary is extractive (no LLM call, seconds in all); --compress also has the LLM
shorten the long sentences (about 8 s per sentence on 2 cores), --fuse has it join pairs of
sentences so that more fit the sentence cap (SummarySettings.fuse), as measured in README
"Summaries"; --set overrides SummarySettings fields (max_sentences=18 share=0.25 join_words=35 trim=false
centrality_weight=1.0 centrality=title).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer.cite import answer_sentences  # noqa: E402
from rag.answer.question import collect  # noqa: E402
from rag.answer.summarize import Summarizer, SummarySettings, word_overlap  # noqa: E402
from rag.answer.summary_joins import clause_sentences  # noqa: E402
from rag.checks.grounding import ground_summary  # noqa: E402
from rag.text.vietnamese import fold_diacritics, nfc, reads_vietnamese  # noqa: E402
from rag.types import Hit  # noqa: E402

FACTS = ROOT / "benchmarks" / "data" / "summaries" / "facts.json"


def normalise(text: str) -> str:
    """The matching form of facts.json: folded, number separators removed, words split on the rest."""
    text = fold_diacritics(nfc(text)).lower()
    text = re.sub(r"(?<=\d)[.,](?=\d)", "", text)
    text = re.sub(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)", " ", text)
    text = re.sub(r"[\W_]+", " ", text)
    text = re.sub(r"\b0+(?=\d)", "", text)
    return f" {' '.join(text.split())} "


def fact_found(fact: list[str], summary: str) -> bool:
    norm = normalise(summary)
    return all(any(normalise(alt) in norm for alt in part.split(" | ")) for part in fact)


def measure(doc: dict, answer, seconds: float, document_words: int, hits: list[Hit], grounding) -> dict:  # noqa: ANN001
    text = answer.text
    sentences = answer_sentences(text)
    plain = re.sub(r"\s*\[\d+\]", "", text)
    words = len(plain.split())
    overlaps = [word_overlap(a, b) for (a, _), (b, _) in itertools.combinations(sentences, 2)]
    # a joined line "A [3]; b [5]." is checked as its two cited halves, each against its own passage
    halves = clause_sentences(text)
    checked = ground_summary(halves, hits, grounding).sentences if grounding is not None and text else ()
    found = [fact_found(f, text) for f in doc["facts"]]
    return {
        "id": doc["id"],
        "split": doc["split"],
        "kind": doc["kind"],
        "recall": round(sum(found) / len(found), 3),
        "facts_missed": [" + ".join(f) for f, ok in zip(doc["facts"], found, strict=True) if not ok],
        "doc_words": document_words,
        "words": words,
        "length": round(words / document_words, 3),
        "sentences": len(sentences),
        "joined": len(re.findall(r"\]; ", text)),  # lines of two halves (summary_joins)
        "max_overlap": round(max(overlaps, default=0.0), 3),
        "cited": round(sum(1 for _, m in sentences if m) / len(sentences), 3) if sentences else 0.0,
        "supported": round(sum(1 for s in checked if s.status != "unsupported") / len(checked), 3) if checked else 0.0,
        "vietnamese": reads_vietnamese(plain),
        "seconds": round(seconds, 1),
        "model_calls_tokens": [answer.usage.prompt_tokens, answer.usage.completion_tokens],
        "summary": text,
    }


def print_groups(rows: list[dict]) -> None:
    """The tune, test and overall lines."""
    for name, group in (
        ("tune", [r for r in rows if r["split"] == "tune"]),
        ("test", [r for r in rows if r["split"] == "test"]),
        ("all", rows),
    ):
        if group:
            print(
                f"{name:<5} n={len(group)}  recall {statistics.mean(r['recall'] for r in group):.3f}  "
                f"length max {max(r['length'] for r in group):.3f}  "
                f"sentences max {max(r['sentences'] for r in group)}  "
                f"overlap max {max(r['max_overlap'] for r in group):.2f}  "
                f"cited {statistics.mean(r['cited'] for r in group):.3f}  "
                f"supported {statistics.mean(r['supported'] for r in group):.3f}  "
                f"vietnamese {sum(r['vietnamese'] for r in group)}/{len(group)}  "
                f"seconds mean {statistics.mean(r['seconds'] for r in group):.1f} "
                f"max {max(r['seconds'] for r in group):.1f}"
            )


def overrides(pairs: list[str]) -> dict:
    """--set max_sentences=20 fuse=true: SummarySettings fields, typed as their defaults."""
    defaults, out = SummarySettings(), {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if not hasattr(defaults, name):
            raise SystemExit(f"--set {pair}: SummarySettings has no field {name!r}")
        kind = type(getattr(defaults, name))
        out[name] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compress", action="store_true", help="the model shortens sentences over 25 words")
    parser.add_argument("--fuse", action="store_true", help="the model joins pairs of sentences (SummarySettings.fuse)")
    parser.add_argument("--only", nargs="*", help="document ids")
    parser.add_argument("--split", choices=["tune", "test"])
    parser.add_argument("--json", type=Path, help="write one JSON row per document")
    parser.add_argument("--show-test", action="store_true", help="also print the test half's missed facts")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="SummarySettings fields")
    args = parser.parse_args()

    from rag.answer.prompting import PromptBuilder, PromptTemplates
    from rag.setup.config import load_settings
    from rag.setup.wiring import build_embedder, build_generator, chunk_settings, grounding_settings
    from rag.text.chunking import chunk_document
    from rag.text.loaders import load

    settings = load_settings()
    embedder = build_embedder(settings)
    generator = build_generator(settings) if args.compress or args.fuse else None
    builder = PromptBuilder(PromptTemplates.load(settings.prompts_dir), max_prompt_tokens=settings.n_ctx)
    grounding = grounding_settings(settings, embedder_id=embedder.model_id)
    summary = replace(SummarySettings(), compress=args.compress, fuse=args.fuse, **overrides(args.set))
    summarizer = Summarizer(generator, builder, grounding=grounding, settings=summary, embedder=embedder)
    docs = json.loads(FACTS.read_text(encoding="utf-8"))["documents"]
    docs = [d for d in docs if (not args.only or d["id"] in args.only) and (not args.split or d["split"] == args.split)]
    rows = []
    if generator is not None:  # load the model before timing
        "".join(generator.stream(builder.compress("Hà Nội là thủ đô.", title="Hà Nội"), max_tokens=4))
    if summary.centrality_weight:  # the first forward pass of the embedder too
        embedder.embed_passages(["Hà Nội là thủ đô của Việt Nam."])
    for doc in docs:
        document = load(ROOT / doc["path"], source=doc["path"])
        chunks = chunk_document(document, count_tokens=embedder.count_tokens, settings=chunk_settings(settings))
        started = time.perf_counter()
        answer = collect(summarizer.stream(chunks, topic=document.title, asked=document.title))
        seconds = time.perf_counter() - started
        hits = [Hit(c, 0.0, i) for i, c in enumerate(chunks, start=1)]
        row = measure(doc, answer, seconds, len(document.text.split()), hits, grounding)
        rows.append(row)
        print(
            f"{row['id']:<22} {row['split']:<5} recall {row['recall']:.2f}  length {row['length']:.3f} "
            f"({row['words']} of {row['doc_words']} words, {row['sentences']} sentences, {row['joined']} joined)  "
            f"overlap {row['max_overlap']:.2f}  cited {row['cited']:.2f}  supported {row['supported']:.2f}  "
            f"vi {row['vietnamese']}  {row['seconds']:.1f}s",
            flush=True,
        )
        if row["facts_missed"] and (row["split"] == "tune" or args.show_test):  # the test half's stay unread
            print(f"{'':<28} missed: {'; '.join(row['facts_missed'])}", flush=True)
    print_groups(rows)
    if args.json:
        with args.json.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
