"""Generator protocol and the llama-cpp-python implementation (local GGUF, CPU)."""

from __future__ import annotations

import codecs
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from rag.answer.completion import LENGTH, STOP, CallState, Completion, exclusive
from rag.answer.llama_cpu import CpuPath, current_path, model_params_override
from rag.errors import ConfigError, ModelLoadError
from rag.types import Message, Usage

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"


@runtime_checkable
class Generator(Protocol):
    """Streams a chat completion; each call returns its own Completion (pieces, then usage and finish reason).

    One instance serves every browser tab at once, so it keeps no per-call state.
    """

    @property
    def model_id(self) -> str: ...

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int: ...

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 384, temperature: float = 0.0) -> Completion: ...


# UTF-8 lead bytes of U+3000..U+9FFF (CJK punctuation, kana, ideographs) and U+A000..U+D7FF
# (Yi, Hangul): a token holding one of them can only be (part of) such a character. Vietnamese
# letters (U+00C0..U+01B0, U+1EA0..U+1EF9) and punctuation (U+2000..U+206F) lead with other bytes.
_CJK_LEAD_BYTES = frozenset(range(0xE3, 0xEE))


def cjk_token_ids(llm) -> object:  # noqa: ANN001 - llama_cpp.Llama; returns a numpy int array
    """Ids of the vocabulary tokens whose bytes start a CJK or Hangul character (scanned once, ~0.4 s)."""
    import numpy as np

    ids = [i for i in range(llm.n_vocab()) if _CJK_LEAD_BYTES.intersection(llm.detokenize([i]))]
    return np.array(ids, dtype=np.intp)


