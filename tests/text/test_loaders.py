"""Loaders: files -> Document with NFC text and a title; unreadable files raise LoaderError."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest

from rag.errors import LoaderError
from rag.ingest.discovery import discover
from rag.text.loaders import load


def test_txt_title_is_first_line(tmp_path: Path) -> None:
    path = tmp_path / "quy-dinh.txt"
    raw = "\n  Quy định chung  \nĐiều 1. Phạm vi điều chỉnh.\n".encode()
    path.write_bytes(raw)
    doc = load(path)
    assert doc.title == "Quy định chung"
    assert doc.text == "\n  Quy định chung  \nĐiều 1. Phạm vi điều chỉnh.\n"
    assert doc.source == str(path)
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()


def test_a_text_that_opens_with_its_lead_sentence_has_no_title_line(tmp_path: Path) -> None:
    lead = "Phan Bội Châu (1867 – 1940) là một danh sĩ và là nhà cách mạng Việt Nam, hoạt động thời Pháp thuộc."
    path = tmp_path / "phan-boi-chau.txt"
    path.write_text(f"{lead}\n\n== Tên gọi ==\nÔng vốn tên là Phan Văn San.\n", encoding="utf-8")
    assert load(path).title == "phan-boi-chau"  # the file's name: a 20-word sentence is no title
    # a short line is a title even with a full stop; so is a long one without
    path.write_text("Báo cáo tổng kết năm 2016.\n\nNội dung.\n", encoding="utf-8")
    assert load(path).title == "Báo cáo tổng kết năm 2016."
    heading = "Những kết quả nổi bật công tác Tuyên giáo năm 2021 của Đảng ủy Khối các cơ quan tỉnh Trà Vinh"
    path.write_text(f"{heading}\n\nNội dung.\n", encoding="utf-8")
    assert load(path).title == heading


def test_source_as_given(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Nội dung.", encoding="utf-8")
    assert load(path, source="docs/a.txt").source == "docs/a.txt"


def test_txt_crlf_becomes_lf(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("Dòng một\r\nDòng hai\rDòng ba".encode())
    assert load(path).text == "Dòng một\nDòng hai\nDòng ba"


def test_md_title_from_heading(tmp_path: Path) -> None:
    path = tmp_path / "huong-dan.md"
    path.write_text("Lời mở đầu\n\n# Hướng dẫn đăng ký #\n\nNội dung.\n", encoding="utf-8")
    doc = load(path)
    assert doc.title == "Hướng dẫn đăng ký"
    assert doc.text == "Lời mở đầu\n\n# Hướng dẫn đăng ký #\n\nNội dung.\n"


def test_md_without_heading_uses_first_line(tmp_path: Path) -> None:
    path = tmp_path / "ghi-chu.md"
    path.write_text("## Mục phụ\nNội dung.\n", encoding="utf-8")
    assert load(path).title == "## Mục phụ"


def test_html_title_text_and_dropped_scripts(tmp_path: Path) -> None:
    path = tmp_path / "thu-tuc.html"
    path.write_text(
        "<!doctype html><html><head><title>Thủ tục  hành chính</title>"
        "<style>body{color:red}</style><script>var x = 'bí mật';</script></head>"
        "<body><nav>Menu</nav><h1>Đăng ký kết hôn</h1>"
        "<p>Hồ sơ gồm   tờ khai&nbsp;và giấy tờ tùy thân.</p><p>Nộp tại UBND xã &amp; phường.</p>"
        "<script>alert('x')</script><footer>Bản quyền</footer></body></html>",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Thủ tục hành chính"
    assert doc.text == "Đăng ký kết hôn\n\nHồ sơ gồm tờ khai và giấy tờ tùy thân.\n\nNộp tại UBND xã & phường."


def test_html_without_title_uses_h1(tmp_path: Path) -> None:
    path = tmp_path / "trang.htm"
    path.write_text("<body><h1>Tiêu đề <b>chính</b></h1><p>Nội dung.</p></body>", encoding="utf-8")
    doc = load(path)
    assert doc.title == "Tiêu đề chính"
    assert doc.text == "Tiêu đề chính\n\nNội dung."


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffQuy định chung\nĐiều 1.".encode())
    doc = load(path)
    assert doc.title == "Quy định chung"
    assert doc.text == "Quy định chung\nĐiều 1."


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_bom(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "utf16.txt"
    text = "Tiêu đề\nNội dung tiếng Việt."
    raw = ("\ufeff" + text).encode(encoding) if encoding == "utf-16-be" else text.encode(encoding)
    assert raw[:2] in (b"\xff\xfe", b"\xfe\xff")
    path.write_bytes(raw)
    doc = load(path)
    assert (doc.title, doc.text) == ("Tiêu đề", text)


def test_nfd_file_comes_out_nfc(tmp_path: Path) -> None:
    path = tmp_path / "nfd.txt"
    text = "Nghị định\nĐiều kiện được hưởng trợ cấp."
    path.write_text(unicodedata.normalize("NFD", text), encoding="utf-8")
    doc = load(path)
    assert doc.text == text
    assert doc.title == "Nghị định"
    assert unicodedata.is_normalized("NFC", doc.text) is True


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "anh.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(LoaderError, match=r"anh\.txt looks like a binary file"):
        load(path)


def test_undecodable_text_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "la.txt"
    path.write_bytes(b"Gr\xfc\xdfe aus K\xf6ln und M\xfcnchen")  # German in cp1252: no Vietnamese reading
    with pytest.raises(LoaderError) as info:
        load(path)
    assert str(info.value).startswith(f"cannot tell the encoding of {path}: it is not UTF-8 or UTF-16")
    assert str(info.value).endswith(": save it as UTF-8 and ingest again")


@pytest.mark.parametrize("content", [b"", b"  \n\n \t"])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "rong.txt"
    path.write_bytes(content)
    with pytest.raises(LoaderError, match=r"rong\.txt contains no text"):
        load(path)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    odt = tmp_path / "x.odt"
    odt.write_bytes(b"PK\x03\x04")
    with pytest.raises(LoaderError, match=r"unsupported file type \.odt; supported: \.docx, \.htm, \.html, \.jsonl"):
        load(odt)
    with pytest.raises(LoaderError, match=r"cannot read .*missing\.txt"):
        load(tmp_path / "missing.txt")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for rel in [
        "b.txt",
        "a.md",
        "README.md",
        "LICENSE",
        "notes.odt",
        "scan.pdf",
        "data.jsonl",
        ".secret.txt",
        ".hidden/x.txt",
        "sub/c.html",
        "sub/Z.txt",
        "sub/e.HTM",
        "sub/deep/d.markdown",
    ]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Nội dung.", encoding="utf-8")
    return root


def test_discover_folder_sorted_recursive_hidden_skipped(folder: Path) -> None:
    found, skipped = discover([folder])
    assert [p.relative_to(folder).as_posix() for p in found] == [
        "a.md",
        "b.txt",
        "data.jsonl",
        "scan.pdf",
        "sub/Z.txt",
        "sub/c.html",
        "sub/deep/d.markdown",
        "sub/e.HTM",
    ]
    assert skipped == []


def test_discover_reports_unsupported_and_missing_given_directly(folder: Path) -> None:
    found, skipped = discover([folder / "notes.odt", folder / "missing", folder / "b.txt", folder / "b.txt"])
    assert found == [folder / "b.txt"]
    assert skipped == [
        (folder / "notes.odt", "unsupported file type .odt"),
        (folder / "missing", "no such file or folder"),
    ]


def test_html_without_closing_head_keeps_its_body(tmp_path: Path) -> None:
    path = tmp_path / "trang.html"
    path.write_text("<html><head><title>Tiêu đề</title><body><p>Nội dung chính.</p></body>", encoding="utf-8")
    doc = load(path)
    assert (doc.title, doc.text) == ("Tiêu đề", "Nội dung chính.")


def test_an_eth_written_for_d_is_loaded_as_d(tmp_path: Path) -> None:
    path = tmp_path / "hien-phap.txt"
    path.write_text("Hiến pháp\n\n\u00d0iều 4 quy định vai trò của \u00d0ảng.\n", encoding="utf-8")
    doc = load(path)
    assert "Điều 4 quy định vai trò của Đảng." in doc.text
    assert "\u00d0" not in doc.text
