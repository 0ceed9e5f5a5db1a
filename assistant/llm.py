"""A chat model behind an OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, DeepSeek, Qwen).

The client is llama-index's `OpenAILike`, built here with every setting explicit, so
llama-index never falls back to its global defaults (OpenAI). Each call has one total
deadline: the stream is read on a worker thread and the caller stops waiting when the
deadline passes, however the server behaves (silent, trickling, never closing).
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Iterator, Mapping

from ingest.errors import PolicyQAError


@dataclass(frozen=True)
class LLMConfig:
    """Where the model is and how long to wait for it. `base_url` and `model` are required."""
    base_url: str = ""
    model: str = ""
    api_key: str = ""             # optional: local servers take none
    timeout: float = 60.0         # seconds for a whole answer, stream included
    connect_timeout: float = 5.0  # seconds to reach the server
    max_tokens: int = 800
    temperature: float = 0.1

    @property
    def configured(self) -> bool:
        return bool(self.base_url.strip() and self.model.strip())

    def with_(self, **changes) -> "LLMConfig":
        """A copy with the non-empty `changes` applied (UI and CLI overrides)."""
        return replace(self, **{k: v for k, v in changes.items() if v not in (None, "")})

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LLMConfig":
        """From POLICYQA_LLM_* of an environment (the entry point passes os.environ)."""
        d = cls()
        return cls(base_url=env.get("POLICYQA_LLM_BASE_URL", "").strip(),
                   model=env.get("POLICYQA_LLM_MODEL", "").strip(),
                   api_key=env.get("POLICYQA_LLM_API_KEY", "").strip(),
                   timeout=float(env.get("POLICYQA_LLM_TIMEOUT") or d.timeout),
                   connect_timeout=float(env.get("POLICYQA_LLM_CONNECT_TIMEOUT") or d.connect_timeout),
                   max_tokens=int(env.get("POLICYQA_LLM_MAX_TOKENS") or d.max_tokens),
                   temperature=float(env.get("POLICYQA_LLM_TEMPERATURE") or d.temperature))

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}"


class LLMError(PolicyQAError):
    """The model could not give an answer; `kind` is unreachable, timeout, status,
    malformed, empty or config, and the message says what happened."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class LLMClient:
    """Streams chat completions; every failure is raised as `LLMError`."""

    def __init__(self, config: LLMConfig):
        if not config.configured:
            raise LLMError("config", "no LLM endpoint configured: set POLICYQA_LLM_BASE_URL and "
                                     "POLICYQA_LLM_MODEL (or the settings in the app)")
        self.config = config
        self._llm = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the client (imports included) ahead of a timed call."""
        self._client()

    def _client(self):
        with self._lock:
            if self._llm is None:
                import httpx
                from llama_index.llms.openai_like import OpenAILike
                c = self.config
                self._llm = OpenAILike(
                    model=c.model, api_base=c.base_url.rstrip("/"),
                    api_key=c.api_key or "not-needed",     # the SDK insists on one; local servers ignore it
                    is_chat_model=True, is_function_calling_model=False, context_window=32768,
                    max_tokens=c.max_tokens, temperature=c.temperature,
                    max_retries=0,                         # a retry would double the wait the user sees
                    timeout=c.timeout,
                    http_client=httpx.Client(timeout=httpx.Timeout(c.timeout, connect=c.connect_timeout)))
            return self._llm

    def stream(self, messages: list[dict], timeout: float | None = None) -> Iterator[str]:
        """Text deltas of the reply to `messages` ([{"role", "content"}]); LLMError on any
        failure, at the latest `timeout` seconds (default: the configured one) after the call."""
        self.warm_up()          # imports take seconds on a cold start: not on the model's clock
        deadline = time.monotonic() + (timeout or self.config.timeout)
        q: queue.Queue = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=self._pump, args=(messages, q, stop), daemon=True,
                                  name="llm-stream")
        worker.start()
        got_text = False
        thinking = _ThinkingFilter()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LLMError("timeout", f"the model did not finish within {self.config.timeout:g} s "
                                              f"({self.config.describe()})")
                try:
                    kind, item = q.get(timeout=left)
                except queue.Empty:
                    continue
                if kind == "error":
                    raise item
                # Reasoning models put their thinking in <think>…</think>; it is not the answer.
                text = thinking.flush() if kind == "end" else thinking.feed(item)
                if text:
                    got_text = got_text or bool(text.strip())
                    yield text
                if kind == "end":
                    break
        finally:
            stop.set()
        if not got_text:
            raise LLMError("empty", f"the model returned no text ({self.config.describe()})")

    def complete(self, messages: list[dict], timeout: float | None = None) -> str:
        return "".join(self.stream(messages, timeout)).strip()

    def _pump(self, messages: list[dict], q: queue.Queue, stop: threading.Event) -> None:
        try:
            from llama_index.core.llms import ChatMessage
            chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
            for part in self._client().stream_chat(chat):
                if stop.is_set():
                    return                  # the caller gave up: stop reading
                if part.delta:
                    q.put(("text", part.delta))
            q.put(("end", None))
        except Exception as e:              # noqa: BLE001 - every failure reaches the caller as LLMError
            q.put(("error", self._translate(e)))

    def _translate(self, e: Exception) -> LLMError:
        import openai
        where = self.config.describe()
        if isinstance(e, openai.APITimeoutError):
            return LLMError("timeout", f"the model did not answer within {self.config.timeout:g} s ({where})")
        if isinstance(e, openai.APIConnectionError):
            return LLMError("unreachable", f"cannot reach the LLM endpoint {self.config.base_url} "
                                           f"({_first_line(e.__cause__ or e)})")
        if isinstance(e, openai.APIStatusError):
            return LLMError("status", f"the LLM endpoint answered HTTP {e.status_code} "
                                      f"({_first_line(e.message)}; {where})")
        return LLMError("malformed", f"the model's reply could not be read ({type(e).__name__}: "
                                     f"{_first_line(e)}; {where})")


class _ThinkingFilter:
    """Drops <think>…</think> from a stream whose chunks may split the tags."""

    def __init__(self) -> None:
        self.inside, self.carry = False, ""

    def feed(self, delta: str) -> str:
        text, self.carry, out = self.carry + delta, "", []
        while text:
            tag = "</think>" if self.inside else "<think>"
            i = text.find(tag)
            if i < 0:
                keep = _partial_tail(text, tag)           # a tag cut by the chunk boundary
                if not self.inside:
                    out.append(text[:len(text) - keep])
                self.carry = text[len(text) - keep:] if keep else ""
                break
            if not self.inside:
                out.append(text[:i])
            text, self.inside = text[i + len(tag):], not self.inside
        return "".join(out)

    def flush(self) -> str:
        rest, self.carry = ("" if self.inside else self.carry), ""
        return rest


def _partial_tail(text: str, tag: str) -> int:
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


def _first_line(e) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]
