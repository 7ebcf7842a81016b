"""Exit codes of `rag`: 0 done, 1 error (nothing written), 3 some files or questions failed, 130 interrupted."""

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 3, 130
