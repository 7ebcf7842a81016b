"""Every supported format from a real file, with exact text, pages, headings and chunk locations."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rag.errors import LoaderError
from rag.text.chunking import ChunkSettings, chunk_document
from rag.text.encodings import encode_legacy
from rag.text.loaders import load, load_all
from rag.types import Chunk, Document, Heading

FIXTURES = Path(__file__).parents[1] / "fixtures" / "docs"
PDF = FIXTURES / "nghi-dinh.pdf"
PAGE_1 = (
    "NGHỊ ĐỊNH MẪU\nChương I\nQUY ĐỊNH CHUNG\nĐiều 1. Phạm vi điều chỉnh\n"
    "Nghị định này quy định về thủ tục đăng ký tạm trú.\nĐiều 2. Đối tượng áp dụng\n"
    "1. Công dân Việt Nam cư trú trong nước.\n2. Người nước ngoài sinh sống tại Việt Nam."
)
PAGE_2 = (  # split words of the PDF's text layer come out whole ("ĐIỀ U KHO ẢN", "Vi ệt", "nhie ̣̂m")
    "Chương II\nĐIỀU KHOẢN THI HÀNH\nĐiều 3. Hiệu lực thi hành\n"
    "Nghị định này có hiệu lực từ ngày 01 tháng 7 năm 2024 trên toàn lãnh thổ Việt Nam.\n"
    "Bộ trưởng Bộ Công an chịu trách nhiệm thi hành Nghị định này."
)
LAW = "Điều 7. Hồ sơ đăng ký\n1. Tờ khai thay đổi thông tin cư trú.\n2. Giấy tờ chứng minh chỗ ở hợp pháp."


def words(text: str) -> int:
    return len(text.split())


def chunks_of(doc: Document, max_tokens: int = 200, overlap: int = 40) -> list[Chunk]:
    return chunk_document(doc, count_tokens=words, settings=ChunkSettings(max_tokens, overlap))


def test_pdf_text_pages_and_title() -> None:
    doc = load(PDF)
    assert doc.text == PAGE_1 + "\n\n" + PAGE_2
    assert doc.page_starts == (0, len(PAGE_1) + 2)
    assert doc.title == "Nghị định mẫu về tạm trú"  # from the PDF's metadata
    assert doc.sha256 == hashlib.sha256(PDF.read_bytes()).hexdigest()


def test_pdf_chunks_carry_pages_and_legal_locations() -> None:
    chunks = chunks_of(load(PDF))
    assert [(c.page, c.page_end, c.location) for c in chunks] == [
        (1, 1, "Chương I › Điều 1"),
        (1, 1, "Chương I › Điều 2"),
        (2, 2, "Chương II › Điều 3"),
    ]
    assert chunks[1].text == PAGE_1[PAGE_1.index("Điều 2.") :]
    assert chunks[0].text.startswith("NGHỊ ĐỊNH MẪU\nChương I\nQUY ĐỊNH CHUNG\nĐiều 1.")


def test_pdf_small_chunks_name_their_clause() -> None:
    chunks = chunks_of(load(PDF), max_tokens=16, overlap=4)
    assert [(c.location, c.text) for c in chunks if "Điều 2" in c.location] == [
        ("Chương I › Điều 2 › Khoản 1", "Điều 2. Đối tượng áp dụng\n1. Công dân Việt Nam cư trú trong nước."),
        ("Chương I › Điều 2 › Khoản 2", "2. Người nước ngoài sinh sống tại Việt Nam."),
    ]


def test_pdf_chunk_across_pages(tmp_path: Path) -> None:
    doc = Document("x.pdf", "x", "Trang một.\n\nTrang hai.", page_starts=(0, 12))
    [chunk] = chunks_of(doc)
    assert (chunk.page, chunk.page_end, chunk.location) == (1, 2, "")


def _docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = ""
    document.add_paragraph("Hướng dẫn thủ tục", style="Title")
    document.add_heading("Lịch sử", level=1)
    document.add_paragraph("Thành phố được thành lập năm 1831.")
    document.add_heading("Thời kỳ Pháp thuộc", level=2)
    document.add_paragraph("Người Pháp xây  dựng nhiều công trình.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("Năm", "Sự kiện"), ("1902", "Khánh thành cầu Long Biên")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("")
    document.add_heading("Ngày nay", level=1)
    document.add_paragraph("Dân số khoảng 8,5 triệu người.")
    document.save(str(path))
    return path


def test_docx_paragraphs_tables_and_headings(tmp_path: Path) -> None:
    doc = load(_docx(tmp_path / "ha-noi.docx"))
    assert doc.title == "Hướng dẫn thủ tục"
    assert doc.text == (
        "Hướng dẫn thủ tục\nLịch sử\nThành phố được thành lập năm 1831.\nThời kỳ Pháp thuộc\n"
        "Người Pháp xây dựng nhiều công trình.\nNăm | Sự kiện\n1902 | Khánh thành cầu Long Biên\n"
        "Ngày nay\nDân số khoảng 8,5 triệu người."
    )
    assert [(h.level, h.text) for h in doc.headings] == [(1, "Lịch sử"), (2, "Thời kỳ Pháp thuộc"), (1, "Ngày nay")]
    assert [doc.text[h.start : h.start + len(h.text)] for h in doc.headings] == [h.text for h in doc.headings]
    assert [(c.location, c.text) for c in chunks_of(doc)] == [
        ("", "Hướng dẫn thủ tục"),
        ("Lịch sử", "Lịch sử\nThành phố được thành lập năm 1831."),
        (
            "Lịch sử › Thời kỳ Pháp thuộc",
            "Thời kỳ Pháp thuộc\nNgười Pháp xây dựng nhiều công trình.\n"
            "Năm | Sự kiện\n1902 | Khánh thành cầu Long Biên",
        ),
        ("Ngày nay", "Ngày nay\nDân số khoảng 8,5 triệu người."),
    ]


def test_markdown_heading_path_leaves_out_the_title(tmp_path: Path) -> None:
    path = tmp_path / "hue.md"
    path.write_text(
        "# Huế\n\nCố đô của Việt Nam.\n\n## Lịch sử\n\n### Thời Nguyễn\n\nKinh đô từ 1802.\n\n"
        "```\n# không phải tiêu đề\n```\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert [(h.start, h.level, h.text) for h in doc.headings] == [
        (0, 1, "Huế"),
        (doc.text.index("## Lịch sử"), 2, "Lịch sử"),
        (doc.text.index("### Thời"), 3, "Thời Nguyễn"),
    ]
    assert [(c.location, c.text) for c in chunks_of(doc)] == [
        ("", "# Huế\n\nCố đô của Việt Nam."),
        (
            "Lịch sử › Thời Nguyễn",
            "## Lịch sử\n\n### Thời Nguyễn\n\nKinh đô từ 1802.\n\n```\n# không phải tiêu đề\n```",
        ),
    ]


def test_html_headings_become_locations(tmp_path: Path) -> None:
    path = tmp_path / "luat.html"
    path.write_text(
        "<html><head><title>Luật Cư trú</title></head><body><h1>Luật Cư trú</h1>"
        "<h2>Chương II</h2><h3>Điều 7. Hồ sơ đăng ký</h3><p>1. Tờ khai thay đổi thông tin cư trú.</p>"
        "<p>2. Giấy tờ chứng minh chỗ ở hợp pháp.</p></body></html>",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.text == "Luật Cư trú\n\nChương II\n\n" + LAW.replace("\n", "\n\n")
    assert [(h.level, h.text) for h in doc.headings] == [
        (1, "Luật Cư trú"),
        (2, "Chương II"),
        (3, "Điều 7. Hồ sơ đăng ký"),
    ]
    assert [c.location for c in chunks_of(doc)] == ["Chương II › Điều 7"]
    assert [(c.location, c.text) for c in chunks_of(doc, 20, 4)] == [
        (
            "Chương II › Điều 7 › Khoản 1",
            "Luật Cư trú\n\nChương II\n\nĐiều 7. Hồ sơ đăng ký\n\n1. Tờ khai thay đổi thông tin cư trú.",
        ),
        ("Chương II › Điều 7 › Khoản 2", "2. Giấy tờ chứng minh chỗ ở hợp pháp."),
    ]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("utf8.txt", ("Quy định\n" + LAW).encode()),
        ("bom.txt", b"\xef\xbb\xbf" + ("Quy định\n" + LAW).encode()),
        ("utf16.txt", ("Quy định\n" + LAW).encode("utf-16")),
        ("cp1258.txt", encode_legacy("Quy định\n" + LAW, "cp1258")),
        ("tcvn3.txt", encode_legacy("Quy định\n" + LAW.lower(), "tcvn3")),
        ("vni.txt", encode_legacy("Quy định\n" + LAW, "vni")),
    ],
)
def test_text_in_every_encoding(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    doc = load(path)
    assert doc.text == "Quy định\n" + (LAW.lower() if name == "tcvn3.txt" else LAW)
    assert doc.title == "Quy định"


def test_jsonl_one_document_per_line(tmp_path: Path) -> None:
    path = tmp_path / "bai-viet.jsonl"
    lines = [
        {"id": "hn", "title": "Hà Nội", "text": "Hà Nội là thủ đô.\r\nThành phố có nhiều hồ."},
        {"title": "Huế", "text": "Huế là cố đô."},
        {"text": "Đà Nẵng có cầu Rồng."},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n", encoding="utf-8")
    docs = load_all(path, source="docs/bai-viet.jsonl")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert docs == [
        Document("docs/bai-viet.jsonl#hn", "Hà Nội", "Hà Nội là thủ đô.\nThành phố có nhiều hồ.", sha),
        Document("docs/bai-viet.jsonl#2", "Huế", "Huế là cố đô.", sha),
        Document("docs/bai-viet.jsonl#3", "bai-viet #3", "Đà Nẵng có cầu Rồng.", sha),
    ]
    with pytest.raises(LoaderError, match=r"bai-viet\.jsonl holds 3 documents \(one per line\): read it with load_all"):
        load(path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"title": "A"}\n', r":1 is not a JSON object with a text field"),
        ('{"text": "Một."}\n[1, 2]\n', r":2 is not a JSON object with a text field"),
        ('{"id": 1, "text": "Một."}\n{"id": 1, "text": "Hai."}\n', r":2 repeats the id '1'"),
        ('{"text": "  "}\n', r":1 has an empty text field"),
    ],
)
def test_jsonl_bad_lines_name_the_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoaderError, match=problem):
        load_all(path)


def test_nfd_docx_and_jsonl_come_out_nfc(tmp_path: Path) -> None:
    import unicodedata

    import docx

    nfd = unicodedata.normalize("NFD", "Điều kiện được hưởng trợ cấp")
    document = docx.Document()
    document.add_heading(nfd, level=1)
    document.add_paragraph(nfd + ".")
    document.save(str(tmp_path / "nfd.docx"))
    doc = load(tmp_path / "nfd.docx")
    assert doc.text == "Điều kiện được hưởng trợ cấp\nĐiều kiện được hưởng trợ cấp."
    assert doc.headings == (Heading(0, 1, "Điều kiện được hưởng trợ cấp"),)
    path = tmp_path / "nfd.jsonl"
    path.write_text(json.dumps({"title": nfd, "text": nfd}) + "\n", encoding="utf-8")
    assert (load(path).title, load(path).text) == ("Điều kiện được hưởng trợ cấp", "Điều kiện được hưởng trợ cấp")


def test_single_record_jsonl_loads(tmp_path: Path) -> None:
    path = tmp_path / "mot.jsonl"
    path.write_text('{"id": "a", "title": "Một", "text": "Nội dung."}\n', encoding="utf-8")
    assert (load(path).source, load(path).title, load(path).text) == (f"{path}#a", "Một", "Nội dung.")


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", ["rong.txt", "rong.pdf", "rong.docx", "rong.jsonl", "rong.html"])
def test_empty_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(LoaderError, match=rf"{path.name} contains no text"):
        load(path)


def test_truncated_pdf(tmp_path: Path) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(PDF.read_bytes()[:4000])
    with pytest.raises(LoaderError) as info:
        load(path)
    assert str(info.value) == f"{path} is truncated (no %%EOF at its end): download or export the PDF again"


def _pdf_copy(path: Path, change) -> Path:  # noqa: ANN001 - change(writer) edits a pypdf PdfWriter
    """The fixture PDF rewritten to path after change(writer): encrypted, retitled..."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(PDF))
    change(writer)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = _pdf_copy(tmp_path / "khoa.pdf", lambda w: w.encrypt(user_password="mat-khau", algorithm="RC4-128"))
    with pytest.raises(LoaderError) as info:
        load(path)
    assert str(info.value) == f"{path} is password-protected: save an unprotected copy (print to PDF) and ingest that"


