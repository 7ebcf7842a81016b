"""Large plain-text files read in segments, so memory does not grow with the file.

A segment is decoded incrementally (``codecs`` incremental decoders), has its line ends made
``\\n`` and is NFC-normalised, exactly as ``rag.text.loaders.load`` treats a whole file; segments are
cut after a paragraph break (or at least a line break), where NFC of the parts equals NFC of the
whole, so the segments joined are the text the loader would produce and offsets computed per
segment plus the segment's offset are offsets into that text.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from rag.errors import LoaderError
from rag.text.loaders import first_line_title, markdown_title
from rag.text.vietnamese import nfc

DEFAULT_SEGMENT_CHARS = 2_000_000
BLOCK_BYTES = 1 << 20
_SNIFF_BYTES = 8192


class TextSegments:
    """Iterate ``(offset, text)`` segments of a text file; afterwards ``sha256`` is the hash of its bytes.

    Args:
        path: the file.
        encoding: a codec name or one of ``rag.text.encodings.LEGACY_ENCODINGS``; None detects it from
            the first block (a UTF-16 byte order mark, UTF-8, else Windows-1258 / TCVN3 / VNI by
            ``rag.text.encodings.decode``, which refuses a block it cannot read clearly).
        segment_chars: a segment is cut at the first paragraph break after this many characters
            (at a line break if the paragraph runs on to twice this, at any character after 4x).
    """

    def __init__(self, path: Path, *, encoding: str | None = None, segment_chars: int = DEFAULT_SEGMENT_CHARS):
        self.path = Path(path)
        self.encoding = encoding
        self.segment_chars = segment_chars
        self.sha256 = ""
        self.title = ""

    def __iter__(self) -> Iterator[tuple[int, str]]:
        digest = hashlib.sha256()
        offset = 0
        pending = ""
        consumed = 0
        has_text = False
        try:
            with self.path.open("rb") as handle:
                first = handle.read(BLOCK_BYTES)
                encoding = self.encoding or _detect(first, self.path)
                decoder = _decoder(encoding)
                block = first
                while True:
                    digest.update(block)
                    final = len(block) == 0
                    try:
                        pending += decoder.decode(block, final=final)
                    except UnicodeDecodeError as e:
                        name = "UTF-8" if encoding.startswith("utf-8") else encoding
                        raise LoaderError(
                            f"{self.path} is not valid {name} (near byte {consumed + max(e.start, 0)}): "
                            "save it as UTF-8 and ingest again"
                        ) from e
                    consumed += len(block)
                    pending = pending.replace("\r\n", "\n")
                    while (cut := _cut(pending, self.segment_chars, final)) > 0:
                        segment = nfc(pending[:cut].replace("\r", "\n"))
                        pending = pending[cut:]
                        if not has_text and segment.strip():
                            self.title = _title(segment, markdown=self.path.suffix.lower() != ".txt")
                            has_text = True
                        yield offset, segment
                        offset += len(segment)
                    if final:
                        break
                    block = handle.read(BLOCK_BYTES)
        except OSError as e:
            raise LoaderError(f"cannot read {self.path}: {e.strerror or e}") from e
        self.sha256 = digest.hexdigest()
        if not has_text:
            raise LoaderError(f"{self.path} contains no text")


def _detect(first: bytes, path: Path) -> str:
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in first[:_SNIFF_BYTES]:
        raise LoaderError(f"{path} looks like a binary file, not text: convert it to .txt first")
    try:
        codecs.getincrementaldecoder("utf-8-sig")("strict").decode(first, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    from rag.text import encodings

    sample = first[: first.rfind(b"\n") + 1] or first
    return encodings.decode(sample, path)[1]  # a legacy encoding, or LoaderError naming the fix


class _LegacyDecoder:
    """Incremental decoding for rag.text.encodings' legacy tables: the last byte of a block waits for the
    next one, since a VNI letter can be a base byte followed by a mark byte."""

    def __init__(self, encoding: str) -> None:
        self._encoding, self._tail = encoding, b""

    def decode(self, data: bytes, final: bool = False) -> str:
        from rag.text.encodings import decode_legacy

        data = self._tail + data
        data, self._tail = (data, b"") if final else (data[:-1], data[-1:])
        return decode_legacy(data, self._encoding)


def _decoder(encoding: str) -> codecs.IncrementalDecoder | _LegacyDecoder:
    from rag.text.encodings import LEGACY_ENCODINGS

    if encoding in LEGACY_ENCODINGS:
        return _LegacyDecoder(encoding)
    return codecs.getincrementaldecoder(encoding)("strict")


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def _cut(text: str, target: int, final: bool) -> int:
    """Where to end the next segment of text (0: wait for more text): the first paragraph break in
    [target, 2*target), else the first line break in [target, 4*target), else at 4*target."""
    if final:
        return len(text)  # the last segment takes everything, a trailing "\r" included
    if len(text) < target:
        return 0
    match = _PARAGRAPH_BREAK.search(text, target, 2 * target)
    if match:
        return match.end()
    if len(text) < 2 * target:
        return 0
    newline = text.find("\n", target, 4 * target)
    if newline >= 0:
        return newline + 1
    if len(text) < 4 * target:
        return 0
    cut = 4 * target
    # Never split "\r\n" or a letter from its combining marks (Vietnamese tone marks all have a
    # non-zero combining class), so NFC of the parts is NFC of the whole.
    while cut < len(text) and (text[cut - 1] == "\r" or _combines(text[cut])):
        cut += 1
    return cut if cut < len(text) else 0


def _combines(char: str) -> bool:
    import unicodedata

    return unicodedata.combining(char) != 0


def _title(text: str, *, markdown: bool) -> str:
    return markdown_title(text) if markdown else first_line_title(text)
