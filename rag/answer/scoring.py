"""The log-probability of given replies under llama.cpp, reusing the KV cache of the prompt they share.

After the free reply the cache holds prompt + reply; every candidate reply shares the prompt, so
only the last prompt token and the candidate's tokens are decoded, with logits kept for each of
them (one batch, not one decode per token). Needs numpy and a loaded llama_cpp.Llama.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.errors import ConfigError

# llama_cpp.Llama internals the scorer decodes through (checked with llama-cpp-python 0.3.36)
_NEEDED = ("_batch", "_ctx", "input_ids", "n_tokens", "n_batch")


def _reuse(llm, tokens: list[int]) -> int:  # noqa: ANN001 - llama_cpp.Llama
    """How many leading tokens of tokens are already in the cache (llm.input_ids[:llm.n_tokens])."""
    cached = llm.input_ids[: llm.n_tokens]
    shared = 0
    for have, want in zip(cached, tokens, strict=False):
        if have != want:
            break
        shared += 1
    return shared


def _logits(llm, tokens: list[int], n_past: int):  # noqa: ANN001, ANN202 - returns a numpy (len, vocab) array
    """Decode tokens at positions n_past.. with the logits of every one kept; the cache then holds them."""
    import numpy as np

    rows = []
    for i in range(0, len(tokens), llm.n_batch):
        batch = tokens[i : i + llm.n_batch]
        llm._batch.set_batch(batch=batch, n_past=n_past + i, logits_all=True)  # noqa: SLF001
        llm._ctx.decode(llm._batch)  # noqa: SLF001
        out = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(batch) * llm.n_vocab(),))  # noqa: SLF001
        rows.append(out.reshape(len(batch), llm.n_vocab()).copy())
        llm.input_ids[n_past + i : n_past + i + len(batch)] = batch
        llm.n_tokens = n_past + i + len(batch)
    return np.concatenate(rows)


def score_replies(llm, prompt: list[int], replies: Sequence[str], banned=None) -> list[tuple[float, int]]:  # noqa: ANN001
    """Per reply: (summed log-probability of its tokens and the end-of-turn token, number of those tokens).

    banned: token ids the sampler forbids (CJK), excluded from the normalisation as in generation."""
    import numpy as np

    missing = [name for name in _NEEDED if not hasattr(llm, name)]
    if missing or not hasattr(getattr(llm, "_ctx", None), "kv_cache_seq_rm"):
        raise ConfigError(
            f"span_choice = likelihood needs llama_cpp.Llama internals this llama-cpp-python lacks "
            f"({', '.join(missing) or '_ctx.kv_cache_seq_rm'}; checked with 0.3.36): set span_choice = free"
        )
    results = []
    eos = llm.token_eos()
    for reply in replies:
        tokens = llm.tokenize(reply.encode("utf-8"), add_bos=False, special=False) + [eos]
        # the last prompt token's logits predict the reply, so the cache may keep everything before it; a prompt
        # the cache holds only in part is evaluated from its start: on an AVX-512 CPU with llama.cpp's repacked
        # weights the same prompt gives other logits when its batches start elsewhere (0.18 nats on one reply)
        whole = _reuse(llm, prompt) >= len(prompt) - 1
        shared = len(prompt) - 1 if whole else 0
        llm._ctx.kv_cache_seq_rm(-1, shared, -1)  # noqa: SLF001
        llm.n_tokens = shared
        if not whole:
            llm.eval(prompt[:-1])
        logits = _logits(llm, [prompt[-1], *tokens[:-1]], len(prompt) - 1)
        if banned is not None and len(banned):
            logits[:, banned] = -np.inf
        top = logits.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        total = float(sum(logits[i, t] - log_norm[i] for i, t in enumerate(tokens)))
        results.append((total, len(tokens)))
    return results
