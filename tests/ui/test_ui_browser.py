"""End to end in a real browser: `rag ui` with the real models, driven by Playwright + Debian chromium.

Asks a question about corpus/, waits for the streamed answer, clicks its citation and checks
that the highlighted passage is the one holding the answer; a second tab chats at the same
time; a screenshot is saved under the test's tmp dir.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.models

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUESTION = "Ban Tuyên giáo Đảng ủy Khối đã mở bao nhiêu lớp bồi dưỡng đối tượng kết nạp Đảng?"
SECOND = "Hội nghị tổng kết công tác tuyên giáo năm 2016 được tổ chức ở đâu?"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("ui")
    port = _free_port()
    env = dict(
        os.environ, RAG_INDEX=str(tmp / "index"), RAG_UPLOADS=str(tmp / "uploads"), GRADIO_ANALYTICS_ENABLED="False"
    )
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ui", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"rag ui exited: {(tmp / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        raise AssertionError("rag ui did not start within 300 s")
    yield url, tmp
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def _ask(page, question: str) -> None:  # noqa: ANN001 - a playwright Page
    page.fill("#rag-question textarea", question)
    page.keyboard.press("Enter")


def _upload(page, doc: Path) -> None:  # noqa: ANN001
    """Add one file through the Tài liệu tab and wait until it is indexed."""
    page.get_by_text("Tài liệu", exact=True).click()
    page.set_input_files("#rag-upload input[type=file]", str(doc))
    page.click("#rag-add")
    page.wait_for_function(
        "() => document.querySelector('#rag-status').innerText.includes('Đã thêm 1')", timeout=180_000
    )


def _wait_answer(page) -> str:  # noqa: ANN001
    page.wait_for_selector("#rag-chat a.rag-cite", timeout=180_000)
    page.wait_for_function("() => !document.querySelector('#rag-chat').innerText.includes('▌')", timeout=180_000)
    return page.inner_text("#rag-chat")


def test_question_citation_click_highlights_the_answer_passage(server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        other = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        other.goto(url)
        page.wait_for_selector("#rag-question textarea", timeout=60_000)
        other.wait_for_selector("#rag-question textarea", timeout=60_000)
        assert page.inner_text("#rag-send") == "Gửi"

        _ask(page, QUESTION)
        _ask(other, SECOND)  # a second tab chatting at the same time
        text = _wait_answer(page)
        assert "04 lớp" in text or "4 lớp" in text

        page.click("#rag-chat a.rag-cite >> nth=0")
        page.wait_for_selector(".rag-src.rag-active", timeout=10_000)
        active = page.query_selector(".rag-src.rag-active")
        assert active.get_attribute("id") == "src-0-1"
        assert "tuyen-giao-dang-uy-khoi-tinh-2021.txt" in active.inner_text()
        highlighted = " ".join(m.inner_text() for m in active.query_selector_all("mark.rag-support"))
        assert "04 lớp bồi dưỡng đối tượng kết nạp Đảng" in highlighted
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        assert (tmp_path / "chat.png").stat().st_size > 10_000

        other_text = _wait_answer(other)
        assert "Hà Nội" in other_text
        assert QUESTION not in other_text  # each tab keeps its own conversation
        assert SECOND not in page.inner_text("#rag-chat")
        browser.close()


def test_errors_show_in_vietnamese_and_the_app_keeps_serving(server) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#rag-question textarea", timeout=60_000)
        _ask(page, "x" * 3000)
        page.wait_for_selector("#rag-chat .rag-error", timeout=60_000)
        assert "Câu hỏi quá dài" in page.inner_text("#rag-chat .rag-error")
        _ask(page, QUESTION)
        assert "lớp" in _wait_answer(page)
        browser.close()


UPLOADED = (
    "Hợp tác xã Hoa Sen\n\n"
    "Hợp tác xã Hoa Sen được thành lập năm 2019 tại xã Tân Phú với 57 thành viên. "
    "Năm 2023, hợp tác xã trồng 120 héc-ta lúa hữu cơ và xuất khẩu lô gạo đầu tiên sang Nhật Bản.\n"
)


def test_upload_ask_summarise_and_remove_a_document(server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = server
    doc = tmp_path / "hop-tac-xa-hoa-sen.txt"
    doc.write_text(UPLOADED, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#rag-question textarea", timeout=60_000)
        _upload(page, doc)

        _ask(page, "Hợp tác xã Hoa Sen có bao nhiêu thành viên khi thành lập?")
        text = _wait_answer(page)
        assert "57" in text
        page.click("#rag-chat a.rag-cite >> nth=-1")
        page.wait_for_selector(".rag-src.rag-active", timeout=10_000)
        assert "hop-tac-xa-hoa-sen.txt" in page.inner_text(".rag-src.rag-active")

        page.click("#rag-docs input")
        page.get_by_role("option", name="Hợp tác xã Hoa Sen — ").click()
        page.click("#rag-summarize")
        page.wait_for_function(
            "() => document.querySelector('#rag-chat').innerText.includes('Tóm tắt tài liệu: Hợp tác xã Hoa Sen')",
            timeout=60_000,
        )
        page.wait_for_function(
            "() => document.querySelectorAll('#rag-chat a.rag-cite[href^=\"#src-1-\"]').length > 0"
            " && !document.querySelector('#rag-chat').innerText.includes('▌')",
            timeout=180_000,
        )
        page.screenshot(path=str(tmp_path / "summary.png"), full_page=True)
        assert page.locator('#rag-chat a.rag-cite[href^="#src-1-"]').count() == 2  # both sentences, each cited

        page.get_by_text("Cài đặt", exact=True).click()  # the same summary, one sentence long
        page.fill("#rag-summary-sentences input[type=number]", "1")
        page.press("#rag-summary-sentences input[type=number]", "Enter")
        page.click("#rag-summarize")
        page.wait_for_function(
            "() => document.querySelectorAll('#rag-chat a.rag-cite[href^=\"#src-2-\"]').length > 0"
            " && !document.querySelector('#rag-chat').innerText.includes('▌')",
            timeout=180_000,
        )
        assert page.locator('#rag-chat a.rag-cite[href^="#src-2-"]').count() == 1
        second = page.inner_text("#rag-chat").rsplit("Tóm tắt tài liệu: Hợp tác xã Hoa Sen", 1)[1]
        assert "57 thành viên" in second and "120 héc-ta" not in second

        page.click("#rag-delete")
        page.wait_for_function(
            "() => document.querySelector('#rag-status').innerText.includes('Đã xóa')", timeout=60_000
        )
        assert "uploads/hop-tac-xa-hoa-sen.txt" in page.inner_text("#rag-status")
        browser.close()


HOSTILE = (
    "Báo cáo <script>window.__xss = 'title'</script> về hồ Tây\n\n"
    "Hồ Tây là hồ nước ngọt lớn nhất nội thành Hà Nội, rộng khoảng 500 héc-ta. "
    "<img src=x onerror=\"window.__xss = 'img'\"> Quanh hồ có chùa Trấn Quốc "
    "<script>window.__xss = 'script'; alert(1)</script> được xây từ thế kỷ thứ sáu.\n"
)


def test_markup_in_a_document_shows_as_text_and_runs_no_script(server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = server
    doc = tmp_path / "<img src=x onerror=alert(2)>ho-tay.txt"
    doc.write_text(HOSTILE, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url)
        page.wait_for_selector("#rag-question textarea", timeout=60_000)
        _upload(page, doc)
        _ask(page, "Hồ Tây rộng khoảng bao nhiêu héc-ta?")
        text = _wait_answer(page)
        assert "500" in text
        page.click("#rag-chat a.rag-cite >> nth=-1")
        page.wait_for_selector(".rag-src.rag-active", timeout=10_000)
        card = page.inner_text(".rag-src.rag-active")
        assert "<script>window.__xss = 'title'</script>" in card  # the title, as text
        assert "<img src=x onerror=" in card  # the passage, as text
        name = re.search(r"· ([^·]*ho-tay\.txt) ·", card).group(1)  # the file name, made safe, as text
        assert "<" not in name and ">" not in name and "/" not in name
        page.click("#rag-docs input")
        options = page.get_by_role("option").all_inner_texts()
        assert any("<script>window.__xss = 'title'</script>" in o for o in options)
        page.keyboard.press("Escape")
        assert page.evaluate("() => window.__xss === undefined")
        assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert dialogs == []
        browser.close()


TOPIC = "bồi dưỡng lý luận chính trị"
WATCH_CURSOR = """() => {
    window.__sawCursor = false;
    const chat = document.querySelector('#rag-chat');
    new MutationObserver(() => { if (chat.innerText.includes('▌')) window.__sawCursor = true; })
        .observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def test_a_topic_summary_streams_then_cites_each_fact_to_its_own_document(server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#rag-question textarea", timeout=60_000)
        page.get_by_text("Tài liệu", exact=True).click()
        page.fill("#rag-topic textarea", TOPIC)
        page.evaluate(WATCH_CURSOR)
        page.click("#rag-summarize-topic")
        page.wait_for_function(
            f"() => document.querySelector('#rag-chat').innerText.includes('Tóm tắt chủ đề: {TOPIC}')",
            timeout=60_000,
        )
        page.wait_for_function(
            "() => document.querySelectorAll('#rag-chat a.rag-cite[href^=\"#src-0-\"]').length > 1"
            " && !document.querySelector('#rag-chat').innerText.includes('▌')",
            timeout=180_000,
        )
        assert page.evaluate("() => window.__sawCursor") is True  # streamed first, then replaced by the checked text
        text = page.inner_text("#rag-chat")
        assert "386 học viên" in text  # a figure of the 2021 report
        assert "Công tác bồi dưỡng lý luận chính trị trong toàn Đảng bộ tiếp tục được tăng cường" in text  # 2016's
        assert "Trần Hồng Hà" not in text  # the 2016 report's speaker is not on the topic
        opened = set()
        for link in page.query_selector_all("#rag-chat a.rag-cite"):  # every citation opens its passage
            anchor = link.get_attribute("href")[1:]
            link.click()
            page.wait_for_selector(f"#{anchor}.rag-active", timeout=10_000)
            card = page.inner_text(f"#{anchor}")
            opened |= {
                name
                for name in ("tuyen-giao-dang-uy-khoi-tinh-2021.txt", "tuyen-giao-khoi-trung-uong-2016.txt")
                if name in card
            }
        assert opened == {"tuyen-giao-dang-uy-khoi-tinh-2021.txt", "tuyen-giao-khoi-trung-uong-2016.txt"}
        page.screenshot(path=str(tmp_path / "topic-summary.png"), full_page=True)
        browser.close()
