"""Segments of a large text file join to exactly the loader's text, in bounded memory."""

from __future__ import annotations

import hashlib
import tracemalloc
import unicodedata
from pathlib import Path

import pytest

from rag.errors import LoaderError
from rag.text.loaders import load
from rag.text.streaming import TextSegments

TEXT = (
    "Hà Nội\r\n\r\nHà Nội là thủ đô.\rThành phố có nhiều hồ.\r\n"
    + "Sông Hồng chảy qua thành phố, phù sa bồi đắp đồng bằng. " * 40
    + "\n\n"
    + unicodedata.normalize("NFD", "Tiếng Việt viết ở dạng NFD: ướt át, người ngợm. ") * 30
    + "x" * 700
)


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe")], ids=str
)
@pytest.mark.parametrize("segment_chars", [7, 64, 1000, 100_000])
def test_segments_join_to_the_loader_text(tmp_path: Path, encoding: str, bom: bytes, segment_chars: int) -> None:
    path = tmp_path / "van ban.txt"
    raw = bom + TEXT.encode(encoding)
    path.write_bytes(raw)
    segments = TextSegments(path, segment_chars=segment_chars)
    parts = list(segments)
    doc = load(path)
    assert "".join(text for _, text in parts) == doc.text
    assert [offset for offset, _ in parts] == [sum(len(t) for _, t in parts[:i]) for i in range(len(parts))]
    assert (segments.sha256, segments.title) == (hashlib.sha256(raw).hexdigest(), doc.title)
    if segment_chars == 64:
        assert len(parts) > 10  # really cut, mostly after line breaks
        # no paragraph or line break in [64, 256): cut at 4 x 64 characters
        assert parts[0][1].startswith("Hà Nội\n\nHà Nội là thủ đô.\nThành phố có nhiều hồ.\nSông Hồng")
        assert len(parts[0][1]) == 256


def test_memory_stays_bounded_on_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "lon.txt"
    paragraph = ("Đồng bằng sông Cửu Long là vựa lúa lớn nhất cả nước. " * 20 + "\n\n").encode("utf-8")
    with path.open("wb") as handle:
        for _ in range(24 * 2**20 // len(paragraph)):
            handle.write(paragraph)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        total = sum(len(text) for _, text in TextSegments(path, segment_chars=500_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == len(path.read_text(encoding="utf-8"))
    # a whole-file read would hold the bytes and the decoded text (3x the file); segments need a few MB
    assert peak < size / 2, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file"


def test_binary_invalid_and_empty_files(tmp_path: Path) -> None:
    binary = tmp_path / "anh.txt"
    binary.write_bytes(b"GIF89a\x00\x01" * 100)
    with pytest.raises(LoaderError, match="looks like a binary file"):
        list(TextSegments(binary))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Hà Nội".encode() + b" \xe0 la carte")
    with pytest.raises(LoaderError, match=r"cannot tell the encoding of .*latin.txt: .* save it as UTF-8"):
        list(TextSegments(latin))  # the same refusal as the whole-file loader's
    late = tmp_path / "late.txt"
    head = "Hà Nội là thủ đô.\n".encode() * (2**20 // 20 + 1)  # the first 1 MB block is valid UTF-8
    late.write_bytes(head + b" \xe0 la carte")
    with pytest.raises(LoaderError, match=rf"late.txt is not valid UTF-8 \(near byte {len(head) + 1}\)"):
        list(TextSegments(late))
    blank = tmp_path / "trang.txt"
    blank.write_text("\n \n\t\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="trang.txt contains no text"):
        list(TextSegments(blank))


def test_encoding_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "utf16be.txt"
    path.write_bytes("Hà Nội mùa thu".encode("utf-16-be"))  # no byte order mark: not detectable
    assert [text for _, text in TextSegments(path, encoding="utf-16-be")] == ["Hà Nội mùa thu"]


@pytest.mark.parametrize("encoding", ["cp1258", "tcvn3", "vni"])
def test_large_legacy_encoded_file_streams_to_the_loader_text(tmp_path: Path, encoding: str) -> None:
    """A file bigger than one read block in a legacy encoding: detected from the first block, and
    a letter written as two bytes (VNI and Windows-1258 put the mark after the base letter) is not
    broken where a block ends."""
    from rag.text.encodings import encode_legacy
    from rag.text.streaming import BLOCK_BYTES

    paragraph = "Đồng bằng sông Cửu Long là vựa lúa lớn nhất, người dân trồng lúa nước.\n\n"
    head = encode_legacy("Đồng bằng sông Cửu Long\n\n" + paragraph * 2000, encoding)
    # "Việt": put its "ệ" on the last byte of the first block (and the next one, if it takes two)
    head += b" " * (BLOCK_BYTES - 1 - len(head) - 2)
    raw = head + encode_legacy("Việt Nam.\n\n", encoding) + encode_legacy(paragraph, encoding) * 20_000
    path = tmp_path / f"cu-{encoding}.txt"
    path.write_bytes(raw)
    assert len(head) + 2 == BLOCK_BYTES - 1
    segments = TextSegments(path, segment_chars=200_000)
    joined, expected = "".join(text for _, text in segments), load(path).text
    # (pytest's diff of two 1.5M-character strings would take minutes: report where they part)
    first_difference = next((i for i, (a, b) in enumerate(zip(joined, expected, strict=False)) if a != b), None)
    assert (first_difference, len(joined)) == (None, len(expected))
    assert joined.count("Việt Nam.") == 1
    assert joined.count("vựa lúa lớn nhất") == 22_000
