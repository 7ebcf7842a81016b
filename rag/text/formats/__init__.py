"""Per-format text extraction; rag.text.loaders picks the format and wraps the result in a Document."""
