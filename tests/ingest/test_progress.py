"""The ingest progress line: exact text, redraw on a TTY, occasional lines elsewhere."""

from __future__ import annotations

import io

from rag.ingest.pipeline import IngestProgress
from rag.ingest.progress import ProgressBar, format_progress


def test_format_progress() -> None:
    p = IngestProgress(files_done=120, files_total=600, chunks_embedded=1500, current="docs/hà nội.txt", elapsed=40.0)
    assert format_progress(p, width=200) == (
        "[####................] 120/600 files 20% | 3.0 files/s | 37.5 chunks/s | ETA 2m40s | docs/hà nội.txt"
    )
    assert format_progress(p, width=200, bar=False).startswith("120/600 files 20% | 3.0 files/s")
    assert format_progress(p, width=92).endswith("| …ội.txt")
    assert len(format_progress(p, width=92)) == 92
    done = IngestProgress(600, 600, 7000, "", 7300.0)
    assert format_progress(done) == "[####################] 600/600 files 100% | 0.1 files/s | 1.0 chunks/s | 2h01m"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_stream_gets_a_line_every_n_seconds_only() -> None:
    out, clock = io.StringIO(), _Clock()
    bar = ProgressBar(out, interactive=False, every=30.0, clock=clock)
    bar(IngestProgress(1, 10, 5, "a.txt", 1.0))
    clock.now = 31.0
    bar(IngestProgress(5, 10, 25, "e.txt", 31.0))
    clock.now = 40.0
    bar(IngestProgress(10, 10, 50, "", 40.0))
    assert out.getvalue() == "5/10 files 50% | 0.2 files/s | 0.8 chunks/s | ETA 31s | e.txt\n"


def test_tty_redraws_one_line_and_ends_it(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "101")  # the line is cut to the terminal's width; pytest workers report 80
    out, clock = io.StringIO(), _Clock()
    bar = ProgressBar(out, interactive=True, redraw=0.1, clock=clock)
    clock.now = 1.0
    bar(IngestProgress(1, 2, 3, "a.txt", 1.0))
    bar(IngestProgress(1, 2, 3, "b.txt", 1.0))  # too soon: not drawn
    clock.now = 2.0
    bar(IngestProgress(2, 2, 6, "", 2.0))
    lines = out.getvalue().split("\r\x1b[K")
    assert lines[0] == ""
    assert lines[1].startswith("[##########..........] 1/2 files 50%")
    assert lines[1].endswith("| a.txt")
    assert lines[2].startswith("[####################] 2/2 files 100%")
    assert lines[2].endswith("\n")
    assert len(lines) == 3
