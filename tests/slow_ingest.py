"""An ingest with a slow fake embedder, run as a subprocess by the interruption tests.

python -m tests.slow_ingest DOCS INDEX [STORE]  rag.ingest.ingest(...) into a new index of STORE (faiss)
python -m tests.slow_ingest --cli ARGS...       rag.cli.main.main(ARGS) with the fake embedder
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from tests.fakes import HashEmbedder

SECONDS_PER_FILE = 0.25


class SlowEmbedder(HashEmbedder):
    def embed_passages(self, texts):  # noqa: ANN001, ANN201
        time.sleep(SECONDS_PER_FILE)
        return super().embed_passages(texts)


def main(argv: list[str]) -> int:
    # Ctrl-C raises KeyboardInterrupt as in a terminal, even when started from a shell that ignores
    # SIGINT for background jobs (Python then leaves it ignored, and the interruption tests hang on)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if argv[0] == "--cli":
        import rag.setup.wiring
        from rag.cli.main import main as cli_main

        rag.setup.wiring.build_embedder = lambda settings: SlowEmbedder()
        return cli_main(argv[1:])
    from rag.ingest.pipeline import ingest
    from rag.text.chunking import ChunkSettings

    store = argv[2] if len(argv) > 2 else "faiss"
    ingest([Path(argv[0])], index=Path(argv[1]), embedder=SlowEmbedder(), chunking=ChunkSettings(32, 8), store=store)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