class _Likelihood:
    """The log-probability of each sampled token, from the logits the sampler saw (after the CJK ban)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._scores = None
        self._log_norm = 0.0

    def observe(self, scores) -> None:  # noqa: ANN001 - numpy float array over the vocabulary
        import numpy as np

        top = float(scores.max())
        self._log_norm = top + float(np.log(np.exp(scores - top).sum()))
        self._scores = scores.copy()

    def add(self, token: int) -> float:
        """The running sum once token is taken (greedy: the argmax of what observe() saw)."""
        if self._scores is not None:
            self.total += float(self._scores[token]) - self._log_norm
        return self.total


def parse_grammar(llm, grammar: str):  # noqa: ANN001, ANN201 - llama_cpp.Llama -> llama_cpp.LlamaGrammar
    """A LlamaGrammar, once llama.cpp's own parser has accepted the text: a grammar it rejects gives a NULL
    sampler, which llama-cpp-python would add to its chain and crash on."""
    import llama_cpp

    vocab = llm._model.vocab  # noqa: SLF001 - the parser needs the vocabulary
    probe = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
    if not probe:
        raise ConfigError(f"llama.cpp cannot parse the GBNF grammar beginning {grammar[:80]!r}: fix the grammar")
    llama_cpp.llama_sampler_free(probe)
    return llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)


def _version() -> str:
    from importlib.metadata import version

    return version("llama-cpp-python")


class LlamaCppGenerator:
    """A GGUF chat model run by llama.cpp; the chat template comes from the GGUF itself.

    One instance may be shared by threads: generation is serialised by a lock held by a worker
    thread (rag.answer.completion.exclusive), so a stopped or abandoned stream frees the model at
    the next token; the KV cache is reused when consecutive prompts share a prefix (the system prompt).
    """

    def __init__(
        self,
        model_path: Path,
        *,
        model_id: str | None = None,
        n_ctx: int = 4096,
        n_threads: int = 0,
        seed: int = 0,
        ban_cjk: bool = True,
        extra_buffers: str = "auto",
    ) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise ModelLoadError(f"GGUF model not found: {model_path}. Run `rag models install`.")
        with model_path.open("rb") as handle:
            if handle.read(4) != GGUF_MAGIC:
                raise ModelLoadError(
                    f"{model_path} is not a GGUF file: run `rag models install --force` or point RAG_LLM at a .gguf"
                )
        self._path = model_path
        self._model_id = model_id or model_path.name
        self._n_ctx = n_ctx
        self._n_threads = n_threads or os.cpu_count() or 1
        self._seed = seed
        self._ban_cjk = ban_cjk
        self._extra_buffers = extra_buffers  # auto | on | off, checked when settings are read (rag.setup.config)
        self.cpu_path: CpuPath | None = None  # decided on load
        self._cjk_ids = None  # numpy array of token ids that spell CJK characters, found on load
        self._llm = None
        self._formatter = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    def _load(self):  # noqa: ANN202 - returns llama_cpp.Llama
        with self._load_lock:
            if self._llm is None:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                self.cpu_path = current_path(self._extra_buffers)
                log.info("llama.cpp CPU path: %s", self.cpu_path.describe())
                try:
                    with model_params_override(use_extra_bufts=self.cpu_path.extra_buffers):
                        llm = Llama(
                            model_path=str(self._path),
                            n_ctx=self._n_ctx,
                            n_threads=self._n_threads,
                            n_threads_batch=self._n_threads,
                            seed=self._seed,
                            verbose=False,
                        )
                except (ValueError, RuntimeError) as e:
                    raise ModelLoadError(
                        f"cannot load GGUF {self._path}: {e}. The file may be corrupt: run `rag models install --force`"
                    ) from e
                if getattr(llm.model_params, "use_extra_bufts", None) != self.cpu_path.extra_buffers:
                    # a llama-cpp-python that builds its model parameters another way: the AMX kernel would crash
                    raise ModelLoadError(
                        f"llama-cpp-python {_version()} did not take use_extra_bufts={self.cpu_path.extra_buffers} "
                        f"({self.cpu_path.reason}): install llama-cpp-python 0.3.x or build it with "
                        'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON"'
                    )
                template = llm.metadata.get("tokenizer.chat_template")
                if not template:
                    raise ModelLoadError(f"{self._path} has no chat template: use an instruction-tuned GGUF")
                eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
                self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="")
                if self._ban_cjk:
                    self._cjk_ids = cjk_token_ids(llm)
                self._llm = llm
        return self._llm

    def _logits_processor(self, likelihood: _Likelihood):  # noqa: ANN202 - llama_cpp.LogitsProcessorList
        """Forbid tokens that spell CJK characters (the Qwen models drift into Chinese on Vietnamese prompts)
        and note the distribution the token is sampled from, for the reply's log-probability."""
        import llama_cpp
        import numpy as np

        banned = self._cjk_ids if self._cjk_ids is not None and len(self._cjk_ids) else None

        def ban(_input_ids, scores):  # noqa: ANN001, ANN202 - numpy arrays from llama.cpp
            if banned is not None:
                scores[banned] = -np.inf
            likelihood.observe(scores)
            return scores

        return llama_cpp.LogitsProcessorList([ban])

    def _prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        llm = self._load()
        rendered = self._formatter(messages=[{"role": m.role, "content": m.content} for m in messages])
        return llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=False, special=True)

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self._prompt_tokens(messages))

    def count_tokens(self, text: str) -> int:
        return len(self._load().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def score(self, messages: Sequence[Message], replies: Sequence[str]) -> list[tuple[float, int]]:
        """Each reply's summed token log-probability (end-of-turn token included) and token count, as the
        assistant's reply to messages (rag.answer.choice). The prompt's KV cache is reused (rag.answer.scoring)."""
        from rag.answer.scoring import score_replies

        messages = list(messages)
        with self._run_lock:
            llm = self._load()
            return score_replies(llm, self._prompt_tokens(messages), replies, self._cjk_ids)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        grammar: str | None = None,
    ) -> Completion:
        """Text pieces as tokens are decoded (whole UTF-8 characters only); usage on the Completion.

        grammar: GBNF the reply must follow (rag.answer.copying); llama.cpp masks every token that leaves it."""
        messages = list(messages)
        return exclusive(
            self._run_lock, lambda state: self._generate(messages, max_tokens, temperature, state, grammar)
        )

    def _generate(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float,
        state: CallState,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Runs with the model's lock held (on exclusive()'s worker thread)."""
        import llama_cpp

        llm = self._load()
        constraint = parse_grammar(llm, grammar) if grammar else None
        prompt = self._prompt_tokens(messages)
        budget = min(max_tokens, self._n_ctx - len(prompt))
        if budget <= 0:
            raise ModelLoadError(
                f"prompt of {len(prompt)} tokens fills the context of {self._n_ctx}: lower k or raise n_ctx"
            )
        vocab = llm._model.vocab  # noqa: SLF001 - llama.cpp's end-of-generation test needs it
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        produced = 0
        state.usage = Usage(prompt_tokens=len(prompt), completion_tokens=0)
        reason = STOP
        likelihood = _Likelihood()
        for token in llm.generate(
            prompt,
            logits_processor=self._logits_processor(likelihood),
            temp=temperature,
            top_k=1 if temperature == 0 else 40,
            top_p=1.0 if temperature == 0 else 0.95,
            min_p=0.0 if temperature == 0 else 0.05,
            repeat_penalty=1.0,
            reset=True,
            grammar=constraint,
        ):
            if llama_cpp.llama_vocab_is_eog(vocab, token) or state.stopped.is_set():
                break
            produced += 1
            state.usage = Usage(prompt_tokens=len(prompt), completion_tokens=produced)
            state.logprob = likelihood.add(token)
            piece = decoder.decode(llm.detokenize([token]))
            if piece:
                yield piece
            if produced >= budget:
                reason = LENGTH
                break
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
        state.finish_reason = reason
