"""Throughput and latency of `POST /v1/ask` under concurrent clients, beside `engine.ask` in
process, in one run.

    .venv/bin/python bench/api_load.py [--requests 400] [--clients 4]

Builds the seeds' index in a temporary directory, starts `rag serve` (extractive mode) on a
free loopback port, asks every question once to warm up, then sends the requests from
`--clients` threads, cycling through the gold set's questions (those without a history).
Afterwards, with the server stopped, the same questions go through `RagEngine.ask`
single-threaded. Both sides have seen each question once (embedding caches warm).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def questions() -> list[str]:
    """The gold set's questions that stand alone (no conversation history)."""
    lines = (ROOT / "eval" / "gold.jsonl").read_text("utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return [item["question"] for item in items if not item.get("history")]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def environment(data: Path) -> dict[str, str]:
    """A `rag serve` child's environment: the benchmark's, with its own index."""
    from bench.measure import child_env

    return child_env({"RAG_DATA_DIR": str(data)})


def load(url: str, batch: list[str], clients: int) -> tuple[list[float], float]:
    """Send `batch` from `clients` threads; returns each request's latency (s) and the wall
    time of the whole batch."""
    pending = list(enumerate(batch))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def client() -> None:
        with httpx.Client(timeout=60) as session:
            while True:
                with lock:
                    if not pending:
                        return
                    _, question = pending.pop()
                started = time.perf_counter()
                response = session.post(f"{url}/v1/ask", json={"question": question})
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return latencies, wall


def report(name: str, latencies: list[float], wall: float) -> dict[str, float]:
    figures = {
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }
    print(
        f"{name:<34} {figures['requests']:>5} requests  {figures['rps']:7.1f} req/s  "
        f"p50 {figures['p50_ms']:6.1f} ms  p95 {figures['p95_ms']:6.1f} ms"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    asked = questions()
    batch = [asked[i % len(asked)] for i in range(args.requests)]

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = environment(data)
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "ingest", str(ROOT / "seeds"), "--json"],
            env=env,
            check=True,
            capture_output=True,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline().strip()
            print(line)
            url = line.split(" on ", 1)[1].split(" ", 1)[0]
            load(url, asked, 1)  # warm-up: every question once
            api_latencies, api_wall = load(url, batch, args.clients)
        finally:
            server.terminate()
            server.wait(timeout=30)

        os.environ.update(environment(data))
        from rag import RagEngine, Settings

        engine = RagEngine(Settings(_env_file=None))
        for question in asked:  # warm-up, as for the server
            engine.ask(question)
        local: list[float] = []
        started = time.perf_counter()
        for question in batch:
            begun = time.perf_counter()
            engine.ask(question)
            local.append(time.perf_counter() - begun)
        local_wall = time.perf_counter() - started

    print(f"{len(asked)} questions from eval/gold.jsonl, extractive mode, {os.cpu_count()} cores")
    api = report(f"POST /v1/ask, {args.clients} clients", api_latencies, api_wall)
    base = report("engine.ask in process, 1 thread", local, local_wall)
    print(
        f"ratio API / in-process: throughput {api['rps'] / base['rps']:.2f}x, "
        f"p50 latency {api['p50_ms'] / base['p50_ms']:.2f}x"
    )


if __name__ == "__main__":
    main()
