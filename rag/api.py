"""`from rag.api import create_app`, the import path of earlier versions: the HTTP API lives
in `rag.http` (see docs/api.md)."""

from rag.http import create_app

__all__ = ["create_app"]
