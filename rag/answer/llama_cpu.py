"""Which llama.cpp CPU path is safe here: AMX weight buffers crash on Q4_K_M (llama.cpp#20824).

llama.cpp gives an Intel CPU with AMX an extra weight buffer type whose matrix kernel
segfaults on some Q4_K_M models (ours among them, in ``ggml_backend_amx_mul_mat``). A model
loaded with ``use_extra_bufts = False`` keeps its weights in plain CPU buffers and runs the
ordinary AVX-512/AVX2 kernels, which answer correctly. That switch also turns off llama.cpp's
weight repacking, which helps other CPUs, so it is used only where the crash can happen: the
CPU has AMX *and* the llama.cpp build has the AMX kernel compiled in.

``llama_cpp.Llama`` does not expose the switch; :func:`model_params_override` sets it on the
default model parameters while one ``Llama`` is constructed.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

EXTRA_BUFFERS = ("auto", "on", "off")
_AMX_FLAGS = ("amx_tile", "amx_int8", "amx_bf16")
_PATCH_LOCK = threading.Lock()


@dataclass(frozen=True)
class CpuPath:
    """What this machine runs and why: shown by `rag models status`."""

    cpu_model: str
    cpu_amx: bool  # the CPU reports AMX tiles
    build_features: dict[str, str]  # llama.cpp's own system info, e.g. {"AVX2": "1", "AMX_INT8": "1"}
    extra_buffers: bool  # use_extra_bufts when models are loaded
    reason: str

    @property
    def build_amx(self) -> bool:
        return has_amx_kernel(self.build_features)

    def describe(self) -> str:
        shown = ("AVX", "AVX2", "AVX512", "AVX512_VNNI", "AMX_INT8", "REPACK")
        built = " ".join(f"{k}={self.build_features[k]}" for k in shown if k in self.build_features) or "unknown"
        path = "extra buffer types on (repacked weights)" if self.extra_buffers else "extra buffer types off"
        return f"{self.cpu_model}; llama.cpp build {built}; {path}: {self.reason}"


def cpu_info(path: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """(model name, feature flags) of the first CPU; ('unknown', set()) where /proc/cpuinfo is absent."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown", set()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    return (model.group(1).strip() if model else "unknown"), set(flags.group(1).split()) if flags else set()


def parse_system_info(info: str) -> dict[str, str]:
    """llama.cpp's 'CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 1 | ...' as {"SSE3": "1", ...}."""
    return {m.group(1): m.group(2) for m in re.finditer(r"([A-Z][A-Z0-9_]*) = (\w+)", info)}


def llama_build_features() -> dict[str, str]:
    """The CPU features the installed llama.cpp was compiled with (imports llama_cpp)."""
    import llama_cpp

    return parse_system_info(llama_cpp.llama_print_system_info().decode("utf-8", "replace"))


def has_amx_kernel(build: dict[str, str]) -> bool:
    """The llama.cpp build was compiled with its AMX kernel (system info AMX_INT8 / AMX_BF16 = 1)."""
    return any(build.get(k) == "1" for k in ("AMX_INT8", "AMX_BF16", "AMX"))


def decide(setting: str, cpu_model: str, cpu_flags: set[str], build: dict[str, str]) -> CpuPath:
    """Pick use_extra_bufts: 'on'/'off' as told, 'auto' off only where the AMX crash can happen.

    setting is one of EXTRA_BUFFERS: rag.setup.config refuses any other value when settings are read.
    """
    amx = any(f in cpu_flags for f in _AMX_FLAGS)
    if setting == "on":
        return CpuPath(cpu_model, amx, build, True, "llm_extra_buffers = on")
    if setting == "off":
        return CpuPath(cpu_model, amx, build, False, "llm_extra_buffers = off")
    if amx and has_amx_kernel(build):
        why = "CPU and build have AMX, whose kernel crashes on Q4_K_M (llama.cpp#20824)"
        return CpuPath(cpu_model, amx, build, False, why)
    if amx:
        return CpuPath(cpu_model, amx, build, True, "CPU has AMX but this llama.cpp build has no AMX kernel")
    return CpuPath(cpu_model, amx, build, True, "no AMX on this CPU")


def current_path(setting: str = "auto") -> CpuPath:
    model, flags = cpu_info()
    return decide(setting, model, flags, llama_build_features())


@contextlib.contextmanager
def model_params_override(*, use_extra_bufts: bool) -> Iterator[None]:
    """Within the block, every ``Llama(...)`` built gets ``use_extra_bufts`` as given.

    ``Llama.__init__`` starts from ``llama_cpp.llama_model_default_params()``; the wrapper edits
    that struct. A lock keeps two threads from swapping the function at once.
    """
    if use_extra_bufts:
        yield
        return
    import llama_cpp.llama_cpp as lib

    with _PATCH_LOCK:
        original = lib.llama_model_default_params

        def defaults():  # noqa: ANN202 - llama_model_params ctypes struct
            params = original()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = defaults
        try:
            yield
        finally:
            lib.llama_model_default_params = original
