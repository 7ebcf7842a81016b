"""Uploaded file names made safe; uploads never overwrite or half-write."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from rag.ingest.uploads import safe_upload_name, store_upload


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Users\\an\\báo cáo.txt", "báo cáo.txt"),
        ("..", "tai-lieu"),
        (".bashrc", "bashrc"),
        ("a\x00b.txt", "ab.txt"),
        ("dòng\nmới\r.md", "dòngmới.md"),
        ("Báo cáo   tổng kết 2021.docx", "Báo cáo tổng kết 2021.docx"),
        ("Quye\u0302\u0301t đi\u0323nh.pdf", "Quyết định.pdf"),  # NFD from macOS becomes NFC
        ("hóa-đơn\u202egnp.exe", "hóa-đơngnp.exe"),  # a direction override would show it as ...exe.png
        ('kế hoạch: "mới"?.txt', "kế hoạch_ _mới__.txt"),
        ("", "tai-lieu"),
    ],
)
def test_names_are_made_safe_and_stay_readable(given: str, safe: str) -> None:
    assert safe_upload_name(given) == safe


def test_a_300_character_name_is_cut_between_letters_and_keeps_its_extension() -> None:
    name = safe_upload_name("Điều lệ " * 40 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode("utf-8")) <= 200
    assert name.startswith("Điều lệ Điều lệ")
    name.encode("utf-8").decode("utf-8")  # whole characters only


def test_a_second_file_with_the_same_name_is_kept_beside_the_first(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    first, second = tmp_path / "a" / "ghi-chú.txt", tmp_path / "b" / "ghi-chú.txt"
    for path, text in ((first, "Bản thứ nhất."), (second, "Bản thứ hai.")):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    kept = store_upload(first, folder)
    other = store_upload(second, folder)
    again = store_upload(second, folder)
    assert (kept.path.name, kept.renamed, kept.existed) == ("ghi-chú.txt", False, False)
    assert (other.path.name, other.renamed, other.existed) == ("ghi-chú (2).txt", True, False)
    assert (again.path, again.existed) == (other.path, True)  # the same content is recognised, not copied
    assert (folder / "ghi-chú.txt").read_text(encoding="utf-8") == "Bản thứ nhất."
    assert (folder / "ghi-chú (2).txt").read_text(encoding="utf-8") == "Bản thứ hai."
    assert sorted(p.name for p in folder.iterdir()) == ["ghi-chú (2).txt", "ghi-chú.txt"]  # no temp files left


def test_a_path_in_the_name_cannot_leave_the_folder(tmp_path: Path) -> None:
    source = tmp_path / "x.txt"
    source.write_text("nội dung", encoding="utf-8")
    stored = store_upload(source, tmp_path / "uploads", name="../../../outside.txt")
    assert stored.path == tmp_path / "uploads" / "outside.txt"
    assert not (tmp_path / "outside.txt").exists()


def test_a_copy_that_fails_half_way_leaves_neither_a_file_nor_a_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "hồ-sơ.txt").write_text("Bản cũ, còn nguyên.", encoding="utf-8")
    source = tmp_path / "new" / "hồ-sơ.txt"
    source.parent.mkdir()
    source.write_text("Bản mới " * 1000, encoding="utf-8")

    def copy_half(src, dst, length=0) -> None:  # noqa: ANN001 - shutil.copyfileobj's signature
        dst.write(src.read(100))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", copy_half)
    with pytest.raises(OSError, match="No space left"):
        store_upload(source, folder)
    assert [p.name for p in folder.iterdir()] == ["hồ-sơ.txt"]
    assert (folder / "hồ-sơ.txt").read_text(encoding="utf-8") == "Bản cũ, còn nguyên."


def test_two_uploads_of_one_name_at_once_both_keep_their_content(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    sources = []
    for n in range(6):
        path = tmp_path / f"src{n}" / "biên-bản.txt"
        path.parent.mkdir()
        path.write_text(f"Biên bản số {n}. " * 200, encoding="utf-8")
        sources.append(path)
    stored: list[Path] = []
    threads = [threading.Thread(target=lambda s=s: stored.append(store_upload(s, folder).path)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(set(stored)) == 6
    contents = sorted(p.read_text(encoding="utf-8") for p in stored)
    assert contents == sorted(s.read_text(encoding="utf-8") for s in sources)
