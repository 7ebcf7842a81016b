"""Per-format text extraction; rag.loaders picks the format and wraps the result in a Document."""
