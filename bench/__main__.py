"""`python -m bench`: measure news-rag against a plain LlamaIndex pipeline.

python -m bench --sizes 100,1000,10000 --queries 200 --out bench/results --plot docs/bench.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from bench.measure import ROOT, BenchError, log

REUTERS = ROOT.parent / "shared" / "corpora" / "reuters21578"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        self.exit(2, f"error: {message}\n")


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _sizes(value: str) -> list[int]:
    sizes = [_positive(part.strip().replace("_", "")) for part in value.split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one size, e.g. 100,1000")
    return sorted(set(sizes))


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=_sizes, default=[100, 1000, 10000], help="e.g. 100,1000")
    p.add_argument("--queries", type=_positive, default=200, help="questions per size")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--cold-runs", type=_positive, default=3, help="cold asks per pipeline")
    p.add_argument("--raw-sample", type=_positive, default=500, help="chunks for raw encode")
    p.add_argument(
        "--reuters",
        type=Path,
        default=REUTERS if REUTERS.is_dir() else None,
        help="Reuters-21578's folder for the real-corpus run (default: ../shared's, if there)",
    )
    p.add_argument("--no-reuters", action="store_true", help="skip the real-corpus run")
    p.add_argument("--reuters-files", type=_positive, default=22, help="how many SGML files")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench.png")
    p.add_argument("--work", type=Path, help="keep corpora and indexes here (default: temp)")
    p.add_argument(
        "--render", type=Path, metavar="JSON", help="only redraw the table and plot from a report"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from bench.report import markdown, plot, read_json, write_json
    from bench.run import run

    if args.render:
        if not args.render.is_file():
            print(f"error: no such report: {args.render}", file=sys.stderr)
            return 2
        report = read_json(args.render)
        (args.out / "latest.md").write_text(markdown(report), "utf-8")
        plot(report, args.plot)
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="news-rag-bench-"))
    if args.work and args.work.exists() and any(args.work.iterdir()):
        print(f"error: the work folder {args.work} is not empty", file=sys.stderr)
        return 2
    try:
        reuters = None if args.no_reuters else args.reuters
        report = run(
            args.sizes, args.seed, args.queries, work, args.cold_runs, args.raw_sample,
            reuters, args.reuters_files,
        )  # fmt: skip
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    write_json(report, args.out / "latest.json")
    (args.out / "latest.md").write_text(markdown(report), "utf-8")
    plot(report, args.plot)
    log(f"wrote {args.out / 'latest.json'}, {args.out / 'latest.md'} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
