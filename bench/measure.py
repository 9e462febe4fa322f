"""Measuring tools: child processes with their wall time and peak RSS, percentiles, sizes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """A benchmark step failed; the message is one line."""


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: its wall time, peak resident memory and output."""

    wall_s: float
    peak_rss_mb: float
    stdout: str
    result: dict[str, Any]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes: this checkout first on the import path, offline,
    no stray engine or OpenAI settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "TQDM_DISABLE": "1",  # model-loading bars would bury the progress lines
            "RAG_LLM": "extractive",
            "RAG_EMBED": "local",
            "RAG_CHROMA_URL": "",
        }
    )
    env.update(extra or {})
    return env


def run_child(
    args: Sequence[str],
    workdir: Path,
    env: dict[str, str] | None = None,
    result_file: Path | None = None,
) -> ChildRun:
    """Run `python args...` in a new process; wall time from start to exit, peak RSS from
    `wait4` (the child's own maximum). `result_file`, if given, is JSON the child writes."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_path = workdir / f".stdout-{os.getpid()}-{time.monotonic_ns()}"
    if result_file is not None and result_file.exists():
        result_file.unlink()
    with out_path.open("w+", encoding="utf-8") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=workdir, env=env or child_env(), stdout=out
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read()
    out_path.unlink()
    if proc.returncode != 0:
        raise BenchError(f"`python {' '.join(args[:4])} ...` exited with {proc.returncode}")
    result: dict[str, Any] = {}
    if result_file is not None:
        result = json.loads(result_file.read_text("utf-8"))
    return ChildRun(wall, usage.ru_maxrss / 1024, stdout, result)  # ru_maxrss: KiB on Linux


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def dir_size(path: Path, skip: tuple[str, ...] = ()) -> int:
    """Bytes of every file under `path` (apparent sizes), but for the top folders in `skip`."""
    return sum(
        f.stat().st_size
        for f in path.rglob("*")
        if f.is_file() and f.relative_to(path).parts[0] not in skip
    )


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)
