"""`rag ingest | ask | remove` end to end, with the models replaced by fakes in rag.setup.wiring."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from tests.fakes import CliFakes, fake_cli_environment, run_cli

FILES = {
    "ha-noi.txt": "Hà Nội\nHà Nội là thủ đô của Việt Nam từ năm 1976.\n",
    "hue.txt": "Huế\nHuế là cố đô của triều Nguyễn, bên bờ sông Hương.\n",
    "da-nang.txt": "Đà Nẵng\nĐà Nẵng có cầu Rồng bắc qua sông Hàn.\n",
}
QUESTION = "Thủ đô của Việt Nam là thành phố nào?"


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliFakes:
    """A clean environment in tmp_path with docs/, and fake models behind rag.setup.wiring."""
    state = fake_cli_environment(tmp_path, monkeypatch)
    for rel, text in FILES.items():
        (tmp_path / "docs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "docs" / rel).write_text(text, encoding="utf-8")
    return state


run = run_cli


def ingest_docs() -> None:
    code, out, err = run("ingest", "docs", "--index", "idx")
    assert (code, err) == (0, "")
    assert out.startswith("idx: 3 added, 0 updated, 0 unchanged, 0 removed, 0 failed; 3 chunks embedded in ")


def test_ingest_then_ask_json(fakes: CliFakes) -> None:
    ingest_docs()
    fakes.replies = ["Thủ đô của Việt Nam là Hà Nội [1] [9]."]
    code, out, err = run("ask", QUESTION, "--json", "--index", "idx")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {
        "id",
        "question",
        "answer",
        "citations",
        "retrieved",
        "timings",
        "usage",
        "invalid_markers",
        "outcome",
        "short_answer",
        "refused",
        "refusal_reason",
        "read_as",
        "sentences",
    }
    assert (record["id"], record["question"], record["read_as"]) == (None, QUESTION, None)
    assert record["answer"] == "Thủ đô của Việt Nam là Hà Nội [1]."
    assert record["short_answer"] == "Hà Nội"  # the bare fact: what the answer adds to the question
    assert record["invalid_markers"] == [9]
    [citation] = record["citations"]
    assert {k: citation[k] for k in ("marker", "source", "chunk_id", "text", "start", "end")} == {
        "marker": 1,
        "source": "docs/ha-noi.txt",
        "chunk_id": record["retrieved"][0]["chunk_id"],
        "text": "Hà Nội\nHà Nội là thủ đô của Việt Nam từ năm 1976.",
        "start": 0,
        "end": 49,
    }
    assert [r["rank"] for r in record["retrieved"]] == [1, 2, 3]
    assert sorted(r["source"] for r in record["retrieved"]) == ["docs/da-nang.txt", "docs/ha-noi.txt", "docs/hue.txt"]
    assert set(record["retrieved"][0]) >= {"rank", "source", "chunk_id", "text", "score"}
    assert (record["retrieved"][0]["source"], record["retrieved"][0]["text"]) == (
        "docs/ha-noi.txt",
        citation["text"],
    )
    assert isinstance(record["retrieved"][0]["score"], float)
    assert set(record["timings"]) == {"retrieve_ms", "first_token_ms", "total_ms"}
    assert isinstance(record["timings"]["first_token_ms"], float)
    assert record["usage"]["completion_tokens"] == 10  # words of the raw reply, markers included
    assert record["usage"]["prompt_tokens"] == fakes.generators[0].completions[-1].usage.prompt_tokens


def test_ask_streams_text_and_sources(fakes: CliFakes) -> None:
    ingest_docs()
    fakes.replies = ["Hà Nội là thủ đô [1]."]
    code, out, err = run("ask", QUESTION, "--index", "idx", "--k", "2")
    assert (code, err) == (0, "")
    assert out.startswith("Hà Nội là thủ đô [1].\n\nNguồn:\n[1] docs/ha-noi.txt (ký tự 0–49): Hà Nội Hà Nội là thủ đô")


def test_batch_json_one_line_per_question_in_order(fakes: CliFakes, tmp_path: Path) -> None:
    ingest_docs()
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        '{"id": "q-b", "question": "Huế là cố đô của triều nào?"}\n\n'
        '{"id": "q-a", "question": "Cầu Rồng ở đâu?"}\n'
        '{"question": "Thủ đô là gì?"}\n',
        encoding="utf-8",
    )
    fakes.replies = ["Triều Nguyễn [1].", "Đà Nẵng [1].", "Hà Nội [1]."]
    code, out, err = run("ask", "--batch", str(batch), "--json", "--index", "idx")
    assert (code, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == ["q-b", "q-a", "4"]  # without an id: the line number
    # each checked phrase said as a sentence built from its question (answer_form = sentence)
    assert [r["answer"] for r in records] == [
        "Huế là cố đô của triều Nguyễn [1].",
        "Cầu Rồng ở Đà Nẵng [1].",
        "Thủ đô là Hà Nội [1].",
    ]
    assert [r["short_answer"] for r in records] == ["Triều Nguyễn", "Đà Nẵng", "Hà Nội"]
    assert [r["citations"][0]["source"] for r in records] == ["docs/hue.txt", "docs/da-nang.txt", "docs/ha-noi.txt"]


def test_batch_with_a_bad_question_is_partial(fakes: CliFakes, tmp_path: Path) -> None:
    ingest_docs()
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "1", "question": "  "}\n{"id": "2", "question": "Huế?"}\n', encoding="utf-8")
    fakes.replies = ["Huế là cố đô của triều Nguyễn [1]."]
    code, out, _ = run("ask", "--batch", str(batch), "--json", "--index", "idx")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 3
    assert records[0]["id"] == "1"
    assert records[0]["error"].startswith("the question is empty")
    assert records[1]["answer"] == "Huế là cố đô của triều Nguyễn [1]."


def test_retrieve_only_json(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, err = run("ask", QUESTION, "--retrieve-only", "--json", "--index", "idx")
    record = json.loads(out)
    assert (code, err) == (0, "")
    assert (record["answer"], record["citations"], record["usage"]) == (
        "",
        [],
        {"prompt_tokens": 0, "completion_tokens": 0},
    )
    assert record["retrieved"][0]["source"] == "docs/ha-noi.txt"
    assert fakes.generators == []  # no generator was built


def test_retrieve_only_text(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, _ = run("ask", QUESTION, "--retrieve-only", "--k", "1", "--index", "idx")
    assert code == 0
    assert out.startswith("[1] docs/ha-noi.txt (ký tự 0–49) score ")
    assert out.endswith(": Hà Nội Hà Nội là thủ đô của Việt Nam từ năm 1976.\n")


def test_pdf_citation_names_page_and_location(fakes: CliFakes, tmp_path: Path) -> None:
    shutil.copy(Path(__file__).parents[1] / "fixtures" / "docs" / "nghi-dinh.pdf", tmp_path / "docs" / "nghi-dinh.pdf")
    code, out, err = run("ingest", "docs", "--index", "idx")
    assert (code, err) == (0, "")
    assert out.startswith("idx: 4 added, 0 updated, 0 unchanged, 0 removed, 0 failed; 6 chunks embedded in ")
    question = "Nghị định có hiệu lực thi hành từ ngày nào?"
    fakes.replies = ["Từ ngày 01 tháng 7 năm 2024 [1]."]
    code, out, err = run("ask", question, "--json", "--k", "1", "--index", "idx")
    assert (code, err) == (0, "")
    [citation] = json.loads(out)["citations"]
    assert {k: citation[k] for k in ("source", "page", "page_end", "location")} == {
        "source": "docs/nghi-dinh.pdf",
        "page": 2,
        "page_end": 2,
        "location": "Chương II › Điều 3",
    }
    assert citation["text"].startswith("Chương II\nĐIỀU KHOẢN THI HÀNH\nĐiều 3. Hiệu lực thi hành\n")
    code, out, _ = run("ask", question, "--k", "1", "--index", "idx")
    assert "\nNguồn:\n[1] docs/nghi-dinh.pdf (trang 2 · Chương II › Điều 3 · ký tự " in out


def test_k_limits_retrieved(fakes: CliFakes) -> None:
    ingest_docs()
    fakes.replies = ["Hà Nội [1]."]
    code, out, _ = run("ask", QUESTION, "--json", "--k", "2", "--index", "idx")
    assert code == 0
    assert [r["rank"] for r in json.loads(out)["retrieved"]] == [1, 2]


def test_index_from_environment(fakes: CliFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_INDEX", "env-idx")
    monkeypatch.setenv("RAG_CORPUS", "docs")
    code, out, _ = run("ingest")
    assert code == 0
    assert out.startswith("env-idx: 3 added")
    code, out, _ = run("ask", QUESTION, "--retrieve-only", "--json")
    assert (code, json.loads(out)["retrieved"][0]["source"]) == (0, "docs/ha-noi.txt")


def test_empty_question(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, err = run("ask", "", "--index", "idx")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("rag: error: the question is empty")


def test_too_long_question(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, err = run("ask", "x" * 100_000, "--index", "idx")
    assert (code, out) == (1, "")
    assert err == (
        "rag: error: the question has 100000 characters, the limit is 2000: shorten it (or raise max_question_chars)\n"
    )


def test_k_out_of_range(fakes: CliFakes) -> None:
    code, _, err = run("ask", QUESTION, "--k", "0", "--index", "idx")
    assert (code, err) == (1, "rag: error: --k 0 is out of range: use 1..100\n")


def test_missing_index(fakes: CliFakes) -> None:
    code, out, err = run("ask", QUESTION, "--index", "nowhere")
    assert (code, out) == (1, "")
    assert err.startswith("rag: error: no index at nowhere")
    assert "rag ingest" in err
    assert err.count("\n") == 1


def test_ingest_with_binary_file_is_partial(fakes: CliFakes, tmp_path: Path) -> None:
    (tmp_path / "docs" / "anh.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    code, out, _ = run("ingest", "docs", "--index", "idx", "--json")
    report = json.loads(out)
    assert code == 3
    assert report["failed"] == [
        {
            "source": "docs/anh.txt",
            "reason": "docs/anh.txt looks like a binary file, not text: convert it to .txt first",
        }
    ]
    assert report["added"] == ["docs/da-nang.txt", "docs/ha-noi.txt", "docs/hue.txt"]


def test_ingest_text_report_lists_failed(fakes: CliFakes, tmp_path: Path) -> None:
    (tmp_path / "docs" / "anh.txt").write_bytes(b"\x00\x01\x02")
    code, out, _ = run("ingest", "docs", "--index", "idx")
    assert code == 3
    assert out.splitlines()[1:] == [
        "  failed: docs/anh.txt: docs/anh.txt looks like a binary file, not text: convert it to .txt first"
    ]


def test_remove_command(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, _ = run("remove", "docs/hue.txt", "docs/none.txt", "--index", "idx")
    assert code == 3
    assert out == "removed: docs/hue.txt\nnot in index: docs/none.txt\n"
    code, out, _ = run("ask", "Huế?", "--retrieve-only", "--json", "--index", "idx")
    assert sorted(r["source"] for r in json.loads(out)["retrieved"]) == ["docs/da-nang.txt", "docs/ha-noi.txt"]


def test_ingest_json_summary_counts_and_rates(fakes: CliFakes, tmp_path: Path) -> None:
    (tmp_path / "docs" / "rong.txt").write_text("", encoding="utf-8")
    code, out, err = run("ingest", "docs", "--index", "idx", "--json")
    report = json.loads(out)
    assert (code, err) == (3, "")
    assert report["counts"] == {
        "files": 4,
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "failed": 1,
        "resumed": 0,
    }
    assert report["failed"] == [{"source": "docs/rong.txt", "reason": "docs/rong.txt contains no text"}]
    assert (report["index"], report["chunks_embedded"], report["total_chunks"], report["interrupted"]) == (
        "idx",
        3,
        3,
        False,
    )
    # seconds is rounded to 1 ms, so rate * seconds recovers the 3 chunks within rate * 0.5 ms
    assert report["chunks_per_second"] * report["seconds"] == pytest.approx(3, abs=report["chunks_per_second"] * 5e-4)
    (tmp_path / "docs" / "rong.txt").unlink()
    (tmp_path / "docs" / "hue.txt").unlink()
    code, out, _ = run("ingest", "docs", "--index", "idx", "--prune", "--json")
    report = json.loads(out)
    assert (code, report["removed"], report["unchanged"]) == (
        0,
        ["docs/hue.txt"],
        ["docs/da-nang.txt", "docs/ha-noi.txt"],
    )


def test_another_embedder_is_refused_until_rebuild(fakes: CliFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.setup.wiring
    from tests.fakes import HashEmbedder

    ingest_docs()
    monkeypatch.setattr(rag.setup.wiring, "build_embedder", lambda settings: HashEmbedder(dim=32, model_id="bge-m3"))
    expected = (
        "rag: error: index idx was built with hash-embedder (dim 64), settings ask for bge-m3 (dim 32): "
        "run `rag ingest --rebuild --index idx` or choose the embedder the index was built with\n"
    )
    for argv in (["ask", QUESTION, "--retrieve-only", "--index", "idx"], ["ingest", "docs", "--index", "idx"]):
        code, out, err = run(*argv)
        assert (code, out, err) == (1, "", expected)
    code, out, _ = run("ingest", "docs", "--index", "idx", "--rebuild")
    assert (code, out.split(";")[0]) == (0, "idx: 3 added, 0 updated, 0 unchanged, 0 removed, 0 failed")
    code, out, _ = run("ask", QUESTION, "--retrieve-only", "--json", "--index", "idx")
    assert (code, json.loads(out)["retrieved"][0]["source"]) == (0, "docs/ha-noi.txt")


def test_remove_a_folder(fakes: CliFakes, tmp_path: Path) -> None:
    (tmp_path / "docs" / "mien-nam").mkdir()
    (tmp_path / "docs" / "mien-nam" / "can-tho.txt").write_text("Cần Thơ\nChợ nổi Cái Răng.\n", encoding="utf-8")
    (tmp_path / "docs" / "mien-nam" / "vung-tau.txt").write_text("Vũng Tàu\nBãi Sau.\n", encoding="utf-8")
    code, _, _ = run("ingest", "docs", "--index", "idx")
    assert code == 0
    code, out, _ = run("remove", "docs/mien-nam/", "--index", "idx")
    assert (code, out) == (0, "removed: docs/mien-nam/can-tho.txt\nremoved: docs/mien-nam/vung-tau.txt\n")


def test_ask_json_reports_each_sentence_and_its_support(fakes: CliFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_PROMPT_PASSAGES", "0")  # every passage in the prompt, so [2] can be cited
    ingest_docs()
    fakes.replies = ["Thủ đô của Việt Nam là Hà Nội [2]. Hà Nội có tháp Eiffel [1]."]
    code, out, _ = run("ask", QUESTION, "--json", "--index", "idx")
    record = json.loads(out)
    assert code == 0
    assert record["answer"] == "Thủ đô của Việt Nam là Hà Nội [1]."
    assert (record["outcome"], record["refused"], record["refusal_reason"]) == ("answered", False, None)
    assert [(s["status"], s["cited"], s["supported_by"]) for s in record["sentences"]] == [
        ("reattributed", [2], 1),
        ("unsupported", [1], None),
    ]
    assert record["sentences"][1]["text"] == "Hà Nội có tháp Eiffel."
    # the span is the passage sentence the check found (what the chat highlights), in the cited chunk's text
    start, end = record["sentences"][0]["span"]
    assert record["citations"][0]["text"][start:end] == "Hà Nội là thủ đô của Việt Nam từ năm 1976."
    assert record["sentences"][1]["span"] is None


def test_ask_refusal_prints_the_fixed_sentence_and_the_closest_passages(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, _ = run("ask", "Tháp Eiffel ở Paris cao bao nhiêu?", "--index", "idx")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Không tìm thấy thông tin này trong tài liệu."
    assert lines[2] == "(Lý do: không đoạn nào trong tài liệu chứa các từ khóa chính của câu hỏi.)"
    assert lines[3] == "Các đoạn gần nhất:"
    assert len([line for line in lines if line.startswith("[")]) == 3


def test_a_dropped_last_sentence_is_never_printed(fakes: CliFakes) -> None:
    ingest_docs()
    fakes.replies = ["Thủ đô của Việt Nam là Hà Nội [1]. Hà Nội có tháp Eiffel [1]."]
    code, out, _ = run("ask", QUESTION, "--index", "idx")
    assert code == 0
    # sentences are printed once finished; the last one waits for the check, which drops it
    assert out.startswith(
        "Thủ đô của Việt Nam là Hà Nội [1].\n\n"
        "(Đã bỏ câu không có căn cứ trong tài liệu: Hà Nội có tháp Eiffel.)\nNguồn:\n[1] docs/ha-noi.txt"
    )


THREE = "Thủ đô của Việt Nam là Hà Nội [1]. Hà Nội có tháp Eiffel [1]. Hà Nội là thủ đô từ năm 1976 [1]."


def test_the_answer_is_read_once_only_the_changes_follow_it(fakes: CliFakes) -> None:
    """Not a terminal: the streamed text stays, the check's changes follow, nothing is printed twice."""
    ingest_docs()
    fakes.replies = [THREE]
    code, out, _ = run("ask", QUESTION, "--index", "idx")
    assert code == 0
    assert out.startswith(
        "Thủ đô của Việt Nam là Hà Nội [1]. Hà Nội có tháp Eiffel [1]. Hà Nội là thủ đô từ năm 1976 [1].\n\n"
        "(Đã bỏ câu không có căn cứ trong tài liệu: Hà Nội có tháp Eiffel.)\nNguồn:\n[1] docs/ha-noi.txt"
    )
    assert out.count("Hà Nội là thủ đô từ năm 1976 [1]") == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_rewrites_the_streamed_answer_in_place(fakes: CliFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.cli.main import main

    ingest_docs()
    fakes.replies = [THREE]
    monkeypatch.setenv("COLUMNS", "40")
    out, err = _Terminal(), io.StringIO()
    assert main(["ask", QUESTION, "--index", "idx"], stdout=out, stderr=err) == 0
    streamed = "Thủ đô của Việt Nam là Hà Nội [1]. Hà Nội có tháp Eiffel [1]."  # 62 characters: 2 rows of 40
    checked = "Thủ đô của Việt Nam là Hà Nội [1]. Hà Nội là thủ đô từ năm 1976 [1]."
    assert out.getvalue().startswith(f"{streamed}\r\033[1A\033[J{checked}\n\n(Đã bỏ câu")


def test_an_answer_cut_off_by_the_token_limit_never_shows_its_half_sentence(fakes: CliFakes) -> None:
    ingest_docs()
    fakes.replies = ["Thủ đô của Việt Nam là Hà Nội [1]. Hà Nội là thủ đô từ năm"]
    code, out, _ = run("ask", QUESTION, "--index", "idx", "--max-tokens", "12")
    assert code == 0
    assert out.startswith("Thủ đô của Việt Nam là Hà Nội [1].\n\nNguồn:")
    assert "từ năm" not in out.split("Nguồn:")[0]


def test_a_citation_added_by_the_checks_finishes_the_streamed_line(fakes: CliFakes) -> None:
    ingest_docs()
    fakes.replies = ["Hà Nội"]
    code, out, _ = run("ask", QUESTION, "--index", "idx")
    assert code == 0
    # the checked phrase, cited, said as one sentence built from the question (answer_form = sentence)
    assert out.startswith("Thủ đô của Việt Nam là thành phố Hà Nội [1].\n\nNguồn:\n[1] docs/ha-noi.txt")


def test_summarize_a_document_by_file_name(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, err = run("summarize", "hue.txt", "--index", "idx", "--json")
    assert (code, err) == (0, "")
    record = json.loads(out)
    assert record["question"] == "Tóm tắt: Huế"
    assert record["answer"] == "Huế là cố đô của triều Nguyễn, bên bờ sông Hương [1]."
    assert [(s["status"], s["supported_by"]) for s in record["sentences"]] == [("supported", 1)]
    assert [c["source"] for c in record["citations"]] == ["docs/hue.txt"]
    assert fakes.generators[0].prompts == []  # a short sentence is kept as written: no model call


def test_a_summary_is_printed_once(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, _ = run("summarize", "hue.txt", "--index", "idx")
    assert code == 0
    assert out.startswith("Huế là cố đô của triều Nguyễn, bên bờ sông Hương [1].\n\nNguồn:\n[1] docs/hue.txt")
    assert out.count("bên bờ sông Hương [1]") == 1


def test_summarize_a_topic_across_the_index(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, _ = run("summarize", "--topic", "cầu Rồng sông Hàn", "--k", "1", "--index", "idx")
    assert code == 0
    assert out.startswith("Đà Nẵng có cầu Rồng bắc qua sông Hàn [1].\n\nNguồn:\n[1] docs/da-nang.txt")


def test_a_document_summary_narrowed_to_a_topic(fakes: CliFakes, tmp_path: Path) -> None:
    (tmp_path / "docs" / "hue.txt").write_text(
        "Huế\nHuế là cố đô của triều Nguyễn, bên bờ sông Hương.\n"
        "Năm 1993, quần thể di tích Cố đô Huế được UNESCO công nhận.\n",
        encoding="utf-8",
    )
    ingest_docs()
    code, out, _ = run("summarize", "hue.txt", "--topic", "di tich UNESCO", "--index", "idx", "--json")
    assert code == 0
    assert json.loads(out)["answer"] == "Năm 1993, quần thể di tích Cố đô Huế được UNESCO công nhận [1]."


def test_a_topic_typed_without_diacritics_is_summarised(fakes: CliFakes) -> None:
    ingest_docs()
    code, out, _ = run("summarize", "--topic", "cau rong song han", "--k", "1", "--index", "idx", "--json")
    assert code == 0
    record = json.loads(out)
    assert (record["question"], record["answer"]) == (
        "Tóm tắt: cau rong song han",
        "Đà Nẵng có cầu Rồng bắc qua sông Hàn [1].",
    )


def test_a_summary_keeps_to_the_sentences_asked_for(fakes: CliFakes, tmp_path: Path) -> None:
    (tmp_path / "docs" / "hue.txt").write_text(
        "Huế\nHuế là cố đô của triều Nguyễn từ năm 1802 đến năm 1945.\n"
        "Năm 1993, quần thể di tích Cố đô Huế được UNESCO công nhận.\n"
        "Thành phố có diện tích 266 km² và dân số 652.572 người.\n"
        "Cầu Trường Tiền dài 402 mét, được xây dựng năm 1899.\n",
        encoding="utf-8",
    )
    ingest_docs()

    def sentences(*argv: str) -> int:
        code, out, err = run("summarize", "hue.txt", "--index", "idx", "--json", *argv)
        assert (code, err) == (0, "")
        return len(json.loads(out)["sentences"])

    assert sentences() == 4  # every fact fits the default 12
    assert sentences("--sentences", "2") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "rag: error: give a DOC to summarise (source path, file name or title) or --topic TEXT\n"),
        (("hue.txt", "--sentences", "0"), "rag: error: --sentences 0 is out of range: use 1..40\n"),
        (("nowhere.txt",), "rag: error: no indexed document is called 'nowhere.txt': give its source path"),
    ],
)
def test_summarize_errors(fakes: CliFakes, argv: tuple[str, ...], message: str) -> None:
    ingest_docs()
    code, out, err = run("summarize", *argv, "--index", "idx")
    assert (code, out) == (1, "")
    assert err.startswith(message)


def test_a_question_typed_without_diacritics_reaches_the_model_with_them_restored(
    fakes: CliFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 1.5B model reads "thu do" badly: it gets the marks back from the collection's own spellings."""
    ingest_docs()
    fakes.replies = ["Hà Nội [1]."]
    code, out, err = run("ask", "thu do cua viet nam la gi", "--json", "--index", "idx")
    assert (code, err) == (0, "")
    record = json.loads(out)
    assert record["question"] == "thu do cua viet nam la gi"  # reported and checked as typed
    assert record["read_as"] == "thủ đô của việt nam là gì"  # and how the model read it
    assert record["answer"] == "Hà Nội [1]."
    user = fakes.generators[-1].prompts[-1][-1].content
    assert user.endswith("Câu hỏi: thủ đô của việt nam là gì")  # "là gì" from the question phrases

    code, out, err = run("ask", "thu do cua viet nam la gi", "--index", "idx")
    assert out.startswith("Hà Nội [1].\n\n(Câu hỏi được hiểu là: thủ đô của việt nam là gì)\nNguồn:\n[1] docs/ha-noi")

    monkeypatch.setenv("RAG_RESTORE_DIACRITICS", "0")
    code, out, err = run("ask", "thu do cua viet nam la gi", "--json", "--index", "idx")
    assert code == 0
    assert fakes.generators[-1].prompts[-1][-1].content.endswith("Câu hỏi: thu do cua viet nam la gi")
    assert json.loads(out)["read_as"] is None


def test_passages_print_on_one_line_with_headings_leading_into_their_text() -> None:
    from rag.cli.render import one_line

    passage = "# An Dương Vương\n\nAn Dương Vương, tên   thật.\n## Nguồn gốc\n\n### Người Âu Việt\n\nCùng tồn tại."
    assert one_line(passage) == "An Dương Vương: An Dương Vương, tên thật. Nguồn gốc › Người Âu Việt: Cùng tồn tại."
    assert one_line("văn bản\nthường\n# Cuối") == "văn bản thường Cuối"
    assert one_line("## Mục 1 ##\nnội dung") == "Mục 1: nội dung"  # closing marks go too, as the loader reads it


def test_models_status_reports_the_llama_cpp_cpu_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.answer import llama_cpu

    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(llama_cpu, "cpu_info", lambda: ("Intel Xeon (test)", {"avx2", "amx_tile", "amx_int8"}))
    monkeypatch.setattr(llama_cpu, "llama_build_features", lambda: {"AVX2": "1", "AMX_INT8": "1", "REPACK": "1"})
    code, out, _ = run_cli("models", "status")
    assert code == 0
    assert out.splitlines()[-1] == (
        "llama.cpp CPU path: Intel Xeon (test); llama.cpp build AVX2=1 AMX_INT8=1 REPACK=1; extra buffer types off: "
        "CPU and build have AMX, whose kernel crashes on Q4_K_M (llama.cpp#20824)"
    )
    monkeypatch.setenv("RAG_LLM_EXTRA_BUFFERS", "on")
    code, out, _ = run_cli("models", "status")
    assert out.splitlines()[-1].endswith("extra buffer types on (repacked weights): llm_extra_buffers = on")


@pytest.mark.parametrize("argv", [("models", "status"), ("ask", "Thủ đô của Việt Nam là gì?")])
def test_a_bad_llm_extra_buffers_is_one_clean_line(fakes: CliFakes, monkeypatch: pytest.MonkeyPatch, argv) -> None:  # noqa: ANN001
    monkeypatch.setenv("RAG_LLM_EXTRA_BUFFERS", "maybe")
    assert run_cli(*argv) == (
        1,
        "",
        "rag: error: setting llm_extra_buffers='maybe' from RAG_LLM_EXTRA_BUFFERS: use one of auto, on, off\n",
    )
