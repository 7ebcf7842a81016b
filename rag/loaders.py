"""Files -> Document: decode, extract text, NFC-normalise, find a title."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import LoaderError, RagError
from rag.types import Document
from rag.vietnamese import nfc

log = logging.getLogger(__name__)
T = TypeVar("T")

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES
MAX_TITLE_CHARS = 200


def discover(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Supported files under the given files/folders (sorted), and paths skipped with a reason."""
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
            else:
                skipped.append((path, f"unsupported file type {path.suffix or '(none)'}"))
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or name.lower() in {"license", "readme.md", "sources.md"}:
                        continue
                    file = Path(root) / name
                    if file.suffix.lower() in SUPPORTED_SUFFIXES:
                        found.append(file)
        else:
            skipped.append((path, "no such file or folder"))
    return sorted(set(found)), skipped


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks so large files cost no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def load(path: Path, *, source: str | None = None) -> Document:
    """Read one file into a Document; raise LoaderError naming the file and the reason."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LoaderError(f"cannot read {path}: {e.strerror or e}") from e
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoaderError(
            f"{path}: unsupported file type {suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    text = decode(raw, path)
    if suffix in HTML_SUFFIXES:
        title, text = _html_text(text)
    else:
        title = _markdown_title(text) if suffix != ".txt" else _first_line_title(text)
    text = nfc(text).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoaderError(f"{path} contains no text")
    title = nfc(title).strip() or path.stem
    return Document(source=source or str(path), title=title, text=text, sha256=hashlib.sha256(raw).hexdigest())


def decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16; anything else is refused, not guessed."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as e:
            raise LoaderError(f"{path}: broken UTF-16 text ({e.reason})") from e
    if b"\x00" in raw[:8192]:
        raise LoaderError(f"{path} looks like a binary file, not text: convert it to .txt first")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LoaderError(f"{path} is not valid UTF-8 (byte {e.start}): save it as UTF-8 and ingest again") from e


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= MAX_TITLE_CHARS else ""
    return ""


def _markdown_title(text: str) -> str:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    return match.group(1) if match else _first_line_title(text)


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "nav", "footer", "head"})
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "table",
            "ul",
            "ol",
            "blockquote",
            "pre",
            "header",
            "main",
            "title",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.h1_parts: list[str] = []
        self._skip_depth = 0
        self._in_title = False
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skip_depth = 0  # HTML5 lets </head> be omitted
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip_depth += 1
        if tag == "h1":
            self._in_h1 = True
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag == "h1":
            self._in_h1 = False
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth:
            self.parts.append(data)
            if self._in_h1:
                self.h1_parts.append(data)


def _html_text(html: str) -> tuple[str, str]:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(parser.title_parts).split()) or " ".join("".join(parser.h1_parts).split())
    return title, text


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
