"""Any OpenAI-compatible chat server as the Generator: llama-server, llama-cpp-python, Ollama, vLLM, LM Studio.

The pipeline around it is unchanged (short prompts, checks, refusals, fallback); this module only
speaks HTTP. What the server offers is found once, on first use: its model list, a tokenize
endpoint (exact prompt sizes), and whether its vocabulary is the local GGUF's, in which case the
tokens that spell CJK characters are banned with ``logit_bias`` as the in-process model bans them.
Without that the assistant's own guard applies: the stream stops at the first CJK character and
the answer is asked for once more, strictly in Vietnamese (stop and retry).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.answer.completion import LENGTH, STOP, CallState, Completion
from rag.errors import ConfigError, LlmServerError
from rag.types import Message, Usage

log = logging.getLogger(__name__)

# a sample the local and the remote tokenizer must split alike before local token ids are sent
_VOCAB_PROBE = "Xin chào Việt Nam: Hà Nội, 1976. 中文 한국어 <|im_start|>"
_BAN_BIAS = -100  # the most negative bias servers accept; at temperature 0 the token is never chosen
_CHARS_PER_TOKEN = 2.5  # estimate where the server has no tokenizer endpoint: Vietnamese in BPE vocabularies
_ESTIMATED_OVERHEAD = (3, 5)  # (generation prompt, per message) tokens of a ChatML-like template


@dataclass(frozen=True)
class ServerInfo:
    """What the server offers, found once: model, tokenizer flavour, template overhead, banned tokens."""

    model: str
    flavour: str  # "llama-cpp-python" | "llama-server" | "other"
    overhead: tuple[int, int]  # tokens the chat template adds: (once, per message)
    exact_counts: bool
    ban: dict[str, int] | None  # logit_bias sent with every request; None: stop and retry

    @property
    def language_guard(self) -> str:
        if self.ban:
            return f"logit_bias bans {len(self.ban)} CJK tokens"
        return "stop at the first CJK character and retry in Vietnamese (no logit_bias: vocabulary unknown)"


def _split_base(url: str) -> tuple[str, str]:
    """(base URL without a trailing slash, server root: the base without its /v1)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"llm_url = {url!r}: give the server's base URL, e.g. http://127.0.0.1:8080/v1")
    base = url.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    return base, root


