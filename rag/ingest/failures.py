"""Why a storage call failed, told in one line: the disk, the data directory's permissions, the
Chroma server and damaged files are each looked at, so that the line names the cause and the
fix instead of Chroma's own message (a chromadb traceback, an httpx error, a Rust panic)."""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import StoreError

# Writing this much must be possible for a failed write not to be put down to a full disk:
# Chroma grows its files by several megabytes at a time.
_DISK_PROBE_BYTES = 8 * 1_048_576


def writable(data_dir: Path) -> bool:
    """Whether files can be created in `data_dir` (made if missing)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".write-test-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError:
        return False
    return True


def _disk_full(data_dir: Path) -> bool:
    """Whether the disk holding `data_dir` cannot take a few more megabytes."""
    probe = data_dir / f".space-test-{uuid.uuid4().hex}"
    try:
        with open(probe, "wb") as handle:
            handle.write(bytes(_DISK_PROBE_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        return exc.errno in {errno.ENOSPC, errno.EDQUOT}
    finally:
        probe.unlink(missing_ok=True)
    return False


def failure(exc: BaseException, action: str, data_dir: Path | None, url: str | None) -> StoreError:
    """The one line a user reads when Chroma fails while doing `action`: the cause found by
    looking at the disk or the server, and what to do."""
    said = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    detail = f"{type(exc).__name__}: {said}"[:300]
    if url:
        try:
            import httpx

            httpx.get(url.rstrip("/") + "/api/v2/heartbeat", timeout=5).raise_for_status()
        except Exception:  # noqa: BLE001 - any failure means the server is not answering
            return StoreError(
                f"the Chroma server at {url} stopped answering while {action}: start it "
                "again, then run `rag check`"
            )
        return StoreError(f"the Chroma server at {url} failed while {action} ({detail})")
    if data_dir is not None:
        no_space = isinstance(exc, OSError) and exc.errno in {errno.ENOSPC, errno.EDQUOT}
        can_write = writable(data_dir)
        if no_space or (can_write and _disk_full(data_dir)):
            return StoreError(
                f"the disk holding {data_dir} is full ({_free(data_dir)} free) while "
                f"{action}: free some space, then run `rag check`"
            )
        if not can_write:
            return StoreError(
                f"the data directory {data_dir} is no longer writable while {action}: give "
                "write access back, then run `rag check`"
            )
    if data_dir is not None and _DAMAGED.search(said):
        return StoreError(
            f"the index in {data_dir / 'chroma'} is damaged ({said[:200]}): run `rag ingest "
            "--rebuild` to build it again"
        )
    return StoreError(
        f"the index failed while {action} ({detail}): run `rag check` to repair it, or "
        "`rag ingest --rebuild` to build it again"
    )


# What sqlite and Chroma say of files they cannot read as a database or an index.
_DAMAGED = re.compile(r"malformed|not a database|corrupt|checksum|invalid (?:page|header)", re.I)


@contextmanager
def failing(action: str, data_dir: Path | None, url: str | None) -> Iterator[None]:
    """Any failure of Chroma inside as one `StoreError` line (`failure`): its own errors,
    sqlite's, httpx's, the OS's, and the panics of its Rust core (which pyo3 raises as a
    BaseException). Ctrl-C and exits pass through."""
    try:
        yield
    except StoreError:
        raise
    except BaseException as exc:
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise failure(exc, action, data_dir, url) from None


def _free(data_dir: Path) -> str:
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError:
        return "no space"
    return f"{free / 1_048_576:.1f} MB"
