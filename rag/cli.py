"""The `rag` command: ingest, ask, chat. Errors are one line with exit code 2 (usage/config)
or 1 (runtime); `--json` output is for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from rag.errors import ConfigError, RagError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Question answering over news articles with verified citations.",
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def one_line_errors(command: F) -> F:
    """Turn every engine error into one line on stderr and its exit code; never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        try:
            return command(*args, **kwargs)
        except RagError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ())) or "settings"
            raise fail(f"bad setting {where}: {first.get('msg')}", 2) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]


def make_engine() -> Any:
    from rag.config import Settings
    from rag.engine import RagEngine

    return RagEngine(Settings())


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def show_answer(answer: Any) -> None:
    """The answer and its numbered sources, for people."""
    out.print(escape(answer.text))
    if answer.abstained:
        if answer.passages:
            out.print("\n[dim]Closest coverage:[/dim]")
            for passage in answer.passages[:3]:
                out.print(
                    f"  [dim]- {escape(passage.title)} ({passage.published or 'undated'})[/dim]"
                )
        return
    out.print("\n[bold]Sources[/bold]")
    for c in answer.citations:
        source = ", ".join(x for x in (c.outlet, c.published) if x)
        out.print(f"[{c.n}] {escape(c.title)}" + (f" — {escape(source)}" if source else ""))
        out.print(f"    [dim]“{escape(c.quote)}” ({c.doc_id})[/dim]")


@app.command()
@one_line_errors
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: RAG_CORPUS_DIR).")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Drop the index and build it anew.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Sync the index with files and folders: add new, re-embed changed, drop removed."""
    engine = make_engine()
    if err.is_terminal and not as_json:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("Embedding chunks", total=None)
            report = engine.ingest(
                paths,
                rebuild=rebuild,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    else:
        report = engine.ingest(paths, rebuild=rebuild)
    if as_json:
        print_json(report.model_dump())
        return
    out.print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed; {report.embedded} chunks embedded, {report.chunks} in the "
        f"index ({report.seconds:.1f} s)"
    )
    for skipped in report.skipped:
        out.print(f"[yellow]skipped[/yellow] {escape(skipped.path)}: {escape(skipped.reason)}")


@app.command()
@one_line_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    k: Annotated[
        int | None, typer.Option("--k", min=1, max=50, help="Passages to use (default RAG_TOP_K).")
    ] = None,
    after: Annotated[
        str | None,
        typer.Option("--after", help="Only articles published on/after DATE (YYYY-MM-DD)."),
    ] = None,
    before: Annotated[
        str | None, typer.Option("--before", help="Only articles published on/before DATE.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the Answer object as JSON.")
    ] = False,
) -> None:
    """Answer one question with numbered, quoted sources."""
    answer = make_engine().ask(question, k=k, after=after, before=before)
    if as_json:
        print_json(answer.to_dict())
    else:
        show_answer(answer)


@app.command()
@one_line_errors
def chat(
    k: Annotated[int | None, typer.Option("--k", min=1, max=50)] = None,
) -> None:
    """Interactive chat with follow-up questions (/new starts over, /quit or Ctrl-D leaves)."""
    engine = make_engine()
    out.print(f"[bold]news-rag[/bold] chat ({engine.mode}). Ask about the articles; /new, /quit.")
    history: list[dict[str, str]] = []
    while True:
        try:
            line = out.input("[bold cyan]you>[/bold cyan] ").strip()
        except EOFError:
            out.print()
            return
        if line in {"/quit", "/exit"}:
            return
        if line == "/new":
            history = []
            out.print("[dim]New conversation.[/dim]")
            continue
        if not line:
            continue
        history.append({"role": "user", "content": line})
        try:
            answer = engine.chat(history, k=k)
        except ConfigError:
            raise
        except RagError as exc:
            history.pop()
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            continue
        show_answer(answer)
        history.append({"role": "assistant", "content": answer.text})


def main() -> None:
    app()


if __name__ == "__main__":
    main()