class OpenAIGenerator:
    """Streams chat completions from an OpenAI-compatible server.

    Shared by threads: the server does the queueing; the only state kept is what the server is,
    found once under a lock. Usage and finish reason belong to each call's Completion.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "",
        api_key: str = "",
        timeout: float = 120.0,
        seed: int = 0,
        ban_cjk: bool = True,
        vocab_gguf: Path | None = None,
    ) -> None:
        """vocab_gguf: a local GGUF whose vocabulary may be the server's (then CJK tokens are banned by id)."""
        self._base, self._root = _split_base(base_url)
        if timeout <= 0:
            raise ConfigError(f"llm_timeout = {timeout}: give the seconds to wait for the server, e.g. 120")
        self._model = model
        self._api_key = api_key
        self._timeout = timeout
        self._seed = seed
        self._ban_cjk = ban_cjk
        self._vocab_gguf = Path(vocab_gguf) if vocab_gguf else None
        self._client = None  # httpx.Client, made on first use (thread-safe, keeps connections open)
        self._info: ServerInfo | None = None
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._counts: dict[str, int] = {}  # text -> server tokens; any thread may fill it (same answer)

    @property
    def base_url(self) -> str:
        return self._base

    @property
    def model_id(self) -> str:
        return self.info().model

    # --- HTTP -----------------------------------------------------------------------------------

    def _http(self):  # noqa: ANN202 - httpx.Client
        import httpx

        with self._client_lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                timeout = httpx.Timeout(self._timeout, connect=min(10.0, self._timeout))
                self._client = httpx.Client(headers=headers, timeout=timeout, trust_env=False)
        return self._client

    def _fail(self, url: str, error: Exception) -> LlmServerError:
        import httpx

        if isinstance(error, httpx.ConnectError):
            return LlmServerError(f"LLM server {url}: cannot connect ({error}); start it or fix llm_url")
        if isinstance(error, httpx.TimeoutException):
            return LlmServerError(
                f"LLM server {url}: no answer within {self._timeout:g} s; raise llm_timeout or check it"
            )
        if isinstance(error, httpx.HTTPError):
            return LlmServerError(f"LLM server {url}: the connection failed ({type(error).__name__}: {error})")
        return LlmServerError(f"LLM server {url}: {error}")

    def _check_status(self, url: str, response: Any) -> None:
        if response.status_code < 400:
            return
        response.read()
        detail = _error_text(response.text)
        if response.status_code in (401, 403):
            raise LlmServerError(f"LLM server {url} refused the API key (HTTP {response.status_code}): set llm_api_key")
        raise LlmServerError(f"LLM server {url} answered HTTP {response.status_code}: {detail}")

    def _post(self, path: str, body: dict[str, Any], *, base: str | None = None) -> Any:
        import httpx

        url = f"{base or self._base}{path}"
        try:
            response = self._http().post(url, json=body)
        except httpx.HTTPError as e:
            raise self._fail(url, e) from e
        self._check_status(url, response)
        try:
            return response.json()
        except ValueError as e:
            raise LlmServerError(f"LLM server {url} answered with no JSON: {response.text[:120]!r}") from e

    # --- what the server is -----------------------------------------------------------------------

    def info(self) -> ServerInfo:
        """Found on first use: which model, which tokenizer, how to keep the answer Vietnamese."""
        if self._info is None:
            with self._lock:
                if self._info is None:
                    self._info = self._probe()
                    log.info("LLM server %s: model %s; %s", self._base, self._info.model, self._info.language_guard)
        return self._info

    def _probe(self) -> ServerInfo:
        import httpx

        url = f"{self._base}/models"
        try:
            response = self._http().get(url)
        except httpx.HTTPError as e:
            raise self._fail(url, e) from e
        self._check_status(url, response)
        try:
            offered = [m["id"] for m in response.json().get("data", [])]
        except (ValueError, AttributeError, KeyError, TypeError) as e:
            raise LlmServerError(f"LLM server {url}: no model list in its answer ({response.text[:120]!r})") from e
        model = self._model or (offered[0] if offered else "")
        if not model:
            raise LlmServerError(f"LLM server {url} lists no model: set llm_model")
        if self._model and offered and self._model not in offered:
            log.warning("LLM server %s does not list %s (it has %s)", self._base, self._model, ", ".join(offered))
        flavour = self._find_tokenizer(model)
        overhead, exact, ban = _ESTIMATED_OVERHEAD, False, None
        if flavour != "other":

            def tokenize(text: str) -> list[int]:
                return self._tokenize(flavour, text, model)

            measured = self._measure_overhead(model, tokenize)
            overhead, exact = (measured, True) if measured else (overhead, False)
            ban = self._cjk_ban(tokenize) if self._ban_cjk else None
        return ServerInfo(model, flavour, overhead, exact, ban)

    def _tokenize(self, flavour: str, text: str, model: str) -> list[int]:
        path, body = _TOKENIZERS[flavour]
        return list(self._post(path, body(text, model), base=self._root)["tokens"])

    def _find_tokenizer(self, model: str) -> str:
        """llama-cpp-python's /extras/tokenize, else llama-server's /tokenize; neither ("other"): estimates."""
        for flavour in _TOKENIZERS:
            try:
                tokens = self._tokenize(flavour, "Xin chào", model)
            except (LlmServerError, KeyError, TypeError, AttributeError):
                continue  # the endpoint is not there: try the next kind of server
            if tokens and all(isinstance(t, int) for t in tokens):
                return flavour
        log.info("LLM server %s has no tokenize endpoint: prompt sizes are estimated from characters", self._base)
        return "other"

    def _measure_overhead(self, model: str, tokenize: Callable[[str], list[int]]) -> tuple[int, int] | None:
        """Tokens the server's chat template adds, from the usage of two one-token probes."""
        two = [Message("system", "Trả lời."), Message("user", "Chào.")]
        four = [*two, Message("assistant", "Chào."), Message("user", "Bạn khỏe?")]
        counts = []
        for messages in (two, four):
            body = {"model": model, "messages": _wire(messages), "max_tokens": 1, "temperature": 0.0}
            usage = self._post("/chat/completions", body).get("usage") or {}
            if not isinstance(usage.get("prompt_tokens"), int):
                return None
            counts.append(usage["prompt_tokens"] - sum(len(tokenize(m.content)) for m in messages))
        per = max(0, (counts[1] - counts[0]) // 2)
        return max(0, counts[0] - 2 * per), per

    def _cjk_ban(self, tokenize: Callable[[str], list[int]]) -> dict[str, int] | None:
        """logit_bias for the CJK tokens, when the server's vocabulary is the local GGUF's."""
        if self._vocab_gguf is None or not self._vocab_gguf.is_file():
            return None
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr

        from rag.answer.generate import cjk_token_ids
        from rag.answer.llama_cpu import current_path, model_params_override

        # llama.cpp warns on stderr that a vocabulary-only model has no training context: it needs none
        with model_params_override(use_extra_bufts=current_path().extra_buffers), suppress_stdout_stderr(disable=False):
            vocab = Llama(model_path=str(self._vocab_gguf), vocab_only=True, n_ctx=64, verbose=False)
        local = vocab.tokenize(_VOCAB_PROBE.encode("utf-8"), add_bos=False, special=True)
        remote = tokenize(_VOCAB_PROBE)
        if remote[-len(local) :] != local:  # a leading BOS may differ; the rest must match
            log.info("LLM server %s: vocabulary differs from %s, no logit_bias", self._base, self._vocab_gguf.name)
            return None
        return {str(int(i)): _BAN_BIAS for i in cjk_token_ids(vocab)}

    # --- the Generator protocol -----------------------------------------------------------------

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        info = self.info()
        once, per = info.overhead
        if not info.exact_counts:
            return once + sum(per + math.ceil(len(m.content) / _CHARS_PER_TOKEN) for m in messages)
        return once + sum(per + self._count(info, m.content) for m in messages)

    def _count(self, info: ServerInfo, text: str) -> int:
        """Tokens of text on the server, remembered (the same system prompt and passages recur)."""
        count = self._counts.get(text)
        if count is None:
            count = len(self._tokenize(info.flavour, text, info.model))
            if len(self._counts) >= 1024:
                self._counts.clear()
            self._counts[text] = count
        return count

    def accepts_grammar(self) -> bool:
        """Does the server take a GBNF grammar (llama.cpp's servers do; OpenAI's API and vLLM's do not)?"""
        return self.info().flavour != "other"

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        grammar: str | None = None,
    ) -> Completion:
        """This call's Completion: text pieces as the server sends them; closing it closes the HTTP stream.

        grammar: GBNF the reply must follow, sent as llama.cpp's servers take it (a "grammar" field)."""

        def produce(state: CallState) -> Iterator[str]:
            for item in self.complete(messages, max_tokens=max_tokens, temperature=temperature, grammar=grammar):
                if isinstance(item, Usage):
                    state.usage = item
                else:
                    yield item
            state.finish_reason = LENGTH if state.usage.completion_tokens >= max_tokens else STOP

        return Completion(produce)

    def _usage_of(self, info: ServerInfo, messages: Sequence[Message], sent: Usage, text: str) -> Usage:
        """The call's usage: as the server sent it, else counted on its tokenizer (or estimated)."""
        prompt = sent.prompt_tokens or self.count_prompt_tokens(messages)
        completion = sent.completion_tokens
        if completion < 0:
            if info.exact_counts:
                completion = len(self._tokenize(info.flavour, text, info.model)) if text else 0
            else:
                completion = math.ceil(len(text) / _CHARS_PER_TOKEN)
        return Usage(prompt, completion)

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 384,
        temperature: float = 0.0,
        grammar: str | None = None,
    ) -> Iterator[str | Usage]:
        """Text pieces, then this call's Usage last (all state local to the call)."""
        import httpx

        info = self.info()
        body: dict[str, Any] = {
            "model": info.model,
            "messages": _wire(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": self._seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if info.flavour != "other":  # llama.cpp's sampler: greedy at 0 and no repeat penalty, as in-process
            body |= {"top_k": 1 if temperature == 0 else 40, "repeat_penalty": 1.0, "min_p": 0.0}
        if info.ban:
            body["logit_bias"] = info.ban
        if grammar is not None:
            if info.flavour == "other":  # OpenAI's API and vLLM's take no GBNF: the answer would not be copied
                raise ConfigError(
                    f"LLM server {self._base} is not llama.cpp's: it takes no GBNF grammar, so copy_span needs "
                    "llama-cpp-python's or llama.cpp's server (or set copy_span = off)"
                )
            body["grammar"] = grammar
        url = f"{self._base}/chat/completions"
        # A kept-alive connection the server has dropped (llama-cpp-python's does after a cancelled stream
        # followed by a failed one) fails before any response arrives: that request is sent again, once.
        stale = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
        for attempt in (1, 2):
            answered = False
            try:
                with self._http().stream("POST", url, json=body) as response:
                    answered = True
                    self._check_status(url, response)
                    text: list[str] = []
                    for item in _read_events(url, response.iter_lines(), max_tokens):
                        if isinstance(item, str):
                            text.append(item)
                            yield item
                        else:  # llama-cpp-python streams no usage: count on the server's tokenizer
                            yield self._usage_of(info, messages, item, "".join(text))
                return
            except stale as e:
                if answered or attempt == 2:
                    raise self._fail(url, e) from e
                log.debug("LLM server %s dropped a kept-alive connection (%s): sending again", url, e)
            except httpx.HTTPError as e:
                raise self._fail(url, e) from e


def _read_events(url: str, lines: Iterator[str], max_tokens: int) -> Iterator[str | Usage]:
    """Content pieces of an SSE chat-completion stream, then its Usage (0 prompt / -1 completion tokens: not sent)."""
    events, pieces, done = 0, 0, False
    usage: dict[str, Any] = {}
    finish = None
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(data)
        except ValueError as e:
            raise LlmServerError(f"LLM server {url} sent an event that is not JSON: {data[:120]!r}") from e
        if "error" in chunk:
            raise LlmServerError(f"LLM server {url} failed while answering: {_error_text(json.dumps(chunk))}")
        events += 1
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            finish = choice.get("finish_reason") or finish
            text = (choice.get("delta") or {}).get("content")
            if text:
                pieces += 1
                yield text
    if not events and not done:
        # llama-cpp-python's server answers a prompt over its n_ctx with a 200 and then an empty stream
        raise LlmServerError(
            f"LLM server {url} ended the reply without any completion event, as servers do for a prompt "
            "over their context size: lower k or prompt_chars, or start the server with a larger n_ctx"
        )
    completion = usage.get("completion_tokens")
    if not isinstance(completion, int):
        completion = max_tokens if finish == "length" else -1
    yield Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0), completion_tokens=completion)


_TOKENIZERS = {
    "llama-cpp-python": ("/extras/tokenize", lambda text, model: {"input": text, "model": model}),
    "llama-server": ("/tokenize", lambda text, model: {"content": text, "parse_special": True}),
}


def _wire(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _error_text(body: str) -> str:
    """The message of an OpenAI-shaped error body, else the body's start."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    if isinstance(error, str):
        return error[:300]
    return body.strip()[:300] or "(empty body)"
