"""Ingest progress for a terminal: a one-line bar redrawn in place when the stream is a TTY,
otherwise a plain line now and then (logs of long runs), never anything else."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

from rag.ingest.report import IngestProgress


def format_progress(p: IngestProgress, *, width: int = 100, bar: bool = True) -> str:
    """`[####......] 120/625 files 19% | 3.2 files/s | 41.5 chunks/s | ETA 2m36s | current`, cut to width."""
    fraction = p.files_done / p.files_total if p.files_total else 1.0
    files_rate = p.files_done / p.elapsed if p.elapsed > 0 else 0.0
    chunks_rate = p.chunks_embedded / p.elapsed if p.elapsed > 0 else 0.0
    remaining = p.files_total - p.files_done
    eta = _duration(remaining / files_rate) if files_rate > 0 else "?"
    parts = [
        f"{p.files_done}/{p.files_total} files {fraction:.0%}",
        f"{files_rate:.1f} files/s",
        f"{chunks_rate:.1f} chunks/s",
        f"ETA {eta}" if remaining else f"{_duration(p.elapsed)}",
    ]
    if bar:
        filled = round(20 * fraction)
        parts[0] = f"[{'#' * filled}{'.' * (20 - filled)}] {parts[0]}"
    line = " | ".join(parts)
    if p.current:
        room = width - len(line) - 3
        current = p.current if len(p.current) <= room else "…" + p.current[-(room - 1) :] if room > 1 else ""
        if current:
            line = f"{line} | {current}"
    return line[:width]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressBar:
    """A callable for ``ingest(progress=...)`` that draws on stream (stderr in the CLI).

    On a TTY the line is redrawn at most every ``redraw`` seconds; on anything else a plain
    line is written every ``every`` seconds, so short runs write nothing there.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interactive: bool | None = None,
        every: float = 30.0,
        redraw: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interactive = stream.isatty() if interactive is None else interactive
        self._every = every
        self._redraw = redraw
        self._clock = clock
        self._last = clock()
        self._drawn = False

    def __call__(self, p: IngestProgress) -> None:
        now = self._clock()
        final = not p.current
        if self._interactive:
            if final or now - self._last >= self._redraw:
                width = shutil.get_terminal_size((100, 20)).columns - 1
                end = "\n" if final else ""
                print(f"\r\033[K{format_progress(p, width=width)}", end=end, file=self._stream, flush=True)
                self._last, self._drawn = now, not final
        elif now - self._last >= self._every:
            print(format_progress(p, width=200, bar=False), file=self._stream, flush=True)
            self._last = now

    def clear(self) -> None:
        """End a half-drawn bar line (before an error message is printed)."""
        if self._drawn:
            print(file=self._stream, flush=True)
            self._drawn = False
