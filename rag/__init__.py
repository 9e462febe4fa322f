"""news-rag: question answering over news articles with verified citations."""

from rag.config import Settings
from rag.engine import AnswerStream, RagEngine
from rag.errors import (
    ConfigError,
    EmptyIndexError,
    IndexMismatchError,
    InputError,
    LLMError,
    RagError,
    StoreError,
)
from rag.ingest.uploads import Incoming, UploadFolder
from rag.types import (
    Answer,
    Citation,
    DocumentInfo,
    IndexStatus,
    IngestReport,
    Passage,
    SkippedFile,
)

__all__ = [
    "Answer",
    "AnswerStream",
    "Citation",
    "ConfigError",
    "DocumentInfo",
    "EmptyIndexError",
    "IndexMismatchError",
    "Incoming",
    "IndexStatus",
    "IngestReport",
    "InputError",
    "LLMError",
    "Passage",
    "RagEngine",
    "RagError",
    "Settings",
    "SkippedFile",
    "StoreError",
    "UploadFolder",
]
