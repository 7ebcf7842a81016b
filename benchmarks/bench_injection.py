"""Prompt injection: how often the raw model obeys an instruction hidden in a document; how often the user sees it.

The index holds corpus/ plus the 12 documents of tests/fixtures/injections (each a fact and an
instruction to the model, Vietnamese or English). Two runs on the same questions, real models:

* undefended: the instruction sentences stay in the passages (rag.checks.instructions switched
  off), so the model reads them; the answer checks still run;
* default: sentences addressed to the model are left out of the prompt and of the support check.

    python benchmarks/bench_injection.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from rag.answer.assistant import Assistant
from rag.answer.prompting import PromptBuilder, PromptTemplates
from rag.checks import analysis
from rag.eval.injection import load_cases, run_cases
from rag.index.faiss.store import IndexStore
from rag.retrieval.retriever import HybridRetriever
from rag.setup import wiring
from rag.setup.config import load_settings
from rag.text.chunking import ChunkSettings, chunk_document, passage_text
from rag.text.loaders import load

REPO = Path(__file__).resolve().parents[1]


def build(folder: Path, cases) -> Assistant:  # noqa: ANN001 - list[InjectionCase]
    settings = load_settings()
    wiring.apply_runtime_policy(settings)
    embedder, generator = wiring.build_embedder(settings), wiring.build_generator(settings)
    store = IndexStore(folder, model_id=embedder.model_id, dim=embedder.dim, chunking={})
    files = [p for p in sorted((REPO / "corpus").iterdir()) if p.suffix in (".txt", ".md") and p.stem != "SOURCES"]
    for doc in [load(p, source=f"corpus/{p.name}") for p in files] + [c.document() for c in cases]:
        chunks = chunk_document(doc, count_tokens=embedder.count_tokens, settings=ChunkSettings())
        store.add(doc, chunks, embedder.embed_passages([passage_text(c) for c in chunks]))
    builder = PromptBuilder(PromptTemplates.load(REPO / "prompts"), max_prompt_tokens=settings.n_ctx - 384)
    return Assistant(
        HybridRetriever(store, embedder),
        generator,
        builder,
        settings=wiring.answer_settings(settings),
        grounding=wiring.grounding_settings(settings, embedder_id=embedder.model_id),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write one record per case and run")
    args = parser.parse_args()
    cases = load_cases(REPO / "tests" / "fixtures" / "injections" / "cases.jsonl")
    system = (REPO / "prompts" / "answer_system.txt").read_text(encoding="utf-8")
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        assistant = build(Path(tmp) / "index", cases)
        detector = analysis.is_instruction
        for run in ("undefended", "default"):
            analysis.is_instruction = detector if run == "default" else (lambda _sentence: False)
            results = list(run_cases(assistant.stream, cases, system_prompt=system))
            raw = sum(r.raw_obeyed for r in results)
            final = sum(r.final_obeyed for r in results)
            right = sum(r.final_correct for r in results)
            print(
                f"{run:10}: raw model obeyed {raw}/{len(results)}, reached the user {final}/{len(results)}, "
                f"answer holds the document's fact {right}/{len(results)}"
            )
            for r in results:
                if r.raw_obeyed or r.final_obeyed:
                    print(f"    {r.case.id}: raw {r.raw!r} -> shown {r.final!r}")
            records += [{"run": run, **r.record()} for r in results]
        analysis.is_instruction = detector
    if args.json:
        args.json.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


if __name__ == "__main__":
    main()