def test_pdf_with_owner_password_only_is_read(tmp_path: Path) -> None:
    path = _pdf_copy(
        tmp_path / "chi-doc.pdf",
        lambda w: w.encrypt(user_password="", owner_password="chu-so-huu", algorithm="RC4-128"),
    )
    assert load(path).text == PAGE_1 + "\n\n" + PAGE_2


def test_pdf_title_named_after_a_file_falls_back_to_the_first_line(tmp_path: Path) -> None:
    path = _pdf_copy(tmp_path / "word.pdf", lambda w: w.add_metadata({"/Title": "Microsoft Word - nghi-dinh.docx"}))
    assert load(path).title == "NGHỊ ĐỊNH MẪU"


def test_scanned_pdf_without_text_layer(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(LoaderError) as info:
        load(path)
    assert str(info.value) == f"{path} has no text layer (a scanned image?): OCR it first, e.g. with ocrmypdf"


def test_text_file_renamed_pdf(tmp_path: Path) -> None:
    path = tmp_path / "gia.pdf"
    path.write_text("Không phải PDF.", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"gia\.pdf is not a PDF file \(no %PDF- header\)"):
        load(path)


@pytest.mark.parametrize("damage", ["not a zip", "zip without document"])
def test_corrupt_docx(tmp_path: Path, damage: str) -> None:
    import zipfile

    path = tmp_path / "hong.docx"
    if damage == "not a zip":
        path.write_bytes(b"PK\x03\x04 broken beyond repair")
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("word/other.xml", "<x/>")
    with pytest.raises(
        LoaderError, match=r"hong\.docx is not a readable Word \.docx file .*: open and save it again in Word"
    ):
        load(path)


def test_docx_with_broken_xml(tmp_path: Path) -> None:
    import zipfile

    good = _docx(tmp_path / "tot.docx")
    path = tmp_path / "hong.docx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    with pytest.raises(LoaderError, match=r"hong\.docx is not a readable Word \.docx file"):
        load(path)


def test_heading_dataclass_is_plain() -> None:
    assert Heading(3, 2, "Lịch sử") == Heading(start=3, level=2, text="Lịch sử")
