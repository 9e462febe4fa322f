"""Settings read from the environment and `.env` (one place for every knob)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.formats import SUPPORTED_SUFFIXES

LOCAL_EMBED_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every setting of the engine; environment variables win over `.env`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(
        Path(".rag"), validation_alias="RAG_DATA_DIR", description="Where the index lives."
    )
    corpus_dir: Path = Field(
        Path("seeds"),
        validation_alias="RAG_CORPUS_DIR",
        description="What `rag ingest` reads when given no paths.",
    )
    chroma_url: str | None = Field(
        None,
        validation_alias="RAG_CHROMA_URL",
        description="http://host:port of a Chroma server; unset = embedded Chroma in data_dir.",
    )
    chroma_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias="RAG_CHROMA_TIMEOUT",
        description="Seconds a Chroma server may take to answer one request.",
    )
    embed: Literal["local", "openai"] = Field(
        "local", validation_alias="RAG_EMBED", description="Embedding backend."
    )
    embed_model: str = Field(
        "text-embedding-3-small",
        validation_alias="RAG_EMBED_MODEL",
        description="OpenAI embedding model (used when embed=openai).",
    )
    llm: Literal["auto", "openai", "extractive"] = Field(
        "auto",
        validation_alias="RAG_LLM",
        description="auto = openai when OPENAI_API_KEY is set, else extractive.",
    )
    llm_model: str = Field("gpt-4o-mini", validation_alias="RAG_LLM_MODEL")
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    llm_timeout: float = Field(
        60.0, gt=0, validation_alias="RAG_LLM_TIMEOUT", description="Seconds per LLM request."
    )
    llm_retries: int = Field(
        2, ge=0, le=10, validation_alias="RAG_LLM_RETRIES", description="Retries on 429/5xx."
    )
    top_k: int = Field(
        5, ge=1, le=50, validation_alias="RAG_TOP_K", description="Passages given to the composer."
    )
    chunk_tokens: int = Field(
        200, ge=32, le=1024, validation_alias="RAG_CHUNK_TOKENS", description="Tokens per chunk."
    )
    chunk_overlap: int = Field(
        50,
        ge=0,
        le=512,
        validation_alias="RAG_CHUNK_OVERLAP",
        description="Tokens of whole sentences repeated between neighbouring chunks.",
    )
    max_question_chars: int = Field(
        2000, ge=10, validation_alias="RAG_MAX_QUESTION_CHARS", description="Longest question."
    )
    api_key: SecretStr | None = Field(
        None,
        validation_alias="RAG_API_KEY",
        description="Bearer token the HTTP API requires for write endpoints.",
    )
    api_read_auth: bool = Field(
        False,
        validation_alias="RAG_API_READ_AUTH",
        description="Require RAG_API_KEY for reads too (questions, the article list); "
        "/healthz stays open.",
    )
    allowed_hosts: str = Field(
        "",
        validation_alias="RAG_ALLOWED_HOSTS",
        description="Host names the HTTP API answers to, comma-separated (`*.example.com` "
        "allowed); unset: any, or only this machine's names when `rag serve` listens on "
        "loopback.",
    )
    cors_origins: str = Field(
        "",
        validation_alias="RAG_CORS_ORIGINS",
        description="Web origins whose pages may call the HTTP API from a browser, "
        "comma-separated (`*`: any); unset: none.",
    )
    body_timeout: float = Field(
        60.0,
        gt=0,
        validation_alias="RAG_BODY_TIMEOUT",
        description="Seconds the HTTP API waits for a whole request body to arrive.",
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        validation_alias="RAG_MAX_BODY_BYTES",
        description="Largest JSON request body the HTTP API reads (a question, a conversation).",
    )
    max_upload_bytes: int = Field(
        10 * 1_048_576,
        ge=1,
        validation_alias="RAG_MAX_UPLOAD_BYTES",
        description="Largest article: an uploaded file (HTTP API and chat window), or an "
        "article file or record that `rag ingest` reads (record dumps themselves may be larger).",
    )
    max_upload_files: int = Field(
        20,
        ge=1,
        le=1000,
        validation_alias="RAG_MAX_UPLOAD_FILES",
        description="Most files in one upload to the HTTP API.",
    )
    upload_suffixes: str = Field(
        ".txt,.md,.html,.htm",
        validation_alias="RAG_UPLOAD_SUFFIXES",
        description="File types accepted for upload, comma-separated (a subset of what the "
        "ingester reads: .txt, .md, .markdown, .html, .htm, .jsonl, .ndjson, .json, .csv, "
        ".sgm, .sgml, .rss, .atom, .xml).",
    )

    @field_validator("chroma_url", "openai_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("upload_suffixes")
    @classmethod
    def _known_suffixes(cls, value: str) -> str:
        suffixes = [f".{s.strip().lower().lstrip('.')}" for s in value.split(",") if s.strip()]
        unknown = [s for s in suffixes if s not in SUPPORTED_SUFFIXES]
        if not suffixes or unknown:
            raise ValueError(
                f"must list types from {', '.join(sorted(SUPPORTED_SUFFIXES))}, got {value!r}"
            )
        return ",".join(dict.fromkeys(suffixes))

    @property
    def upload_types(self) -> tuple[str, ...]:
        """The accepted upload suffixes, lower-case with the dot: ('.txt', '.md', ...)."""
        return tuple(self.upload_suffixes.split(","))

    @property
    def hosts(self) -> tuple[str, ...]:
        return _listed(self.allowed_hosts)

    @property
    def origins(self) -> tuple[str, ...]:
        return _listed(self.cors_origins)

    @property
    def llm_mode(self) -> Literal["openai", "extractive"]:
        """The composer actually used, with `auto` resolved."""
        if self.llm == "auto":
            return "openai" if self.openai_api_key else "extractive"
        return self.llm

    @property
    def embed_name(self) -> str:
        """Name of the embedding model, as recorded in the index."""
        if self.embed == "local":
            return f"local:{LOCAL_EMBED_MODEL}"
        return f"openai:{self.embed_model}"


def _listed(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())
