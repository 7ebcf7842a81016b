"""Copying the answer from the passages (issue 15.4): a GBNF grammar that admits only passage spans.

A 1.5B model often names the right thing in its own words, or something no passage says. With
``copy`` on, the answer is decoded under a grammar whose sentences are exactly: a run of
consecutive words of one passage sentence (its first letter in either case), then that passage's
marker, " [n]."; or the refusal sentence. The grammar works on characters, so how the model's
BPE splits a Vietnamese word does not matter; llama.cpp masks every token that would leave it.

The grammar is linear in the passage text: token i of a line is one rule, "its text, then either
the separator and token i + 1, or the marker", and the root chooses where the span starts. So
any span of a line can be copied and nothing else. Pure Python: the generators apply it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.checks.grounding import REFUSAL
from rag.errors import ConfigError
from rag.text.vietnamese import comparable, without_cjk

# the user message's fences, as prompts/passage.txt writes them: number, title line, text
FENCED = re.compile(r'<tài_liệu số="(\d+)">\n(.*?)\n</tài_liệu>', re.DOTALL)
_TOKEN = re.compile(r"\w+|[^\w\s]")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")  # a full stop and a space: "1.610" stays one run
COPIED = re.compile(r" \[\d{1,3}\]\.$")  # how every span the grammar admits ends
_MARKERS = re.compile(r"\s*\[\s*\d{1,3}\s*\]")
# Characters the in-process generator never writes: it bans every token holding a UTF-8 lead byte 0xE3..0xED
# (rag.answer.generate), i.e. U+3000..U+D7FF. A grammar that requires one leaves llama.cpp no token to take; it
# then takes token 0 ("!") and aborts the whole process ("Unexpected empty grammar stack after accepting piece").
_UNWRITABLE = re.compile("[\u3000-\ud7ff]")
# a span does not end on an opening mark, a comma-like mark or a full stop (the marker brings its own)
_NO_END = frozenset("([{“‘«\"',;:-–—/.!?…")


@dataclass(frozen=True)
class Passage:
    """One fenced passage of a prompt: marker n and the text the model saw (title line first)."""

    number: int
    text: str


def takes_grammar(generator: object) -> bool:
    """Does the generator's stream() take a grammar keyword (the llama.cpp and OpenAI-compatible ones do)?"""
    import inspect

    stream = getattr(generator, "stream", None)
    try:
        return stream is not None and "grammar" in inspect.signature(stream).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def require_grammar(generator: object, mode: str) -> None:
    """ConfigError naming the fix where copy_span is on and the generator cannot take a grammar."""
    if not takes_grammar(generator):
        model = getattr(generator, "model_id", type(generator).__name__)
        raise ConfigError(
            f"copy_span = {mode} needs a generator that takes a GBNF grammar ({model} does not): set copy_span = off"
        )


def prompt_passages(user_message: str) -> list[Passage]:
    """The passages of an answer prompt's user message, in marker order."""
    return [Passage(int(m.group(1)), m.group(2)) for m in FENCED.finditer(user_message)]


def is_span(answer: str, passages: Sequence[Passage | str]) -> bool:
    """Is the answer (markers and end punctuation aside) a run of whole words of one passage, compared
    as `rag eval` compares answers (NFC, case-folded, punctuation as spaces)?"""
    words = comparable(_MARKERS.sub(" ", answer))
    if not words:
        return False
    texts = [p.text if isinstance(p, Passage) else p for p in passages]
    return any(f" {words} " in f" {comparable(t)} " for t in texts)


def writable(text: str) -> str:
    """text as a grammar may require it: without the characters the generator bans (a bracketed Hán gloss
    "(文公)" goes whole), spaces tidied, lines kept."""
    lines = (" ".join(_UNWRITABLE.sub(" ", without_cjk(line)).split()) for line in text.splitlines())
    return "\n".join(lines)


def gbnf_literal(text: str) -> str:
    """A GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _class_char(ch: str) -> str:
    return "\\" + ch if ch in "\\]^-[" else ch


def _first(token: str) -> str:
    """The token with its first letter in either case: [nN] "ăm"."""
    head, rest = token[0], token[1:]
    variants = [v for v in dict.fromkeys((head, head.lower(), head.upper())) if len(v) == 1]
    if len(variants) == 1:
        return gbnf_literal(token)
    cls = "[" + "".join(_class_char(v) for v in variants) + "]"
    return f"{cls} {gbnf_literal(rest)}" if rest else cls


def _lines(text: str) -> list[list[tuple[str, str]]]:
    """Each sentence's tokens (one per line of the passage at most) with the separator before the next token."""
    lines = []
    for line in (s for row in writable(text).splitlines() for s in SENTENCE_END.split(row)):
        matches = list(_TOKEN.finditer(line))
        tokens = []
        for i, m in enumerate(matches):
            nxt = matches[i + 1].start() if i + 1 < len(matches) else m.end()
            tokens.append((m.group(), " " if nxt > m.end() else ""))
        while tokens and tokens[-1][0] in _NO_END:  # a span cannot end on it, so none runs into it
            tokens.pop()
        if tokens:
            lines.append(tokens)
    return lines


def span_grammar(passages: Sequence[Passage]) -> str | None:
    """copy_grammar(passages), or None when no passage has a word to copy (the reply is decoded freely then)."""
    try:
        return copy_grammar(passages)
    except ValueError:
        return None


def copy_grammar(passages: Sequence[Passage], *, refusal: str = REFUSAL) -> str:
    """GBNF for "a span of one passage line, then its marker" or the refusal sentence.

    Raises ValueError when no passage has a word (the caller decodes freely then)."""
    rules: list[str] = []
    starts: list[str] = []
    for passage in passages:
        tail = f"m{passage.number}"
        rules.append(f'{tail} ::= " [{passage.number}]."')
        for li, tokens in enumerate(_lines(passage.text)):
            for i, (token, sep) in enumerate(tokens):
                name = f"p{passage.number}l{li}t{i}"
                ways = []
                if i + 1 < len(tokens):
                    nxt = f"p{passage.number}l{li}t{i + 1}"
                    ways.append(f"{gbnf_literal(sep)} {nxt}" if sep else nxt)
                if token not in _NO_END:
                    ways.append(tail)
                rules.append(f"c{name[1:]} ::= " + " | ".join(ways))
                rules.append(f"{name} ::= {gbnf_literal(token)} c{name[1:]}")
                if token[0].isalnum() or token[0] == "_":
                    starts.append(f"{_first(token)} c{name[1:]}")
    if not starts:
        raise ValueError("no passage has a word to copy")
    root = "root ::= span | " + gbnf_literal(refusal)
    span = "span ::= " + " | ".join(f"( {s} )" for s in starts)
    return "\n".join([root, span, *rules]) + "\n"
