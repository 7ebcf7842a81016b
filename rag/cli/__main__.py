"""`python -m rag.cli ...` runs the `rag` command."""

from rag.cli.main import main_entry

main_entry()
