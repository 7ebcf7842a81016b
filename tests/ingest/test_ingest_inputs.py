"""Bad input loses nothing: each bad file is reported with its reason and the rest is ingested."""

from __future__ import annotations

import os
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from rag.index.faiss.store import IndexStore
from rag.ingest.files import FileLimits
from rag.ingest.pipeline import ingest, remove
from rag.text.chunking import ChunkSettings
from tests.fakes import HashEmbedder

CHUNKING = ChunkSettings(max_tokens=32, overlap_tokens=8)
GOOD = {"ha-noi.txt": "Hà Nội\nHà Nội là thủ đô của Việt Nam.\n", "hue.md": "# Huế\n\nHuế là cố đô của triều Nguyễn.\n"}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in GOOD.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _ingest(paths: list[Path], index: Path, embedder: HashEmbedder | None = None, **options):  # noqa: ANN202
    return ingest(paths, index=index, embedder=embedder or HashEmbedder(), chunking=CHUNKING, **options)


def _good(docs: Path) -> list[str]:
    return [str(docs / "ha-noi.txt"), str(docs / "hue.md")]


def test_empty_and_binary_files(docs: Path, tmp_path: Path) -> None:
    (docs / "rong.txt").write_bytes(b"")
    (docs / "trang.md").write_text("  \n\n \t\n", encoding="utf-8")
    (docs / "anh.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    report = _ingest([docs], tmp_path / "idx")
    assert report.failed == [
        (str(docs / "anh.txt"), f"{docs / 'anh.txt'} looks like a binary file, not text: convert it to .txt first"),
        (str(docs / "rong.txt"), f"{docs / 'rong.txt'} contains no text"),
        (str(docs / "trang.md"), f"{docs / 'trang.md'} contains no text"),
    ]
    assert report.added == _good(docs)
    assert sorted(IndexStore.load(tmp_path / "idx").documents) == _good(docs)


def test_file_over_the_size_limit_is_refused_without_reading_it(docs: Path, tmp_path: Path) -> None:
    big = docs / "lon.txt"
    with big.open("wb") as handle:  # sparse: 200 MB on paper, nothing on disk
        handle.truncate(200 * 2**20)
    embedder = HashEmbedder()
    report = _ingest([docs], tmp_path / "idx", embedder, limits=FileLimits(max_file_bytes=100 * 2**20))
    assert report.failed == [
        (
            str(big),
            f"{big} is 200.0 MB, above the limit of 100 MB: "
            "raise max_file_mb (rag.toml or RAG_MAX_FILE_MB) to ingest it",
        )
    ]
    assert report.added == _good(docs)
    assert embedder.passages_embedded == 2  # one chunk per good file, nothing of the big one


def test_loader_crash_on_a_damaged_file_is_reported(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser raising something unexpected (a damaged PDF can) costs that file only."""
    import rag.ingest.files

    real_load_all = rag.ingest.files.load_all

    def load_all(path: Path, *, source: str | None = None):  # noqa: ANN202
        if path.name == "hue.md":
            raise ValueError("stream ended unexpectedly")
        return real_load_all(path, source=source)

    monkeypatch.setattr(rag.ingest.files, "load_all", load_all)
    report = _ingest([docs], tmp_path / "idx")
    hue = docs / "hue.md"
    assert report.failed == [
        (str(hue), f"{hue} could not be read (ValueError: stream ended unexpectedly); the file may be damaged")
    ]
    assert report.added == [str(docs / "ha-noi.txt")]


def test_truncated_and_encrypted_pdfs(docs: Path, tmp_path: Path) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("mat-khau")
    with (docs / "ma-hoa.pdf").open("wb") as handle:
        writer.write(handle)
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with (docs / "cut.pdf").open("wb") as handle:
        writer.write(handle)
    data = (docs / "cut.pdf").read_bytes()
    (docs / "cut.pdf").write_bytes(data[: len(data) // 2])
    report = _ingest([docs], tmp_path / "idx")
    assert sorted(source for source, _ in report.failed) == [str(docs / "cut.pdf"), str(docs / "ma-hoa.pdf")]
    reasons = dict(report.failed)
    assert "password" in reasons[str(docs / "ma-hoa.pdf")]
    assert "truncated" in reasons[str(docs / "cut.pdf")]
    assert all(reason.startswith(source) for source, reason in report.failed)
    assert report.added == _good(docs)


def test_vietnamese_names_with_spaces_in_nfc_and_nfd(docs: Path, tmp_path: Path) -> None:
    nfd_name = unicodedata.normalize("NFD", "Đà Nẵng quê tôi.txt")
    nfc_name = "Cố đô Huế (bản 2).md"
    assert nfd_name != unicodedata.normalize("NFC", nfd_name)
    (docs / nfd_name).write_text("Đà Nẵng\nĐà Nẵng có cầu Rồng bắc qua sông Hàn.\n", encoding="utf-8")
    (docs / nfc_name).write_text("# Huế xưa\n\nKinh thành Huế bên sông Hương.\n", encoding="utf-8")
    index = tmp_path / "idx"
    embedder = HashEmbedder()
    report = _ingest([docs], index, embedder)
    assert report.failed == []
    assert sorted(report.added) == sorted([*_good(docs), str(docs / nfd_name), str(docs / nfc_name)])
    store = IndexStore.load(index)
    [(chunk, _)] = store.search(embedder.embed_query("cầu Rồng sông Hàn"), 1)
    assert (chunk.source, chunk.title) == (str(docs / nfd_name), "Đà Nẵng")
    # typed in NFC (as a keyboard gives it), the NFD-named file is still found and removed
    assert remove([str(docs / unicodedata.normalize("NFC", nfd_name))], index=index) == [str(docs / nfd_name)]
    assert str(docs / nfd_name) not in IndexStore.load(index).documents
    assert _ingest([docs], index).unchanged == sorted([*_good(docs), str(docs / nfc_name)])


def test_symbolic_links_loops_and_broken_links(docs: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "da-lat.txt").write_text("Đà Lạt\nĐà Lạt là thành phố ngàn hoa.\n", encoding="utf-8")
    (docs / "linked").symlink_to(extra, target_is_directory=True)  # followed
    (docs / "sub").mkdir()
    (docs / "sub" / "back").symlink_to(docs, target_is_directory=True)  # a loop back to the root
    (docs / "a.txt").symlink_to(docs / "b.txt")  # a.txt -> b.txt -> a.txt
    (docs / "b.txt").symlink_to(docs / "a.txt")
    (docs / "mat.txt").symlink_to(tmp_path / "missing.txt")
    report = _ingest([docs], tmp_path / "idx")
    assert report.failed == [
        (str(docs / "a.txt"), "symbolic link loop: the link points (through other links) back to itself"),
        (str(docs / "b.txt"), "symbolic link loop: the link points (through other links) back to itself"),
        (str(docs / "mat.txt"), f"broken symbolic link to {tmp_path / 'missing.txt'}"),
        (str(docs / "sub" / "back"), f"symbolic link loop: leads back to {docs}; not followed"),
    ]
    assert report.added == [str(docs / "ha-noi.txt"), str(docs / "hue.md"), str(docs / "linked" / "da-lat.txt")]


def test_unreadable_file_and_folder(docs: Path, tmp_path: Path) -> None:
    locked_file = docs / "khoa.txt"
    locked_file.write_text("Khóa\nTệp này không đọc được.\n", encoding="utf-8")
    locked_dir = docs / "kin"
    locked_dir.mkdir()
    (locked_dir / "trong.txt").write_text("Trong\nTệp trong thư mục khóa.\n", encoding="utf-8")
    locked_file.chmod(0)
    locked_dir.chmod(0)
    try:
        readable = os.access(locked_file, os.R_OK)  # root reads anything: then nothing may fail
        report = _ingest([docs], tmp_path / "idx")
    finally:
        locked_file.chmod(0o644)
        locked_dir.chmod(0o755)
    if readable:
        assert report.failed == []
        assert len(report.added) == 4
    else:
        assert report.failed == [
            (str(locked_file), f"cannot read {locked_file}: Permission denied"),
            (
                str(locked_dir),
                "cannot list folder: permission denied: give your user read access (chmod +r) "
                "or move it out of the folder",
            ),
        ]
        assert report.added == _good(docs)


def test_missing_path_and_unsupported_file_named_explicitly(docs: Path, tmp_path: Path) -> None:
    (tmp_path / "bang.xlsx").write_bytes(b"PK\x03\x04")
    report = _ingest([docs, tmp_path / "nowhere", tmp_path / "bang.xlsx"], tmp_path / "idx")
    assert report.failed == [
        (str(tmp_path / "nowhere"), "no such file or folder"),
        (str(tmp_path / "bang.xlsx"), "unsupported file type .xlsx"),
    ]
    assert report.added == _good(docs)


class _CheapEmbedder(HashEmbedder):
    """Constant vectors: for large files, where hashing every word would be slow."""

    def embed_passages(self, texts):  # noqa: ANN001, ANN201
        self.passage_calls += 1
        self.passages_embedded += len(texts)
        return np.tile(np.eye(1, self.dim, dtype=np.float32), (len(texts), 1))


def test_large_text_file_is_streamed_with_offsets_into_the_whole_text(tmp_path: Path) -> None:
    from rag.text.loaders import load

    paragraph = "Sông Hồng chảy qua Hà Nội. Đoạn số {n} kể về phù sa và đồng bằng Bắc Bộ.\r\n\r\n"
    big = tmp_path / "docs" / "song hong.txt"
    big.parent.mkdir()
    big.write_text("Sông Hồng\r\n\r\n" + "".join(paragraph.format(n=n) for n in range(4000)), encoding="utf-8")
    embedder = _CheapEmbedder(dim=8)
    index = tmp_path / "idx"
    report = _ingest(
        [big.parent], index, embedder, limits=FileLimits(stream_over_bytes=64 * 1024, segment_chars=50_000)
    )
    assert (report.failed, report.added) == ([], [str(big)])
    whole = load(big).text
    chunks = IndexStore.load(index).chunks_of(str(big))
    assert all(whole[c.start : c.end] == c.text for c in chunks)
    assert [c.chunk_id.rsplit("-", 1)[1] for c in chunks] == [f"{i:05d}" for i in range(len(chunks))]
    assert {c.title for c in chunks} == {"Sông Hồng"}
    assert chunks[-1].end == len(whole.rstrip("\n"))
    assert embedder.passage_calls == -(-len(whole) // 50_000)  # one embedding call per segment
    assert report.chunks_embedded == len(chunks) == embedder.passages_embedded


def test_settled_file_is_not_rehashed(docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.ingest.files

    old = time.time() - 60
    for name in GOOD:
        os.utime(docs / name, (old, old))
    index = tmp_path / "idx"
    _ingest([docs], index)
    hashed: list[Path] = []
    real_sha = rag.ingest.files.file_sha256
    monkeypatch.setattr(rag.ingest.files, "file_sha256", lambda p: hashed.append(p) or real_sha(p))
    report = _ingest([docs], index)
    assert (report.unchanged, hashed) == (_good(docs), [])
    (docs / "hue.md").write_text("# Huế\n\nHuế có chùa Thiên Mụ.\n", encoding="utf-8")
    report = _ingest([docs], index)
    assert (report.updated, hashed) == ([str(docs / "hue.md")], [docs / "hue.md"])
