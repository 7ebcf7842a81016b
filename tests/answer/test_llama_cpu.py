"""The llama.cpp CPU path: extra weight buffers off only where the AMX kernel can crash."""

from __future__ import annotations

from rag.answer.llama_cpu import cpu_info, decide, parse_system_info

SYSTEM_INFO_AMX = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 | "
    "AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
SYSTEM_INFO_AVX2 = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | FMA = 1 | OPENMP = 1 | REPACK = 1 | "


def test_system_info_is_parsed_into_features():
    info = parse_system_info(SYSTEM_INFO_AMX)
    assert info["AMX_INT8"] == "1"
    assert info["AVX512_VNNI"] == "1"
    assert info["REPACK"] == "1"
    assert "AMX_INT8" not in parse_system_info(SYSTEM_INFO_AVX2)


def test_auto_turns_extra_buffers_off_only_for_an_amx_cpu_with_an_amx_build():
    amx_cpu = {"avx2", "avx512f", "amx_tile", "amx_int8"}
    path = decide("auto", "Xeon", amx_cpu, parse_system_info(SYSTEM_INFO_AMX))
    assert (path.extra_buffers, path.cpu_amx, path.build_amx) == (False, True, True)
    assert "llama.cpp#20824" in path.reason
    # the same CPU with a build that has no AMX kernel keeps the repacked weights
    assert decide("auto", "Xeon", amx_cpu, parse_system_info(SYSTEM_INFO_AVX2)).extra_buffers is True
    # a CPU without AMX is never slowed down
    assert decide("auto", "EPYC", {"avx2"}, parse_system_info(SYSTEM_INFO_AMX)).extra_buffers is True


def test_on_and_off_force_the_switch():
    build = parse_system_info(SYSTEM_INFO_AMX)
    assert decide("on", "Xeon", {"amx_int8"}, build).extra_buffers is True
    assert decide("off", "EPYC", {"avx2"}, build).extra_buffers is False


def test_cpu_info_reads_model_and_flags(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu avx2 amx_tile\n")
    assert cpu_info(f) == ("Intel(R) Xeon(R) Platinum 8480+", {"fpu", "avx2", "amx_tile"})
    assert cpu_info(tmp_path / "missing") == ("unknown", set())
