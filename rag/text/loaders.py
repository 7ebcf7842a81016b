"""Files -> Document: pick the format, decode, extract text, NFC-normalise, find a title."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import LoaderError, RagError
from rag.text import encodings
from rag.text.formats.html import html_text
from rag.text.formats.markdown import markdown_headings
from rag.text.vietnamese import nfc
from rag.types import Document, Heading

log = logging.getLogger(__name__)
T = TypeVar("T")

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
PDF_SUFFIXES = frozenset({".pdf"})
DOCX_SUFFIXES = frozenset({".docx"})
JSONL_SUFFIXES = frozenset({".jsonl"})  # several documents per file: see load_all
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | DOCX_SUFFIXES | JSONL_SUFFIXES
MAX_TITLE_CHARS = 200
_TITLE_WORDS = 12  # a first line of more words ending in a full stop is the text's first sentence


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks so large files cost no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def load(path: Path, *, source: str | None = None) -> Document:
    """Read one file into a Document; raise LoaderError naming the file and the reason.

    A .jsonl file holds several documents: use load_all (load accepts one holding a single record).
    """
    docs = load_all(path, source=source)
    if len(docs) != 1:
        raise LoaderError(f"{path} holds {len(docs)} documents (one per line): read it with load_all")
    return docs[0]


def load_all(path: Path, *, source: str | None = None) -> list[Document]:
    """Every document of one file: one for most formats, one per line of a .jsonl file.

    Each document of a .jsonl file has the source ``<source>#<id>`` (its ``id`` or ``doc_id`` field,
    else its line number) and the sha256 of the whole file.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoaderError(
            f"{path}: unsupported file type {suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LoaderError(f"cannot read {path}: {e.strerror or e}") from e
    source = source or str(path)
    sha = hashlib.sha256(raw).hexdigest()
    if not raw.strip():
        raise LoaderError(f"{path} contains no text")
    if suffix in JSONL_SUFFIXES:
        return _jsonl_documents(decode(raw, path), path, source, sha)
    headings: tuple[Heading, ...] = ()
    page_starts: tuple[int, ...] = ()
    if suffix in PDF_SUFFIXES:
        from rag.text.formats.pdf import pdf_pages

        title, pages = pdf_pages(raw, path)
        text, page_starts = _join_pages(pages)
        title = title or first_line_title(text)
    elif suffix in DOCX_SUFFIXES:
        from rag.text.formats.word import docx_text

        title, text, headings = docx_text(path)
        title = title or first_line_title(text)
    elif suffix in HTML_SUFFIXES:
        title, text, headings = html_text(_newlines(decode(raw, path)))
    else:
        text = _newlines(decode(raw, path))
        if suffix == ".txt":
            title = first_line_title(text)
        else:
            title, headings = markdown_title(text), markdown_headings(text)
    if not text.strip():
        raise LoaderError(f"{path} contains no text")
    title = nfc(title).strip() or path.stem
    return [Document(source, title, text, sha, headings=headings, page_starts=page_starts)]


def decode(raw: bytes, path: Path) -> str:
    """NFC text of a text file: UTF-8/UTF-16 (BOM or not), or Windows-1258, TCVN3 or VNI when the
    bytes clearly read as Vietnamese in one of them; LoaderError otherwise (see rag.text.encodings)."""
    text, encoding = encodings.decode(raw, path)
    if encoding not in ("utf-8", "utf-8-sig"):
        log.info("%s read as %s", path, encoding)
    return nfc(text)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """Pages separated by a blank line, and the offset where each one starts."""
    starts, parts, pos = [], [], 0
    for page in pages:
        starts.append(pos)
        parts.append(page)
        pos += len(page) + 2
    return "\n\n".join(parts), tuple(starts)


def _jsonl_documents(text: str, path: Path, source: str, sha: str) -> list[Document]:
    docs: list[Document] = []
    seen: set[str] = set()
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            body = data["text"]
            if not isinstance(body, str):
                raise TypeError("text is not a string")
        except (ValueError, KeyError, TypeError) as e:
            raise LoaderError(f"{path}:{line_no} is not a JSON object with a text field ({e}): fix that line") from e
        key = str(data.get("id") or data.get("doc_id") or line_no)
        if key in seen:
            raise LoaderError(f"{path}:{line_no} repeats the id {key!r}: give every line its own id")
        seen.add(key)
        body = nfc(_newlines(body))
        if not body.strip():
            raise LoaderError(f"{path}:{line_no} has an empty text field: fill it or remove the line")
        title = nfc(str(data.get("title") or "")).strip() or f"{path.stem} #{key}"
        docs.append(Document(f"{source}#{key}", title, body, sha))
    if not docs:
        raise LoaderError(f"{path} contains no text")
    return docs


def first_line_title(text: str) -> str:
    """The first non-empty line when it reads as a title: short, and not a sentence of more than a dozen words
    ending in a full stop (an article that opens with its lead, "Phan Bội Châu (1867 – 1940) là …", has none)."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            sentence = line.endswith((".", "!", "?", "…")) and len(line.split()) > _TITLE_WORDS
            return line if len(line) <= MAX_TITLE_CHARS and not sentence else ""
    return ""


def markdown_title(text: str) -> str:
    """The first "# heading" of a markdown text, else its first line as first_line_title reads it."""
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else first_line_title(text)


def read_jsonl(
    path: Path, parse: Callable[[dict[str, Any], int], T], *, error: type[RagError], problem: str
) -> Iterator[T]:
    """parse(object, line number) for each non-empty line; a line that is not a JSON object or that
    parse rejects (KeyError, TypeError, ValueError) raises error("<path>:<line> <problem>")."""
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise TypeError("not an object")
                yield parse(data, line_no)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise error(f"{path}:{line_no} {problem}") from e


def export_jsonl_documents(jsonl: Path, out_dir: Path) -> list[Path]:
    """Write each {doc_id, title, text} line of a JSONL file as out_dir/<doc_id>.txt (title first)."""
    if not jsonl.is_file():
        raise LoaderError(f"documents file {jsonl} does not exist")

    def parse(data: dict[str, Any], line_no: int) -> tuple[int, str, str, str]:
        doc_id = str(data["doc_id"])
        return line_no, doc_id, nfc(str(data.get("title") or doc_id)).strip(), str(data["text"])

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for line_no, doc_id, title, text in read_jsonl(
        jsonl, parse, error=LoaderError, problem="is not a JSON object with doc_id and text"
    ):
        if not re.fullmatch(r"[\w.-]+", doc_id):
            raise LoaderError(f"{jsonl}:{line_no}: doc_id {doc_id!r} is not usable as a file name")
        path = out_dir / f"{doc_id}.txt"
        path.write_text(f"{title}\n\n{nfc(text).strip()}\n", encoding="utf-8")
        written.append(path)
    return written
