"""HTML -> plain text (one block per line), the page title and the h1-h6 headings."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from rag.types import Heading

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "nav", "footer", "head"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "section", "article", "table", "ul", "ol", "blockquote", "pre", "header"}
        | {"main", "title", *_HEADINGS}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.headings: list[tuple[int, list[str]]] = []  # (level, text parts) in document order
        self._skip_depth = 0
        self._in_title = False
        self._heading_level = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skip_depth = 0  # HTML5 lets </head> be omitted
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip_depth += 1
        if tag in _HEADINGS and not self._skip_depth:
            self._heading_level = _HEADINGS[tag]
            self.headings.append((self._heading_level, []))
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag in _HEADINGS:
            self._heading_level = 0
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth:
            self.parts.append(data)
            if self._heading_level:
                self.headings[-1][1].append(data)


def html_text(html: str) -> tuple[str, str, tuple[Heading, ...]]:
    """(title, text, headings): <title> or the first h1; blocks as lines; headings with their offsets."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    found: list[Heading] = []
    pos = 0
    for level, parts in parser.headings:
        heading = " ".join("".join(parts).split())
        match = re.search(rf"^{re.escape(heading)}$", text[pos:], flags=re.MULTILINE) if heading else None
        if match:
            found.append(Heading(pos + match.start(), level, heading))
            pos += match.end()
    h1 = next((h.text for h in found if h.level == 1), "")
    title = " ".join("".join(parser.title_parts).split()) or h1
    return title, text, tuple(found)
