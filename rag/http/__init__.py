"""The HTTP API: the FastAPI app (`app`, `create_app`), its request and response models,
errors, the guard that checks a request before its body is read, and `rag serve`'s server."""

from rag.http.app import create_app

__all__ = ["create_app"]
