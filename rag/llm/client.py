"""The OpenAI-compatible chat client, with every failure turned into one clear `LLMError`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rag.config import Settings
from rag.errors import ConfigError, LLMError


class ChatClient:
    """Chat completions from OpenAI or any compatible server (Ollama, vLLM, llama.cpp)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.openai_api_key:
            raise ConfigError("RAG_LLM=openai needs OPENAI_API_KEY to be set")
        import openai

        self.model = settings.llm_model
        self.where = settings.openai_base_url or "the OpenAI API"
        self.timeout = settings.llm_timeout
        self._client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_retries,
        )

    def _error(self, exc: Exception) -> LLMError:
        import openai

        if isinstance(exc, openai.AuthenticationError):
            return LLMError(f"{self.where} rejected the API key (401): check OPENAI_API_KEY")
        if isinstance(exc, openai.RateLimitError):
            return LLMError(f"{self.where} is rate-limiting requests (429): try again shortly")
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(f"{self.where} did not answer within {self.timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"cannot reach the LLM server at {self.where}")
        if isinstance(exc, openai.NotFoundError):
            return LLMError(f"{self.where} does not know the model {self.model!r} (404)")
        if isinstance(exc, openai.APIStatusError):
            return LLMError(f"{self.where} failed with HTTP {exc.status_code}")
        return LLMError(f"the LLM request failed: {exc}")

    def _create(self, messages: list[dict[str, str]], stream: bool) -> Any:
        import openai

        try:
            return self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=0,
                stream=stream,
            )
        except openai.OpenAIError as exc:
            raise self._error(exc) from None

    def complete(self, messages: list[dict[str, str]]) -> str:
        response = self._create(messages, stream=False)
        return (response.choices[0].message.content or "").strip()

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        import openai

        response = self._create(messages, stream=True)
        try:
            for chunk in response:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
