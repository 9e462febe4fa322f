"""Articles uploaded through the HTTP API or the chat window, kept under
`$RAG_DATA_DIR/uploads/`: safe file names (the stem is the document id), and saving that never
leaves a refused file in place of a good one.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

_UNSAFE = re.compile(r"[^\w.-]+")
MAX_STEM = 100


def safe_name(name: str) -> str:
    """The last part of a client's file name, with anything but letters, digits, `.`, `_` and
    `-` replaced and no leading dots: it cannot leave the uploads folder or hide in it."""
    base = re.split(r"[\\/]", name)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).strip("._")[:MAX_STEM] or "upload"
    suffix = _UNSAFE.sub("", suffix).lower()
    return f"{stem}.{suffix}" if suffix else stem


@dataclass
class Incoming:
    """One uploaded file, already given its safe name."""

    name: str
    data: BinaryIO

    @classmethod
    def named(cls, client_name: str, data: BinaryIO) -> Incoming:
        """An upload under the safe form of the name the client gave it."""
        return cls(safe_name(client_name), data)

    @property
    def doc_id(self) -> str:
        return Path(self.name).stem


@dataclass
class Staged:
    """Files written for one ingest, with what they replaced, until the ingest's outcome is
    known: `keep` the ingested ones, put back what the ingest refused (or all, on failure)."""

    folder: Path
    paths: list[Path] = field(default_factory=list)
    backups: dict[Path, Path] = field(default_factory=dict)  # new file -> the copy it replaced

    def keep(self, refused: Iterable[Path]) -> list[Path]:
        """Settle the staged files; returns the ones that stay."""
        refused = set(refused)
        kept: list[Path] = []
        for path in self.paths:
            backup = self.backups.get(path)
            if path in refused:
                if backup:
                    os.replace(backup, path)  # the earlier, indexed version stays
                else:
                    path.unlink(missing_ok=True)  # a file the index refused is not kept
                continue
            if backup:
                backup.unlink(missing_ok=True)
            for other in self.folder.iterdir():  # the same id under another file type
                if other != path and other.stem == path.stem and other.is_file():
                    other.unlink(missing_ok=True)
            kept.append(path)
        return kept

    def undo(self) -> None:
        """Put the uploads folder back as it was (the ingest failed)."""
        self.keep(self.paths)


class UploadFolder:
    """The uploads folder of one server; `lock` serialises saving and ingesting uploads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()

    def holds(self, doc_id: str) -> bool:
        """Whether an article with this id was uploaded here."""
        return self.folder.is_dir() and any(
            p.stem == doc_id and p.is_file() for p in self.folder.iterdir()
        )

    def stage(self, files: list[Incoming]) -> Staged:
        """Write the files; an existing file of the same name is set aside until `keep`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        staged = Staged(self.folder)
        try:
            for upload in files:
                target = self.folder / upload.name
                partial = self.folder / f".{upload.name}.{uuid.uuid4().hex}.part"
                with partial.open("wb") as out:
                    shutil.copyfileobj(upload.data, out)
                if target.exists():
                    backup = self.folder / f".{upload.name}.{uuid.uuid4().hex}.bak"
                    os.replace(target, backup)
                    staged.backups[target] = backup
                os.replace(partial, target)
                staged.paths.append(target)
        except BaseException:
            staged.undo()
            for leftover in self.folder.glob(".*.part"):
                leftover.unlink(missing_ok=True)
            raise
        return staged

    def forget(self, doc_id: str) -> None:
        """Remove the uploaded copies of a deleted article."""
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                if path.stem == doc_id and path.is_file():
                    path.unlink(missing_ok=True)
