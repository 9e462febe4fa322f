"""The README's examples run as written: the Python API, and the HTTP API from Python, curl
and the OpenAI client."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag import RagEngine
from rag.http.app import create_app
from rag.nlp.embeddings import LocalEmbedder
from tests.api_server import KEY, serving
from tests.conftest import HEADLINE, ROOT, SEEDS, settings
from tests.test_cli import run


def test_the_python_api_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "the README shows a Python example"
    shutil.copytree(SEEDS, tmp_path / "seeds")  # the example ingests seeds/ from the cwd
    exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out
    assert "5 articles" in printed
    assert "002_65d076ec7d10a953" in printed


# -- docs/api.md, "Use it from your app": each example runs against a real server ------------
README_URL = "http://127.0.0.1:8000"


def app_section() -> str:
    return (ROOT / "docs" / "api.md").read_text("utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", app_section(), re.DOTALL)


@pytest.fixture
def api_url(seeded_copy: Path, embedder: LocalEmbedder) -> Iterator[str]:
    engine = RagEngine(settings(seeded_copy, RAG_API_KEY=KEY), embedder=embedder)
    with serving(create_app(engine)) as url:
        yield url


def test_the_mounting_example_runs(
    seeded_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code = next(b for b in blocks("python") if "app.mount" in b)
    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.setenv("RAG_DATA_DIR", str(seeded_copy))  # the seeds are indexed already
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert capsys.readouterr().out.startswith("002_65d076ec7d10a953")
    with serving(namespace["app"]) as url:
        answer = httpx.post(f"{url}/news/v1/ask", json={"question": HEADLINE}, timeout=60)
        assert answer.status_code == 200 and answer.json()["citations"]
        refused = httpx.post(f"{url}/news/v1/ingest", files={"files": ("a.txt", b"text")})
        assert refused.status_code == 403  # no RAG_API_KEY: the mounted API is read-only


def test_the_curl_examples_run(api_url: str, tmp_path: Path) -> None:
    script = next(b for b in blocks("bash") if "curl" in b)
    commands = [c.strip() for c in script.replace("\\\n", " ").splitlines() if c.strip()]
    assert len(commands) == 6
    (tmp_path / "my-article.txt").write_text(
        "Lavrov in Rovaniemi\n\nSergei Lavrov met the Finnish foreign minister in Rovaniemi "
        "to discuss the Arctic Council.\n"
    )
    (tmp_path / "notes.md").write_text(
        "---\ntitle: Notes\n---\nPompeo flew on to Brussels "
        "for talks with European ministers about Iran.\n"
    )
    outputs = []
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command.replace(README_URL, api_url)],
            cwd=tmp_path,
            env={**os.environ, "RAG_API_KEY": KEY},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    ask, stream, ingest, documents, delete, health = outputs
    assert json.loads(ask)["citations"][0]["doc_id"] == "002_65d076ec7d10a953"
    assert stream.startswith("event: delta\ndata: ") and "\nevent: answer\ndata: " in stream
    assert json.loads(ingest)["doc_ids"] == ["my-article", "notes"]
    listed = {d["doc_id"]: d["title"] for d in json.loads(documents)["documents"]}
    assert listed["my-article"] == "Lavrov in Rovaniemi" and listed["notes"] == "Notes"
    assert json.loads(delete) == {"doc_id": "my-article", "deleted": True}
    assert json.loads(health)["ready"] is True


def test_the_openai_client_example_runs(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = next(b for b in blocks("python") if "from openai import OpenAI" in b)
    exec(compile(code.replace(README_URL, api_url), "README.md", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out
    assert "[1]" in printed and "1 002_65d076ec7d10a953 " in printed
    assert re.search(r"\n \d+ citations\n$", printed)


def test_your_own_articles_shows_each_format_and_only_real_options() -> None:
    from typer.testing import CliRunner

    from rag.cli import app
    from rag.formats import SUPPORTED_SUFFIXES

    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Your own articles", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert commands, "the section shows how to ingest each format"
    shown = commands.group(1)
    for example in ("articles/", ".jsonl", ".json ", ".csv", ".sgm", ".xml", "https://"):
        assert example in shown, example
    assert {".jsonl", ".json", ".csv", ".sgm", ".xml", ".rss", ".atom"} <= SUPPORTED_SUFFIXES
    options = set(re.findall(r"--[a-z][a-z-]+", section))
    help_text = CliRunner().invoke(app, ["ingest", "--help"], env={"COLUMNS": "200"}).output
    assert options and all(option in help_text for option in options), options


def test_the_sample_output_is_what_rag_ask_prints(seeded_copy: Path) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Using it", 1)[1].split("\n## ", 1)[0]
    sample = re.search(r"prints the answer and its sources.*?```\n(.*?)```", section, re.DOTALL)
    assert sample, "the README shows what rag ask prints"
    printed = run("ask", HEADLINE, data=seeded_copy, RAG_LLM="extractive")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == sample.group(1)


def test_the_readme_is_short_and_its_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.encode()) <= 15 * 1024
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_sample_answers_about_time_are_what_rag_ask_says(seeded_copy: Path) -> None:
    page = (ROOT / "docs" / "time.md").read_text("utf-8")
    samples = re.findall(r'^\$ rag ask "([^"]+)"\n(.+?)\n(?:\n|```)', page, re.MULTILINE)
    assert len(samples) == 2, samples
    for question, said in samples:
        printed = run("ask", question, data=seeded_copy, RAG_LLM="extractive")
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout.split("\n\n", 1)[0].strip() == said, question
