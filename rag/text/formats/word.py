"""DOCX -> text lines in document order: paragraphs, table rows ("cell | cell"), heading styles."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from rag.errors import LoaderError
from rag.text.vietnamese import nfc
from rag.types import Heading

_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.IGNORECASE)


def docx_text(path: Path) -> tuple[str, str, tuple[Heading, ...]]:
    """(title, text, headings) of a .docx; LoaderError for a file Word itself could not open."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from lxml.etree import XMLSyntaxError

    try:
        document = docx.Document(str(path))
        lines: list[str] = []
        headings: list[Heading] = []
        title_style = ""
        pos = 0
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                new = [nfc(_row_text(row)) for row in block.rows]
                level = 0
            else:
                new = [nfc(" ".join(block.text.split()))]
                style = block.style.name if block.style is not None else ""
                level = _heading_level(style)
                if style.lower() == "title" and not title_style:
                    title_style = new[0]
            for line in new:
                if not line:
                    continue
                if level:
                    headings.append(Heading(pos, level, line))
                lines.append(line)
                pos += len(line) + 1
        title = document.core_properties.title or title_style
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError) as e:
        raise LoaderError(f"{path} is not a readable Word .docx file ({e}): open and save it again in Word") from e
    return title, "\n".join(lines), tuple(headings)


def _heading_level(style: str) -> int:
    m = _HEADING_STYLE.fullmatch(style.strip())
    return int(m.group(1)) if m else 0


def _row_text(row: object) -> str:
    cells: list[str] = []
    for cell in row.cells:  # type: ignore[attr-defined]
        text = " ".join(cell.text.split())
        if text and (not cells or cells[-1] != text):  # a merged cell repeats in every column it spans
            cells.append(text)
    return " | ".join(cells)
