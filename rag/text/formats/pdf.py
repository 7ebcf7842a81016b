"""PDF text layer -> page texts (pypdf), with split Vietnamese diacritics repaired."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from rag.errors import LoaderError
from rag.text.mark_repair import repair_split_diacritics

log = logging.getLogger(__name__)
_GENERATED_TITLE = re.compile(r"^(untitled|microsoft \w+ - )|\.(docx?|odt|pdf|txt|xlsx?|pptx?)$", re.IGNORECASE)


def pdf_pages(raw: bytes, path: Path) -> tuple[str, list[str]]:
    """(metadata title or "", NFC text of each page); LoaderError when the PDF cannot give text."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError, PyPdfError

    if not raw.lstrip().startswith(b"%PDF-"):
        raise LoaderError(f"{path} is not a PDF file (no %PDF- header): check the file or its extension")
    if b"%%EOF" not in raw[-2048:]:
        raise LoaderError(f"{path} is truncated (no %%EOF at its end): download or export the PDF again")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoaderError(f"{path} is password-protected: save an unprotected copy (print to PDF) and ingest that")
        title = str(reader.metadata.title or "") if reader.metadata is not None else ""
        if _GENERATED_TITLE.search(title):
            title = ""  # "Microsoft Word - bao-cao.docx" names the source file, not the document
        pages = [page.extract_text() or "" for page in reader.pages]
    except DependencyError as e:
        raise LoaderError(
            f"{path} is encrypted with a cipher this install cannot read ({e}): save an unprotected copy"
        ) from e
    except (PyPdfError, PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as e:
        raise LoaderError(f"{path} is a damaged PDF ({type(e).__name__}: {e}): export it again") from e
    if not any(p.strip() for p in pages):
        raise LoaderError(f"{path} has no text layer (a scanned image?): OCR it first, e.g. with ocrmypdf")
    return title, [repair_split_diacritics(_clean(p)) for p in pages]


def _clean(page: str) -> str:
    lines = [line.rstrip() for line in page.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")
