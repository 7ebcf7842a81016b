"""The `rag` command line: every subcommand and its flags."""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.answer.summary_settings import SummarySettings
from rag.cli.serve import add_llm_flags
from rag.cli.serve import add_parser as add_serve_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Offline Vietnamese question answering over your documents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_index_commands(sub)
    _add_answer_commands(sub)
    _add_eval_commands(sub)
    _add_app_commands(sub)
    return parser


def _add_index_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="add or update documents in an index")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the corpus setting)")
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--rebuild", action="store_true", help="start the index afresh (after a model or chunking change)")
    p.add_argument("--prune", action="store_true", help="remove indexed files under PATHS that no longer exist")
    p.add_argument(
        "--store", choices=["faiss", "milvus"], help="where a new (or --rebuild) index lives (default: settings)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("remove", help="remove documents from an index")
    p.add_argument("sources", nargs="+", help="source paths as listed by ingest")
    p.add_argument("--index", type=Path)

    p = sub.add_parser("copy-index", help="copy an index into another folder and store, without embedding again")
    p.add_argument("source", type=Path, help="the index folder to copy")
    p.add_argument("target", type=Path, help="a new index folder")
    p.add_argument("--store", choices=["faiss", "milvus"], help="the target's store (default: settings)")

    p = sub.add_parser("export-docs", help="write a docs.jsonl (doc_id, title, text) as one .txt file per doc")
    p.add_argument("jsonl", type=Path)
    p.add_argument("out_dir", type=Path)


def _add_answer_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask a question; the answer streams with [n] citations")
    p.add_argument("question", nargs="?", help="the question, in Vietnamese")
    p.add_argument("--batch", type=Path, help="JSONL file of {id, question}; one JSON answer per line")
    p.add_argument("--json", action="store_true", help="print JSON instead of streaming text")
    p.add_argument("--retrieve-only", action="store_true", help="skip generation, only retrieve passages")
    p.add_argument("--k", type=int, help="number of passages to retrieve (default 4)")
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--max-tokens", type=int, help="answer length limit in tokens")
    add_llm_flags(p)

    p = sub.add_parser("summarize", help="a cited summary of a document, or of the passages on a topic")
    p.add_argument("doc", nargs="?", help="an indexed document: its source path, file name or title")
    p.add_argument("--topic", help="what the summary is about; without DOC, the index's passages on it are summarised")
    p.add_argument("--k", type=int, default=8, help="passages retrieved for a --topic summary without DOC (default 8)")
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--max-tokens", type=int, help="summary length limit in tokens")
    p.add_argument(
        "--sentences",
        type=int,
        help=f"at most this many sentences (default {SummarySettings.max_sentences}; a summary also keeps within a"
        " quarter of the document)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of streaming text")
    add_llm_flags(p)


def _add_eval_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="measure retrieval (and answers) on a questions JSONL file")
    p.add_argument("questions", type=Path, help="JSONL with id, question, answers (optional doc_id)")
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument("--k", type=int, default=10, help="passages retrieved per question (default 10)")
    p.add_argument("--retrieve-only", action="store_true", help="only measure retrieval")
    p.add_argument("--limit", type=int, help="use the first N questions")
    p.add_argument("--mode", choices=["hybrid", "dense", "lexical"], help="retrieval mode (default: settings)")
    p.add_argument("--strip-diacritics", action="store_true", help="ask every question without diacritics")
    p.add_argument(
        "--unanswerable",
        action="store_true",
        help="hide each question's own article from retrieval (as an index lacking it): measures refusals",
    )
    p.add_argument(
        "--delete-answer-sentence",
        action="store_true",
        help="remove every sentence holding the gold answer from the question's own article: measures refusals",
    )
    p.add_argument("--out", type=Path, help="per-question JSONL (default eval-<timestamp>.jsonl in the index)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--no-baseline", action="store_true", help="skip the naive baseline (BM25 top 4, plain prompt, no checks)"
    )
    p.add_argument(
        "--replies",
        type=Path,
        help="JSONL of the model's replies: replayed when a prompt was seen before, else generated and appended",
    )
    add_llm_flags(p)


def _add_app_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="start the browser chat (http://127.0.0.1:7860)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--index", type=Path, help="index folder (default indexes/default)")
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve beyond loopback without a login (anyone who can reach it may upload and delete documents)",
    )
    add_llm_flags(p)
    add_serve_parser(sub)

    p = sub.add_parser("models", help="install or check the default offline models")
    p.add_argument("action", choices=["install", "status", "verify"])
    p.add_argument("--force", action="store_true", help="rebuild even if already installed")
