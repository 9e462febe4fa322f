"""One writer at a time: an inter-process lock on the data directory around every write to
the index (CLI ingest, the chat's upload, the HTTP API's ingest and delete). Questions never
take it: a reader sees the index before a write or after it."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from rag.errors import StoreError

LOCK_FILE = ".write.lock"
OWNER_FILE = ".write.owner"


@contextmanager
def writing(
    data_dir: Path, wait: bool = True, notify: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the data directory's write lock. Another writer holding it: wait for it (telling
    `notify` once), or with `wait=False` fail at once, naming it."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(data_dir / LOCK_FILE), is_singleton=True)
        lock.acquire(timeout=0)
    except Timeout:
        owner = _owner(data_dir)
        if not wait:
            raise StoreError(
                f"another ingest ({owner}) is writing to {data_dir}; try again when it ends"
            ) from None
        if notify is not None:
            notify(f"waiting for another ingest ({owner}) …")
        lock.acquire()
    except OSError as exc:
        if exc.errno in {errno.EROFS, errno.EACCES, errno.EPERM}:
            raise StoreError(
                f"the data directory {data_dir} is read-only: questions are answered, but "
                "ingest and delete need write access"
            ) from None
        raise StoreError(
            f"cannot write to the data directory {data_dir} ({exc.strerror or exc})"
        ) from None
    try:
        try:
            (data_dir / OWNER_FILE).write_text(f"pid {os.getpid()}", "utf-8")
        except OSError:
            pass  # the lock holds without the note of who holds it
        yield
    finally:
        lock.release()


def _owner(data_dir: Path) -> str:
    try:
        return (data_dir / OWNER_FILE).read_text("utf-8").strip() or "pid unknown"
    except OSError:
        return "pid unknown"
