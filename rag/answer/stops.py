"""Where a streamed reply stops: a sentence repeated by a small model looping at temperature 0, or an
unfinished last sentence cut off by the token limit."""

from __future__ import annotations

import re


def strip_markers(text: str) -> str:
    """The text without its citation markers."""
    return re.sub(r"\s*\[\d+\]", "", text)


SENTENCE_BREAK = re.compile(r"[.!?…\n]")
_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+|\n|$)")


# a sentence's end: its punctuation, any citation markers after it, closing quotes or brackets
_FINISHED = re.compile(r"[.!?…](?:\s*\[\d+\])*[\"'”»)]*")


def unfinished_cut(text: str) -> int | None:
    """Where text ends once an unfinished last sentence is dropped; None when it ends a sentence or has one only."""
    text = text.rstrip()
    ends = [m.end() for m in _FINISHED.finditer(text) if m.end() == len(text) or text[m.end()].isspace()]
    if not ends or ends[-1] == len(text):
        return None
    return ends[-1]


def repetition_cut(text: str, *, min_chars: int = 20) -> int | None:
    """Start of the first complete sentence that repeats an earlier one, or None.

    Markers and spacing are ignored in the comparison; short sentences (< min_chars) may repeat.
    """
    seen: set[str] = set()
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        if not sentence.rstrip(" ").endswith((".", "!", "?", "…", "\n")):
            break  # the last sentence is still being written
        key = " ".join(strip_markers(sentence).lower().split())
        if len(key) < min_chars:
            continue
        if key in seen:
            return match.start()
        seen.add(key)
    return None
