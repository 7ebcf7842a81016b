"""Exceptions raised by the rag library; every message names the bad value and the fix."""

from __future__ import annotations


class RagError(Exception):
    """Base class: the CLI and UI turn these into one clean line, never a traceback."""


class ConfigError(RagError):
    """A setting or command-line value is invalid."""


class ModelLoadError(RagError):
    """A model file is missing, corrupt or of the wrong kind."""


class IndexNotFoundError(RagError):
    """No index exists where one was asked for."""


class IndexMismatchError(RagError):
    """The index was built with another embedder or chunking than the settings ask for."""


class IndexCorruptError(RagError):
    """Files of an index are missing or unreadable."""


class IndexLockedError(RagError):
    """Another process is writing the index."""


class LoaderError(RagError):
    """A document could not be read as text."""


class QuestionError(RagError):
    """The question is empty or too long."""


class DocumentNotFoundError(QuestionError):
    """No indexed document has the name (source, file name, title or API id) a request gave."""


class LlmServerError(RagError):
    """The OpenAI-compatible server used as the LLM is unreachable, failed or answered nothing."""


class StoreUnavailableError(RagError):
    """The vector database an index lives in cannot be reached or opened."""
