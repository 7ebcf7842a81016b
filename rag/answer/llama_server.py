"""llama-cpp-python's OpenAI-compatible server, started with the AMX crash fix of our own model loading.

``python -m rag.answer.llama_server --model PATH --port 8080 [any llama_cpp.server flag]``: the
same flags as ``python -m llama_cpp.server``; ``--model`` defaults to the installed default GGUF.
On a CPU and build with AMX, llama.cpp's extra weight buffers are turned off while the model
loads (rag.answer.llama_cpu, llama.cpp#20824), which the stock launcher cannot do.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from rag.answer.llama_cpu import current_path, model_params_override
from rag.errors import ModelLoadError


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


class LlamaServer:
    """This launcher in a child process on a loopback port, until the block ends (tests, benchmarks).

    ``with LlamaServer(model, port=8080) as url:`` gives the base URL once /v1/models answers.
    """

    def __init__(
        self, model: Path, *, port: int, n_ctx: int = 4096, threads: int = 0, startup_s: float = 180.0
    ) -> None:
        import os

        threads = threads or os.cpu_count() or 1
        self.url = f"http://127.0.0.1:{port}/v1"
        self._argv = [
            sys.executable, "-m", "rag.answer.llama_server", "--model", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
            "--n_threads_batch", str(threads), "--seed", "0", "--verbose", "False",
        ]  # fmt: skip
        self._startup_s = startup_s
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        import time

        import httpx

        # its log goes to a file: a pipe nobody reads fills up and stops the server mid-load
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(self._argv, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + self._startup_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode("utf-8", "replace")[-600:]
                raise ModelLoadError(f"llama-cpp-python's server exited with {self._process.returncode}: {error}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.__exit__()
        raise ModelLoadError(f"llama-cpp-python's server at {self.url} did not start within {self._startup_s:g} s")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
            self._log.close()


if __name__ == "__main__":
    main()
