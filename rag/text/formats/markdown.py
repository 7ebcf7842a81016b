"""Markdown headings ("# ...", "## ...") with their offsets; fenced code blocks are skipped."""

from __future__ import annotations

import re

from rag.types import Heading

_ATX = re.compile(r"^(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def heading_span(line: str) -> tuple[int, int] | None:
    """Where the text of an ATX heading line sits in it ("## Nguồn gốc" -> (3, 11)); None for other lines."""
    match = _ATX.match(line)
    return match.span(2) if match else None


def markdown_headings(text: str) -> tuple[Heading, ...]:
    headings: list[Heading] = []
    in_fence = False
    pos = 0
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _ATX.match(line)):
            headings.append(Heading(pos, len(m.group(1)), m.group(2).strip()))
        pos += len(line) + 1
    return tuple(headings)
