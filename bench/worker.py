"""One measured phase of one pipeline, in its own process (so RSS and import costs are real).

python -m bench.worker {ours,plain} {ingest,add,query} SPEC.json RESULT.json
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from bench import ours, plain
from bench.results import Spec

PHASES: dict[str, Any] = {
    "ours": {"ingest": ours.ingest, "add": ours.add, "query": ours.query},
    "plain": {"ingest": plain.ingest, "add": plain.add, "query": plain.query},
}


def read_spec(path: Path) -> Spec:
    data = json.loads(path.read_text("utf-8"))
    for key in ("corpus", "extra", "index", "ours_index"):
        data[key] = Path(data[key])
    data["questions"] = [tuple(q) for q in data["questions"]]
    return Spec(**data)


def write_spec(spec: Spec, path: Path) -> None:
    data = dataclasses.asdict(spec)
    path.write_text(json.dumps(data, default=str), "utf-8")


def main(argv: list[str]) -> int:
    pipeline, phase, spec_path, result_path = argv
    result = PHASES[pipeline][phase](read_spec(Path(spec_path)))
    Path(result_path).write_text(json.dumps(dataclasses.asdict(result)), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
