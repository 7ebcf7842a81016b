"""llama-cpp-python's OpenAI-compatible server, started with the AMX crash fix of our own model loading.

``python -m rag.answer.llama_server --model PATH --port 8080 [any llama_cpp.server flag]``: the
same flags as ``python -m llama_cpp.server``; ``--model`` defaults to the installed default GGUF.
On a CPU and build with AMX, llama.cpp's extra weight buffers are turned off while the model
loads (rag.answer.llama_cpu, llama.cpp#20824), which the stock launcher cannot do.
"""

from __future__ import annotations

import sys

from rag.answer.llama_cpu import current_path, model_params_override


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--model" not in argv:
        from rag.setup import models
        from rag.setup.config import load_settings

        argv = ["--model", str(models.ensure_llm(load_settings().cache_dir)), *argv]
    from llama_cpp.server.__main__ import main as server_main

    sys.argv = ["llama_cpp.server", *argv]
    with model_params_override(use_extra_bufts=current_path().extra_buffers):
        server_main()


if __name__ == "__main__":
    main()
