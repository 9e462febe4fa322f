"""The `rag` command: ingest, ask, chat, eval, serve. Errors are one line with exit code 2
(usage/config) or 1 (runtime); `--json` output is for scripts."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape as escape_markup

from rag.errors import ConfigError, RagError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Question answering over news articles with verified citations.",
)
# soft_wrap: long answers and error lines stay whole lines (one-line errors stay one line).
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])
# C0 and C1 control characters but newline and tab: what starts terminal escape sequences
# (colours, cursor moves, OSC-8 links) that article text must not send to a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape(text: str) -> str:
    """Text from articles, files and users, safe to print: control characters removed and
    rich markup escaped."""
    return escape_markup(_CONTROL.sub("", text))


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
        except (typer.Exit, typer.Abort, click.ClickException):
            raise
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise fail(f"{exc.strerror or exc}{where}", 1) from None
        except BaseException as exc:  # an Exception, or a panic of a native library
            if os.environ.get("RAG_DEBUG") or isinstance(exc, (SystemExit, GeneratorExit)):
                raise
            said = next((line for line in str(exc).splitlines() if line.strip()), "")
            raise fail(
                f"unexpected {type(exc).__name__}: {said[:300]} (RAG_DEBUG=1 shows where)", 1
            ) from None

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
            for passage in answer.closest():
                out.print(
                    f"  [dim]- {escape(passage.title)} ({passage.published or 'undated'})[/dim]"
                )
        return
    out.print("\n[bold]Sources[/bold]")
    for c in answer.citations:
        source = ", ".join(x for x in (c.outlet, c.published) if x)
        out.print(f"[{c.n}] {escape(c.title)}" + (f" — {escape(source)}" if source else ""))
        quote = c.quote if c.quote[:1] in "“\"'‘" else f"“{c.quote}”"
        dates = f"; dates: {', '.join(c.event_dates)}" if c.event_dates else ""
        out.print(f"    [dim]{escape(quote)} ({escape(c.doc_id)}{dates})[/dim]")
        if c.copies:
            out.print(f"    [dim]same story also in: {escape(', '.join(c.copies))}[/dim]")


@app.command()
@one_line_errors
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, folders, record dumps (.jsonl .json .csv), Reuters .sgm, feeds "
            "(.rss .atom .xml) or http(s) addresses of feeds and articles "
            "(default: RAG_CORPUS_DIR)."
        ),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Drop the index and build it anew.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    text_field: Annotated[
        str | None, typer.Option("--text-field", help="The records' text field.")
    ] = None,
    title_field: Annotated[
        str | None, typer.Option("--title-field", help="The records' headline field.")
    ] = None,
    date_field: Annotated[
        str | None, typer.Option("--date-field", help="The records' publication date field.")
    ] = None,
    outlet_field: Annotated[
        str | None, typer.Option("--outlet-field", help="The records' outlet field.")
    ] = None,
    url_field: Annotated[
        str | None, typer.Option("--url-field", help="The records' web address field.")
    ] = None,
    id_field: Annotated[
        str | None, typer.Option("--id-field", help="The records' id field.")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Replace articles whose id another file holds."),
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Fail at once if another ingest is writing the index."),
    ] = False,
) -> None:
    """Sync the index with articles: add new, re-embed changed, drop removed."""
    from rag.ingest.records import FieldNames

    fields = FieldNames().override(
        text=text_field,
        title=title_field,
        published=date_field,
        outlet=outlet_field,
        url=url_field,
        id=id_field,
    )
    engine = make_engine()
    with _progress("Ingesting", unit="articles") as update:
        report = engine.ingest(
            paths,
            rebuild=rebuild,
            progress=update,
            fields=fields,
            wait=not no_wait,
            replace=replace,
            notify=lambda message: err.print(escape(message)),
        )
    if as_json:
        print_json(report.model_dump())
        return
    show_ingest(report)


SHOWN_SKIPPED = 10


def show_ingest(report: Any) -> None:
    """What an ingest did, for people: counts, dates, duplicates, what was skipped."""
    out.print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed; {report.embedded} chunks embedded, {report.chunks} in the "
        f"index ({report.seconds:.1f} s)"
    )
    if report.read:
        dated = report.read - len(report.undated)
        origins = ", ".join(
            f"{n} from {escape(origin)}"
            for origin, n in sorted(report.date_origins.items(), key=lambda kv: -kv[1])
            if origin != "none"
        )
        out.print(
            f"dates: {dated} of {report.read} articles" + (f" ({origins})" if origins else "")
        )
        if report.undated:
            named = ", ".join(report.undated[:SHOWN_SKIPPED])
            more = len(report.undated) - SHOWN_SKIPPED
            out.print(
                f"[yellow]no date[/yellow]: {escape(named)}"
                + (f" and {more} more" if more > 0 else "")
            )
    if report.check is not None and not report.check.clean:
        out.print(f"[yellow]repaired first[/yellow]: {'; '.join(check_findings(report.check))}")
    if report.duplicates:
        copies = sum(len(group) - 1 for group in report.duplicates)
        out.print(f"duplicates: {copies} copies of {len(report.duplicates)} stories (shown once)")
    for skipped in report.skipped[:SHOWN_SKIPPED]:
        out.print(f"[yellow]skipped[/yellow] {escape(skipped.path)}: {escape(skipped.reason)}")
    if len(report.skipped) > SHOWN_SKIPPED:
        out.print(
            f"[yellow]skipped[/yellow] {len(report.skipped) - SHOWN_SKIPPED} more (see --json)"
        )


def check_findings(report: Any) -> list[str]:
    """What a check found, one phrase each."""
    did = report.repaired
    found = []
    if report.copy_rebuilt:
        found.append(
            "the lexical copy could not be read" + (", built again from Chroma" if did else "")
        )
    if report.restored:
        found.append(
            f"{len(report.restored)} chunks Chroma had lost"
            + (", written again from the lexical copy" if did else "")
        )
    if report.re_embedded:
        found.append(
            f"{len(report.re_embedded)} vectors that could not be read"
            + (", embedded again" if did else "")
        )
    if report.caught_up:
        found.append(
            f"{len(report.caught_up)} chunks the lexical copy lacked" + (", added" if did else "")
        )
    for broken in report.broken[:SHOWN_SKIPPED]:
        found.append(
            f"half-written article {escape(broken.doc_id)} ({broken.chunks} of "
            f"{broken.expected} chunks, from {escape(broken.source or 'unknown')})"
            + (", removed" if did else "")
        )
    if len(report.broken) > SHOWN_SKIPPED:
        found.append(f"{len(report.broken) - SHOWN_SKIPPED} more half-written articles")
    if report.reingested:
        n = report.reingested
        found.append(
            "1 article read again from its file"
            if n == 1
            else f"{n} articles read again from their files"
        )
    return found


@app.command()
@one_line_errors
def check(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what is wrong; change nothing.")
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Fail at once if another ingest is writing the index."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the CheckReport object as JSON.")
    ] = False,
) -> None:
    """Check the index (every chunk, vector and article) and repair what is damaged."""
    report = make_engine().check(repair=not dry_run, wait=not no_wait)
    if as_json:
        print_json(report.model_dump())
    else:
        plural = "" if report.articles == 1 else "s"
        summary = f"{report.chunks} chunks of {report.articles} article{plural}"
        if report.clean:
            out.print(f"index in order: {summary} ({report.seconds:.1f} s)")
        else:
            verb = "repaired" if report.repaired else "[red]damaged[/red]"
            out.print(f"{verb}: {'; '.join(check_findings(report))}")
            out.print(f"{summary} ({report.seconds:.1f} s)")
    if dry_run and not report.clean:
        raise typer.Exit(1)


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


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).")] = 8000,
) -> None:
    """Serve the HTTP API (docs at /docs, schema at /openapi.json) until interrupted."""
    from rag.http.app import create_app
    from rag.http.server import bind, describe, run, url

    sock = bind(host, port)  # before the model loads: a taken port fails at once
    try:
        engine = make_engine()
        settings = engine.settings
        if not _loopback(host) and settings.api_key is None:
            err.print(
                f"[yellow]warning:[/yellow] serving on {escape(host)} without RAG_API_KEY: "
                "anyone who can reach it can ask questions and list the articles (writes stay "
                "off); set RAG_API_KEY or serve on 127.0.0.1"
            )
        elif not _loopback(host) and not settings.api_read_auth:
            err.print(
                f"[yellow]warning:[/yellow] serving on {escape(host)}: questions and the "
                "article list need no key (writes do); set RAG_API_READ_AUTH=true to require "
                "RAG_API_KEY for them too"
            )
        # on loopback, answer only to this machine's names (a web page elsewhere cannot
        # reach the API through DNS rebinding)
        local = ("localhost", "127.0.0.1", "::1") if _loopback(host) else ()
        status = engine.status()
        if status.ready:
            engine.retrieve("warm-up", k=1)  # load the model and the BM25 copy now
        out.print(f"news-rag API on {url(sock)} ({escape(describe(status))})")
        sys.stdout.flush()
        run(create_app(engine, hosts=local), sock)
    finally:
        sock.close()


def _thresholds(args: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Parse `--min-<metric> X` / `--max-<metric> X` pairs left over by the option parser;
    `--min-<type>-<metric>` gates one question type (`--min-temporal-answer-accuracy 0.9`)."""
    from rag.evaluation.metrics import METRICS, threshold_key

    minima: dict[str, float] = {}
    maxima: dict[str, float] = {}
    pending = list(args)
    while pending:
        flag = pending.pop(0)
        match = re.fullmatch(r"--(min|max)-([a-z0-9-]+)(?:=(.*))?", flag)
        name = threshold_key(match.group(2).replace("-", "_")) if match else None
        if not match or name is None:
            raise typer.BadParameter(
                f"unknown option {flag}; metrics: {', '.join(METRICS)} "
                "(each also per question type: --min-temporal-answer-accuracy)"
            )
        raw = match.group(3) if match.group(3) is not None else (pending.pop(0) if pending else "")
        try:
            value = float(raw)
        except ValueError:
            raise typer.BadParameter(f"{flag} needs a number, got {raw!r}") from None
        (minima if match.group(1) == "min" else maxima)[name] = value
    return minima, maxima


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@one_line_errors
def eval(  # noqa: A001 - the command is called `eval`
    ctx: typer.Context,
    gold: Annotated[Path, typer.Option("--gold", help="Gold file (JSON lines).")] = Path(
        "eval/gold.jsonl"
    ),
    k: Annotated[int | None, typer.Option("--k", min=1, max=50)] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON report.")] = None,
    markdown_path: Annotated[
        Path | None, typer.Option("--markdown", help="Write the metrics table as Markdown.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N items.")
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="Also score a plain LlamaIndex pipeline (SentenceSplitter, top-2 vector "
            "search, our composer) on the same items, in a column beside ours.",
        ),
    ] = False,
    judge: Annotated[
        bool,
        typer.Option(
            "--judge",
            help="Also have the LLM judge correctness and faithfulness (needs OPENAI_API_KEY; "
            "skipped with a note otherwise).",
        ),
    ] = False,
) -> None:
    """Score the engine on a gold set; `--min-<metric> X` / `--max-<metric> X` gate the run
    (on our column only)."""
    from rag.evaluation import metrics as evaluate
    from rag.evaluation.judge import Judge, judge_skip_reason

    try:
        minima, maxima = _thresholds(list(ctx.args))
    except typer.BadParameter as exc:
        raise fail(str(exc), 2) from None
    items = evaluate.load_gold(gold)[:limit]
    engine = make_engine()
    judge_llm: Judge | None = None
    if judge:
        reason = judge_skip_reason(engine.settings)
        if reason:
            err.print(f"[yellow]judging skipped:[/yellow] {escape(reason)}")
        else:
            judge_llm = Judge(engine.settings)
    extra = {"judge": judge_llm.model} if judge_llm else {}
    with _progress(f"Evaluating {len(items)} items") as update:
        results = evaluate.run(engine, items, k=k, progress=update, judge=judge_llm)
    config = {"gold": str(gold), "k": k or engine.settings.top_k, "mode": engine.mode, **extra}
    report = evaluate.report(results, config)
    columns = {"news-rag": report["metrics"]}
    if baseline:
        from rag.engine import RagEngine
        from rag.evaluation.baseline import PIPELINE, TOP_K, BaselineEngine

        # An engine of its own: the same model, but none of the vectors ours has cached.
        pipeline = BaselineEngine(RagEngine(engine.settings, embedder=engine.embedder))
        pipeline.build()  # before the clock runs: index building is not answer latency
        with _progress(f"Baseline: {len(items)} items") as update:
            base = evaluate.run(pipeline, items, progress=update, judge=judge_llm)
        config = {"gold": str(gold), "k": TOP_K, "mode": engine.mode, "pipeline": PIPELINE}
        report["baseline"] = evaluate.report(base, config | extra)
        columns["baseline"] = report["baseline"]["metrics"]
    _show_eval(report)
    if judge_llm and judge_llm.failure:
        err.print(f"[yellow]judging stopped:[/yellow] {escape(judge_llm.failure)}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    if markdown_path:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(evaluate.markdown_table(columns), "utf-8")
    misses = evaluate.failed_thresholds(report, minima, maxima)
    for miss in misses:
        err.print(f"[red]threshold missed:[/red] {miss}")
    gates = len(minima) + len(maxima)
    if misses:
        err.print(f"[red]gate failed[/red]: {len(misses)} of {gates} thresholds missed")
        raise typer.Exit(1)
    if gates:
        out.print(f"[green]gate passed[/green]: all {gates} thresholds met")


@contextmanager
def _progress(description: str, unit: str = "") -> Iterator[Callable[[float, int], None]]:
    """A progress bar on a terminal, silence elsewhere; yields an update(done, total). With a
    `unit`, it shows the rate and the time left."""
    if not err.is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed or 0:,.0f} {unit}/s")

    columns: list[Any] = ["[progress.description]{task.description}", BarColumn()]
    columns += [MofNCompleteColumn(), TimeElapsedColumn()]
    if unit:
        columns += [Rate(), "left", TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _show_eval(report: dict[str, Any]) -> None:
    from rich.table import Table

    from rag.evaluation.metrics import cell

    failures = [i for i in report["items"] if not i["correct"]]
    for item in failures:
        out.print(f"[red]✗[/red] [bold]{escape(item['id'])}[/bold] {escape(item['question'])}")
        if item["error"]:
            out.print(f"    error: {escape(item['error'])}")
        elif item["answerable"]:
            out.print(f"    missing: {escape('; '.join(item['missing_facts']) or '(abstained)')}")
        out.print(f"    answer: {escape(item['answer'][:300])}")
        out.print(f"    cited: {', '.join(item['cited_docs']) or '-'}")
    title = f"rag eval: {report['n']} items ({report['config']['mode']})"
    if "judge" in report["config"]:
        title += f", judged by {report['config']['judge']}"
    if "baseline" in report:
        Console(highlight=False, width=max(out.width, 150)).print(_comparison(report, title))
        out.print(f"[dim]baseline: {escape(report['baseline']['config']['pipeline'])}[/dim]")
        return
    types = list(report["by_type"])
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("all", justify="right")
    for t in types:
        table.add_column(t, justify="right")
    for name, value in report["metrics"].items():
        table.add_row(name, cell(value), *(cell(report["by_type"][t][name]) for t in types))
    Console(highlight=False, width=max(out.width, 150)).print(table)


def _comparison(report: dict[str, Any], title: str) -> Any:
    """Our metrics beside the baseline's, with the difference (ours minus baseline)."""
    from rich.table import Table

    from rag.evaluation.metrics import cell, metric_names

    ours, base = report["metrics"], report["baseline"]["metrics"]
    table = Table(title=f"{title} vs. baseline")
    table.add_column("metric")
    for name in ("news-rag", "baseline", "difference"):
        table.add_column(name, justify="right")
    for name in metric_names([ours, base]):
        a, b = ours[name], base[name]
        difference = None if a is None or b is None else round(a - b, 4)
        shown = cell(difference) if not difference else f"{difference:+g}"
        table.add_row(name, cell(a), cell(b), shown)
    return table


def quiet_native_output() -> None:
    """Native libraries (Chroma's Rust core, onnxruntime) write panics and warnings straight
    to file descriptor 2, past Python, many lines of them before the error they end in. Send
    those to nothing, and keep Python's stderr (the one-line errors, the progress bar) where
    it was. RAG_DEBUG=1 keeps everything."""
    if os.environ.get("RAG_DEBUG"):
        return
    try:
        sys.stderr.flush()
        kept = os.dup(2)
        nothing = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nothing, 2)
        os.close(nothing)
    except OSError:
        return  # no file descriptor 2 to move: nothing to quiet
    sys.stderr = os.fdopen(kept, "w", buffering=1, encoding="utf-8", errors="backslashreplace")


def main() -> None:
    quiet_native_output()
    app()


if __name__ == "__main__":
    main()
