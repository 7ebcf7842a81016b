"""`rag ...`: parse the command line, run the subcommand, turn errors into one line and an exit code."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from rag.cli.codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from rag.cli.commands import cmd_ask, cmd_copy_index, cmd_ingest, cmd_models, cmd_remove, cmd_summarize, cmd_ui
from rag.cli.evaluate import cmd_eval
from rag.cli.parser import build_parser
from rag.cli.serve import cmd_serve
from rag.errors import RagError
from rag.setup.config import load_settings


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=err, format="%(message)s")
    try:
        settings = load_settings().replace(
            llm_url=getattr(args, "llm_url", None), llm_model=getattr(args, "llm_model", None)
        )
        from rag.setup.wiring import apply_runtime_policy

        apply_runtime_policy(settings)
        if args.command == "ingest":
            return cmd_ingest(args, settings, out, err)
        if args.command == "remove":
            return cmd_remove(args, settings, out)
        if args.command == "ask":
            return cmd_ask(args, settings, out, err)
        if args.command == "ui":
            return cmd_ui(args, settings, err)
        if args.command == "serve":
            return cmd_serve(args, settings, err)
        if args.command == "summarize":
            return cmd_summarize(args, settings, out, err)
        if args.command == "eval":
            return cmd_eval(args, settings, out, err)
        if args.command == "copy-index":
            return cmd_copy_index(args, settings, out, err)
        if args.command == "export-docs":
            from rag.text.loaders import export_jsonl_documents

            written = export_jsonl_documents(args.jsonl, args.out_dir)
            print(f"wrote {len(written)} documents to {args.out_dir}", file=out)
            return EXIT_OK
        return cmd_models(args, settings, out)
    except RagError as e:
        print(f"rag: error: {e}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rag: interrupted; the index on disk is the last complete state", file=err)
        return EXIT_INTERRUPTED


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    main_entry()
